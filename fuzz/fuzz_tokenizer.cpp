// libFuzzer target for the tokenizer (tokenizer/): tokenizer.json bytes, a NUL, then text (a
// second NUL splits the text into a pair). Loads the tokenizer, encodes the text (single and
// pair, with and without special tokens, truncated into windows), decodes the ids back. Every
// failure must be a TokenizerError: anything else (a crash, a leak, another exception, an id
// that is no vocabulary token) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  const std::string json(in.substr(0, nul));
  std::string text =
      nul == std::string_view::npos ? "Hello world" : std::string(in.substr(nul + 1));
  std::string pair;
  if (size_t second = text.find('\0'); second != std::string::npos) {
    pair = text.substr(second + 1);
    text.resize(second);
  }
  try {
    vkcls::Tokenizer tok = vkcls::Tokenizer::from_json(json);
    for (bool specials : {true, false}) {
      vkcls::Encoding e = tok.encode(text, specials);
      // without specials every id comes from the vocabulary (with them, the post-processor's
      // template may name ids of its own, as in Hugging Face's tokenizers)
      if (!specials)
        for (int32_t id : e.ids)
          if (!tok.id_to_token(id)) std::abort();
      (void)tok.decode(e.ids, !specials);
      if (!pair.empty()) (void)tok.encode_pair(text, pair, specials);
    }
    vkcls::TruncationParams p;
    p.max_length = 8;
    p.stride = 2;
    (void)tok.encode(text, true, &p);
  } catch (const vkcls::TokenizerError&) {
  }
  return 0;
}
