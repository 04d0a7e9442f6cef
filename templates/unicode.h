// UTF-8 and Python's str semantics for the template renderer: strings are
// UTF-8 bytes, but lengths, indices and slices count code points, and the
// case mappings / whitespace set are Python's (tables in unicode_case.inc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vkcls::templates::detail {

// Decodes the code point at s[i] and advances i. Invalid bytes decode as
// themselves (one byte each), so every loop advances and nothing is read past
// the end.
char32_t utf8_next(std::string_view s, size_t& i);
void utf8_append(std::string& out, char32_t c);
size_t utf8_count(std::string_view s);
// Byte offsets of every code point start, plus s.size() at the end: [count + 1].
std::vector<size_t> utf8_offsets(std::string_view s);
// Replaces invalid UTF-8 with U+FFFD (inputs are checked once at the boundary).
std::string utf8_sanitize(std::string_view s);
bool utf8_valid(std::string_view s);

bool py_isspace(char32_t c);  // str.isspace
bool py_iscased(char32_t c);  // islower() or isupper() or istitle()
bool py_isupper_char(char32_t c);
bool py_islower_char(char32_t c);

std::string py_upper(std::string_view s);       // str.upper
std::string py_lower(std::string_view s);       // str.lower (final sigma included)
std::string py_title(std::string_view s);       // str.title
std::string py_capitalize(std::string_view s);  // str.capitalize (3.8+: title-cases the first)
std::string py_swapcase(std::string_view s);
void append_upper(std::string& out, char32_t c);
void append_lower(std::string& out, char32_t c);

// str.strip / lstrip / rstrip: `chars` null means Python whitespace.
std::string_view py_strip(std::string_view s, const std::string* chars, bool left, bool right);
// str.split: `sep` null means runs of whitespace (and no empty pieces);
// maxsplit < 0 means no limit.
std::vector<std::string> py_split(std::string_view s, const std::string* sep, long maxsplit);
std::vector<std::string> py_rsplit(std::string_view s, const std::string* sep, long maxsplit);
std::vector<std::string> py_splitlines(std::string_view s, bool keepends);

}  // namespace vkcls::templates::detail
