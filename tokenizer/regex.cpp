#include "tokenizer/regex.h"

#include <oniguruma.h>

#include <mutex>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace vkcls::tok {

static void onig_init_once() {
  // onig_initialize registers encodings in global tables: do it exactly once.
  static std::once_flag flag;
  std::call_once(flag, [] {
    OnigEncoding enc = ONIG_ENCODING_UTF8;
    onig_initialize(&enc, 1);
  });
}

Regex::Regex(const std::string& pattern, const std::string& what) {
  onig_init_once();
  OnigRegex re = nullptr;
  OnigErrorInfo einfo;
  auto* p = reinterpret_cast<const OnigUChar*>(pattern.data());
  int r = onig_new(&re, p, p + pattern.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                   ONIG_SYNTAX_DEFAULT, &einfo);
  if (r != ONIG_NORMAL) {
    OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
    onig_error_code_to_str(msg, r, &einfo);
    throw TokenizerError(what + ": bad regex '" + pattern + "': " + reinterpret_cast<char*>(msg));
  }
  re_ = re;
}

Regex::~Regex() {
  if (re_) onig_free(static_cast<OnigRegex>(re_));
}

void Regex::find_all(std::string_view text, std::vector<Span>& out) const {
  auto re = static_cast<OnigRegex>(re_);
  auto* str = reinterpret_cast<const OnigUChar*>(text.data());
  const OnigUChar* end = str + text.size();
  // A region per call keeps concurrent searches on one regex independent.
  OnigRegion* region = onig_region_new();
  size_t pos = 0;
  bool have_last = false;
  size_t last_match_end = 0;
  while (pos <= text.size()) {
    int r = onig_search(re, str, end, str + pos, end, region, ONIG_OPTION_NONE);
    if (r < 0) break;  // ONIG_MISMATCH (or an error: treated as no more matches)
    size_t s = static_cast<size_t>(region->beg[0]);
    size_t e = static_cast<size_t>(region->end[0]);
    if (s == e && have_last && last_match_end == e) {
      // Empty match right after the previous one: step one character.
      if (pos >= text.size()) break;
      pos += utf8_seq_len(static_cast<unsigned char>(text[pos]));
      continue;
    }
    out.push_back({static_cast<uint32_t>(s), static_cast<uint32_t>(e)});
    have_last = true;
    last_match_end = e;
    // Restart at the match end; after an empty match that is the same place,
    // and the rule above then advances one character.
    pos = e;
  }
  onig_region_free(region, 1);
}

std::string Regex::escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '\\': case '.': case '+': case '*': case '?': case '(': case ')': case '|':
      case '[': case ']': case '{': case '}': case '^': case '$': case '#': case '-':
        out.push_back('\\');
        [[fallthrough]];
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace vkcls::tok
