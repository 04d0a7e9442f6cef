// Build-time tool: embed_spirv IN.spv OUT.cpp NAME
// Writes OUT.cpp holding the SPIR-V words of IN.spv as `vkcls::spirv::NAME`,
// so the library carries its shaders and reads no files at run time.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: embed_spirv IN.spv OUT.cpp NAME\n");
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), {});
  if (!in.good() && !in.eof()) return 1;
  if (bytes.empty() || bytes.size() % 4 != 0) {
    std::fprintf(stderr, "embed_spirv: %s is not SPIR-V (size %zu)\n", argv[1], bytes.size());
    return 1;
  }
  FILE* out = std::fopen(argv[2], "w");
  if (!out) return 1;
  std::fprintf(out, "// Generated from %s: do not edit.\n#include <cstddef>\n#include <cstdint>\n", argv[1]);
  std::fprintf(out, "namespace vkcls::spirv {\nextern const uint32_t %s[];\nconst uint32_t %s[] = {", argv[3], argv[3]);
  for (size_t i = 0; i < bytes.size(); i += 4) {
    uint32_t w = bytes[i] | bytes[i + 1] << 8 | bytes[i + 2] << 16 | uint32_t(bytes[i + 3]) << 24;
    std::fprintf(out, "%s0x%08xu,", (i / 4) % 8 == 0 ? "\n" : "", w);
  }
  std::fprintf(out, "\n};\nextern const size_t %s_words;\nconst size_t %s_words = %zu;\n}  // namespace vkcls::spirv\n",
               argv[3], argv[3], bytes.size() / 4);
  return std::fclose(out) == 0 ? 0 : 1;
}
