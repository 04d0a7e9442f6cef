// UTF-8 and Unicode character classes as the Rust `tokenizers` crate sees
// them (Rust char methods, unicode_categories), backed by utf8proc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vkcls::tok {

// Number of bytes of the UTF-8 sequence starting with lead byte `b` (1 for
// continuation/invalid bytes so that loops always advance).
inline size_t utf8_seq_len(unsigned char b) {
  if (b < 0x80) return 1;
  if ((b >> 5) == 0x6) return 2;
  if ((b >> 4) == 0xE) return 3;
  if ((b >> 3) == 0x1E) return 4;
  return 1;
}

// Decodes the code point at s[i] (s must be valid UTF-8) and advances i.
inline char32_t utf8_next(std::string_view s, size_t& i) {
  unsigned char b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) {
    ++i;
    return b;
  }
  size_t n = utf8_seq_len(b);
  char32_t c = b & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += n;
  return c;
}

inline size_t utf8_len(char32_t c) { return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }

inline void utf8_append(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

// Returns the byte index of the first invalid sequence, or npos when `s` is
// valid UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
size_t utf8_find_invalid(std::string_view s);
// Replaces invalid sequences with U+FFFD, as String::from_utf8_lossy does.
std::string utf8_lossy(std::string_view bytes);
size_t utf8_count(std::string_view s);

// Character classes exactly as the Rust tokenizers crate sees them. The
// category-based ones come from tables generated out of the Python library
// (unicode_tables.inc, see tests/tokenizer/gen_unicode_tables.py), because
// its `unicode_categories` tables predate the Unicode version of utf8proc.
bool is_whitespace(char32_t c);       // char::is_whitespace (White_Space)
bool is_numeric(char32_t c);          // char::is_numeric, as Digits uses it
bool is_punctuation(char32_t c);      // unicode_categories is_punctuation (P*)
bool is_other(char32_t c);            // unicode_categories is_other: Cc Cf Co, not Cn
bool is_mark_nonspacing(char32_t c);  // Mn, as BertNormalizer's strip_accents removes them
bool is_mark(char32_t c);             // M*, as the StripAccents normalizer removes them
bool is_alphabetic(char32_t c);       // letters (L*, Nl) and spacing marks, from utf8proc
bool is_word(char32_t c);             // Rust regex `\w` (Alphabetic, M, Nd, Pc, Join_Control)
inline bool is_ascii_punctuation(char32_t c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
         (c >= 0x7B && c <= 0x7E);
}

// Rust char::to_lowercase (full mapping: U+0130 becomes two code points).
// Writes up to 3 code points into out; returns how many.
int to_lowercase(char32_t c, char32_t out[3]);

// Canonical combining class.
int combining_class(char32_t c);
// Full (recursive) decomposition of one code point, canonical or compatibility.
// Returns the number of code points written (buf holds at least 32).
int decompose_char(char32_t c, bool compat, char32_t* buf);
// Canonical composition of a pair, or 0 when they do not compose.
char32_t compose_pair(char32_t a, char32_t b);

// Extended grapheme cluster boundary iterator state (utf8proc, UAX #29).
struct GraphemeBreaker {
  int32_t state = 0;
  bool first = true;
  char32_t prev = 0;
  // True when a cluster boundary lies before `c`.
  bool boundary_before(char32_t c);
};

}  // namespace vkcls::tok
