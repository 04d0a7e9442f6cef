// Oniguruma regex, compiled once at load and shared by all threads: the engine
// Hugging Face tokenizers uses (onig crate, default syntax, UTF-8).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vkcls::tok {

struct Span {
  uint32_t start, end;
};

class Regex {
 public:
  // Throws TokenizerError("<what>: bad regex ...") when the pattern does not compile.
  Regex(const std::string& pattern, const std::string& what);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // All matches, leftmost first, as the onig crate's find_iter yields them:
  // an empty match right after the previous match is skipped.
  void find_all(std::string_view text, std::vector<Span>& out) const;
  // Escapes regex metacharacters so that `s` matches literally.
  static std::string escape(std::string_view s);

 private:
  void* re_ = nullptr;  // OnigRegex
};

}  // namespace vkcls::tok
