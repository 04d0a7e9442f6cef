#include "templates/unicode.h"

#include <algorithm>
#include <iterator>

namespace vkcls::templates::detail {
namespace {

struct CaseEntry {
  char32_t cp;
  const char* upper;  // UTF-8 of str.upper(c), nullptr when unchanged
  const char* lower;
  const char* title;
  int cased;
};

#include "templates/unicode_case.inc"

const CaseEntry* find_case(char32_t c) {
  auto it = std::lower_bound(std::begin(kCaseTable), std::end(kCaseTable), c,
                             [](const CaseEntry& e, char32_t v) { return e.cp < v; });
  if (it == std::end(kCaseTable) || it->cp != c) return nullptr;
  return &*it;
}

size_t seq_len(unsigned char b) {
  if (b < 0x80) return 1;
  if ((b >> 5) == 0x6) return 2;
  if ((b >> 4) == 0xE) return 3;
  if ((b >> 3) == 0x1E) return 4;
  return 0;  // continuation or invalid lead byte
}

// Length of the valid sequence at s[i], or 0 when it is not valid UTF-8.
size_t valid_seq(std::string_view s, size_t i) {
  unsigned char b = static_cast<unsigned char>(s[i]);
  size_t n = seq_len(b);
  if (n == 0 || i + n > s.size()) return 0;
  char32_t c = n == 1 ? b : (b & (0x7F >> n));
  for (size_t k = 1; k < n; ++k) {
    unsigned char cb = static_cast<unsigned char>(s[i + k]);
    if ((cb & 0xC0) != 0x80) return 0;
    c = (c << 6) | (cb & 0x3F);
  }
  static const char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (c < kMin[n] || c > 0x10FFFF || (c >= 0xD800 && c < 0xE000)) return 0;
  return n;
}

enum class Mapping { Upper, Lower, Title };

void append_mapped(std::string& out, char32_t c, Mapping m) {
  const CaseEntry* e = find_case(c);
  const char* s = nullptr;
  if (e) s = m == Mapping::Upper ? e->upper : m == Mapping::Lower ? e->lower : e->title;
  if (s) {
    out += s;
  } else {
    utf8_append(out, c);
  }
}

bool in_chars(char32_t c, const std::string& chars) {
  size_t i = 0;
  while (i < chars.size()) {
    if (utf8_next(chars, i) == c) return true;
  }
  return false;
}

}  // namespace

char32_t utf8_next(std::string_view s, size_t& i) {
  size_t n = valid_seq(s, i);
  unsigned char b = static_cast<unsigned char>(s[i]);
  if (n <= 1) {
    ++i;
    return b;
  }
  char32_t c = b & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += n;
  return c;
}

void utf8_append(std::string& out, char32_t c) {
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

size_t utf8_count(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    utf8_next(s, i);
    ++n;
  }
  return n;
}

std::vector<size_t> utf8_offsets(std::string_view s) {
  std::vector<size_t> offsets;
  offsets.reserve(s.size() + 1);
  for (size_t i = 0; i < s.size();) {
    offsets.push_back(i);
    utf8_next(s, i);
  }
  offsets.push_back(s.size());
  return offsets;
}

bool utf8_valid(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = valid_seq(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string utf8_sanitize(std::string_view s) {
  if (utf8_valid(s)) return std::string(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = valid_seq(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

bool py_isspace(char32_t c) {
  return std::binary_search(std::begin(kSpaceTable), std::end(kSpaceTable), c);
}

bool py_iscased(char32_t c) {
  const CaseEntry* e = find_case(c);
  return e && e->cased;
}

bool py_isupper_char(char32_t c) {
  const CaseEntry* e = find_case(c);
  // Upper-case characters are cased and have a lower-case mapping or no upper one.
  return e && e->cased && e->upper == nullptr && e->lower != nullptr;
}

bool py_islower_char(char32_t c) {
  const CaseEntry* e = find_case(c);
  return e && e->cased && e->lower == nullptr;
}

void append_upper(std::string& out, char32_t c) {
  append_mapped(out, c, Mapping::Upper);
}
void append_lower(std::string& out, char32_t c) {
  append_mapped(out, c, Mapping::Lower);
}

std::string py_upper(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) append_mapped(out, utf8_next(s, i), Mapping::Upper);
  return out;
}

std::string py_lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  char32_t prev = 0;
  for (size_t i = 0; i < s.size();) {
    char32_t c = utf8_next(s, i);
    if (c == 0x3A3) {
      // Final sigma: after a cased letter and not before one becomes U+03C2.
      size_t j = i;
      bool next_cased = j < s.size() && py_iscased(utf8_next(s, j));
      if (prev != 0 && py_iscased(prev) && !next_cased) {
        out += "\xCF\x82";
        prev = c;
        continue;
      }
    }
    append_mapped(out, c, Mapping::Lower);
    prev = c;
  }
  return out;
}

std::string py_title(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool previous_cased = false;
  for (size_t i = 0; i < s.size();) {
    char32_t c = utf8_next(s, i);
    append_mapped(out, c, previous_cased ? Mapping::Lower : Mapping::Title);
    previous_cased = py_iscased(c);
  }
  return out;
}

std::string py_capitalize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  if (i < s.size()) append_mapped(out, utf8_next(s, i), Mapping::Title);
  out += py_lower(s.substr(i));
  return out;
}

std::string py_swapcase(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    char32_t c = utf8_next(s, i);
    if (py_isupper_char(c)) {
      append_mapped(out, c, Mapping::Lower);
    } else if (py_islower_char(c)) {
      append_mapped(out, c, Mapping::Upper);
    } else {
      utf8_append(out, c);
    }
  }
  return out;
}

std::string_view py_strip(std::string_view s, const std::string* chars, bool left, bool right) {
  auto strippable = [&](char32_t c) { return chars ? in_chars(c, *chars) : py_isspace(c); };
  size_t begin = 0, end = s.size();
  if (left) {
    while (begin < end) {
      size_t j = begin;
      if (!strippable(utf8_next(s, j))) break;
      begin = j;
    }
  }
  if (right) {
    while (end > begin) {
      size_t start = end - 1;
      while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 &&
             end - start < 4)
        --start;
      size_t j = start;
      char32_t c = utf8_next(s, j);
      if (j != end) {  // not a whole code point: treat the last byte alone
        start = end - 1;
        j = start;
        c = utf8_next(s, j);
      }
      if (!strippable(c)) break;
      end = start;
    }
  }
  return s.substr(begin, end - begin);
}

std::vector<std::string> py_split(std::string_view s, const std::string* sep, long maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    size_t pos = 0;
    while (maxsplit < 0 || static_cast<long>(out.size()) < maxsplit) {
      size_t hit = s.find(*sep, pos);
      if (hit == std::string_view::npos) break;
      out.emplace_back(s.substr(pos, hit - pos));
      pos = hit + sep->size();
    }
    out.emplace_back(s.substr(pos));
    return out;
  }
  size_t i = 0;
  while (i < s.size()) {
    // Skip whitespace, then take one word.
    size_t j = i;
    while (j < s.size()) {
      size_t k = j;
      if (!py_isspace(utf8_next(s, k))) break;
      j = k;
    }
    i = j;
    if (i >= s.size()) break;
    if (maxsplit >= 0 && static_cast<long>(out.size()) >= maxsplit) {
      out.emplace_back(s.substr(i));
      return out;
    }
    size_t start = i;
    while (i < s.size()) {
      size_t k = i;
      if (py_isspace(utf8_next(s, k))) break;
      i = k;
    }
    out.emplace_back(s.substr(start, i - start));
  }
  return out;
}

