// vkcls: classify, tag and score text with Hugging Face models on any Vulkan GPU.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "tools/commands.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* help;
};

const Command kCommands[] = {
    {"info", vkcls::cli::cmd_info, "list Vulkan devices, the one vkcls picks and its features"},
#ifdef VKCLS_HAVE_ENGINE
    {"classify", vkcls::cli::cmd_classify, "classify texts (sequence classification), JSON lines out"},
    {"token-classify", vkcls::cli::cmd_token_classify, "tag tokens and entity spans (NER), as the HF pipeline"},
    {"ner", vkcls::cli::cmd_token_classify, "alias of token-classify"},
    {"score", vkcls::cli::cmd_score, "score (query, document) pairs with a cross-encoder; rerank"},
    {"rerank", vkcls::cli::cmd_score, "alias of score"},
    {"embed", vkcls::cli::cmd_embed, "sentence embeddings"},
    {"bench", vkcls::cli::cmd_bench, "throughput, latency percentiles and memory over a synthetic workload"},
#endif
#ifdef VKCLS_HAVE_SERVE
    {"serve", vkcls::cli::cmd_serve, "HTTP server with vLLM's pooling API (/classify, /score, /rerank, /pooling, /v1/embeddings)"},
#endif
#ifdef VKCLS_HAVE_TOKENIZE
    {"tokenize", vkcls::cli::cmd_tokenize, "tokenize JSON lines with a tokenizer.json"},
#endif
    //DEMO {"demo", vkcls::cli::cmd_demo, "run a small transformer layer on the device and check it against the CPU"},
};

void usage(FILE* out) {
  std::fprintf(out, "usage: vkcls <command> [options]   (vkcls <command> --help for its options)\n\ncommands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-12s %s\n", c.name, c.help);
  std::fprintf(out,
               "\nenvironment:\n"
               "  VKCLS_DEVICE=N        use device N (see `vkcls info`)\n"
               "  VKCLS_VALIDATION=1    enable the Khronos validation layer (sync: also hazard checks)\n"
               "  VKCLS_PROFILE=1       print per-dispatch GPU times\n"
               "  VKCLS_CACHE_DIR=DIR   pipeline cache location (default ~/.cache/vkcls)\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("vkcls %s\n", VKCLS_VERSION);
    return 0;
  }
  for (const Command& c : kCommands) {
    if (std::strcmp(argv[1], c.name) != 0) continue;
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "vkcls %s: error: %s\n", c.name, e.what());
      return 2;
    }
  }
  std::fprintf(stderr, "vkcls: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
