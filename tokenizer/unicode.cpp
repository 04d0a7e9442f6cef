#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <algorithm>

namespace vkcls::tok {

namespace {
struct CpRange {
  char32_t lo, hi;
};
struct LowerException {
  char32_t cp;
  char32_t to[3];
  int n;
};
#include "tokenizer/unicode_tables.inc"

template <size_t N>
bool in_table(const CpRange (&t)[N], char32_t c) {
  auto it = std::upper_bound(std::begin(t), std::end(t), c,
                             [](char32_t v, const CpRange& r) { return v < r.lo; });
  return it != std::begin(t) && c <= (it - 1)->hi;
}
}  // namespace

size_t utf8_find_invalid(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    char32_t min;
    if ((b >> 5) == 0x6) {
      len = 2, min = 0x80;
    } else if ((b >> 4) == 0xE) {
      len = 3, min = 0x800;
    } else if ((b >> 3) == 0x1E) {
      len = 4, min = 0x10000;
    } else {
      return i;
    }
    if (i + len > n) return i;
    char32_t c = b & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      unsigned char cb = static_cast<unsigned char>(s[i + k]);
      if ((cb & 0xC0) != 0x80) return i;
      c = (c << 6) | (cb & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    size_t bad = utf8_find_invalid(bytes.substr(i));
    if (bad == std::string_view::npos) {
      out.append(bytes.substr(i));
      break;
    }
    out.append(bytes.substr(i, bad));
    i += bad;
    // Skip the maximal prefix of a valid sequence (WHATWG / Rust semantics):
    // one U+FFFD per maximal invalid subpart.
    unsigned char b = static_cast<unsigned char>(bytes[i]);
    size_t len = utf8_seq_len(b);
    size_t k = 1;
    if (len > 1) {
      unsigned char lo = 0x80, hi = 0xBF;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
      if (b >= 0xF5 || b == 0xC0 || b == 0xC1) len = 1;
      while (k < len && i + k < bytes.size()) {
        unsigned char cb = static_cast<unsigned char>(bytes[i + k]);
        if (cb < lo || cb > hi) break;
        lo = 0x80, hi = 0xBF;
        ++k;
      }
    }
    out.append("\xEF\xBF\xBD");
    i += k;
  }
  return out;
}

size_t utf8_count(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool is_whitespace(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  return in_table(kWhitespace, c);
}

static utf8proc_category_t category(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

bool is_alphabetic(char32_t c) {
  if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
  switch (category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_NL:
      return true;
    default:
      // Other_Alphabetic is mostly combining marks (Mn/Mc) of scripts; utf8proc
      // does not expose the property, Mc marks are the closest approximation.
      return category(c) == UTF8PROC_CATEGORY_MC;
  }
}

bool is_numeric(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  return in_table(kNumeric, c);
}

bool is_word(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '_';
  return in_table(kWord, c);
}

bool is_punctuation(char32_t c) { return in_table(kPunctuation, c); }

bool is_other(char32_t c) { return in_table(kOther, c); }

bool is_mark(char32_t c) { return c >= 0x300 && in_table(kMark, c); }
bool is_mark_nonspacing(char32_t c) { return c >= 0x300 && in_table(kMarkNonspacing, c); }

int to_lowercase(char32_t c, char32_t out[3]) {
  if (c < 0x80) {
    out[0] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
    return 1;
  }
  // The only unconditional multi-code-point lowercase mapping in SpecialCasing.txt.
  if (c == 0x130) {
    out[0] = 'i';
    out[1] = 0x307;
    return 2;
  }
  // Code points where Rust's (newer) Unicode lowercase differs from utf8proc's.
  auto it = std::lower_bound(std::begin(kLowerExceptions), std::end(kLowerExceptions), c,
                             [](const LowerException& e, char32_t v) { return e.cp < v; });
  if (it != std::end(kLowerExceptions) && it->cp == c && it->n > 0) {
    for (int k = 0; k < it->n; ++k) out[k] = it->to[k];
    return it->n;
  }
  out[0] = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
  return 1;
}

int combining_class(char32_t c) {
  if (c < 0x300) return 0;
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class;
}

int decompose_char(char32_t c, bool compat, char32_t* buf) {
  if (c < 0xA0) {
    buf[0] = c;
    return 1;
  }
  utf8proc_int32_t tmp[32];
  int last_boundclass = 0;
  auto opts = static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0));
  utf8proc_ssize_t n =
      utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), tmp, 32, opts, &last_boundclass);
  if (n <= 0 || n > 32) {
    buf[0] = c;
    return 1;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) buf[i] = static_cast<char32_t>(tmp[i]);
  return static_cast<int>(n);
}

char32_t compose_pair(char32_t a, char32_t b) {
  // Hangul syllables are composed arithmetically (Unicode 3.12).
  constexpr char32_t SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
  constexpr char32_t LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount;
  if (a >= LBase && a < LBase + LCount && b >= VBase && b < VBase + VCount)
    return SBase + ((a - LBase) * VCount + (b - VBase)) * TCount;
  if (a >= SBase && a < SBase + LCount * NCount && (a - SBase) % TCount == 0 && b > TBase &&
      b < TBase + TCount)
    return a + (b - TBase);
  if (a < 0x3C || b < 0x300) {
    // Only a few pairs of starters compose; none involve ASCII first.
    if (a < 0x80 && b < 0x80) return 0;
  }
  utf8proc_int32_t buf[2] = {static_cast<utf8proc_int32_t>(a), static_cast<utf8proc_int32_t>(b)};
  // utf8proc_normalize_utf32 composes in place; a single code point left means
  // the pair has a primary composite.
  utf8proc_ssize_t n = utf8proc_normalize_utf32(buf, 2, UTF8PROC_COMPOSE);
  if (n == 1) return static_cast<char32_t>(buf[0]);
  return 0;
}

bool GraphemeBreaker::boundary_before(char32_t c) {
  if (first) {
    first = false;
    prev = c;
    return true;
  }
  bool brk = utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(prev),
                                              static_cast<utf8proc_int32_t>(c), &state);
  prev = c;
  return brk;
}

}  // namespace vkcls::tok