std::vector<std::string> py_rsplit(std::string_view s, const std::string* sep, long maxsplit) {
  if (maxsplit < 0) return py_split(s, sep, maxsplit);
  std::vector<std::string> out;
  if (sep) {
    size_t end = s.size();
    while (static_cast<long>(out.size()) < maxsplit && end >= sep->size()) {
      size_t hit = s.rfind(*sep, end - sep->size());
      if (hit == std::string_view::npos) break;
      out.emplace_back(s.substr(hit + sep->size(), end - hit - sep->size()));
      end = hit;
    }
    out.emplace_back(s.substr(0, end));
    std::reverse(out.begin(), out.end());
    return out;
  }
  // Whitespace rsplit: split all words, then re-join the leading ones.
  std::vector<size_t> starts, ends;
  size_t i = 0;
  while (i < s.size()) {
    size_t k = i;
    if (py_isspace(utf8_next(s, k))) {
      i = k;
      continue;
    }
    starts.push_back(i);
    while (i < s.size()) {
      size_t m = i;
      if (py_isspace(utf8_next(s, m))) break;
      i = m;
    }
    ends.push_back(i);
  }
  size_t n = starts.size();
  if (n == 0) return out;
  size_t keep = std::min<size_t>(n, static_cast<size_t>(maxsplit));
  size_t first = n - keep;  // words [first, n) stay separate
  if (first > 0) out.emplace_back(s.substr(0, ends[first - 1]));
  for (size_t w = first; w < n; ++w) out.emplace_back(s.substr(starts[w], ends[w] - starts[w]));
  return out;
}

std::vector<std::string> py_splitlines(std::string_view s, bool keepends) {
  std::vector<std::string> out;
  size_t start = 0, i = 0;
  while (i < s.size()) {
    size_t line_end = i;
    char32_t c = utf8_next(s, i);
    bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D ||
               c == 0x1E || c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!brk) continue;
    if (c == '\r' && i < s.size() && s[i] == '\n') ++i;
    out.emplace_back(s.substr(start, (keepends ? i : line_end) - start));
    start = i;
  }
  if (start < s.size()) out.emplace_back(s.substr(start));
  return out;
}

}  // namespace vkcls::templates::detail
