#include "templates/lexer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "templates/unicode.h"

namespace vkcls::templates::detail {
namespace {

struct OperatorSpelling {
  const char* text;
  Tok type;
};

// Longest first, as jinja2's operator regex is sorted.
const OperatorSpelling kOperators[] = {
    {"//", Tok::FloorDiv}, {"**", Tok::Pow},      {"==", Tok::Eq},    {"!=", Tok::Ne},
    {">=", Tok::GtEq},     {"<=", Tok::LtEq},     {"+", Tok::Add},    {"-", Tok::Sub},
    {"/", Tok::Div},       {"*", Tok::Mul},       {"%", Tok::Mod},    {"~", Tok::Tilde},
    {"[", Tok::LBracket},  {"]", Tok::RBracket},  {"(", Tok::LParen}, {")", Tok::RParen},
    {"{", Tok::LBrace},    {"}", Tok::RBrace},    {">", Tok::Gt},     {"<", Tok::Lt},
    {"=", Tok::Assign},    {".", Tok::Dot},       {":", Tok::Colon},  {"|", Tok::Pipe},
    {",", Tok::Comma},     {";", Tok::Semicolon},
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_start(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}
bool is_name_char(unsigned char c) {
  return is_name_start(c) || is_digit(static_cast<char>(c));
}

class Lexer {
 public:
  Lexer(std::string src, const TemplateOptions& options) : src_(std::move(src)), opt_(options) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
  }

  std::vector<Token> run() {
    const size_t n = src_.size();
    while (pos_ < n) {
      size_t t = find_tag_start(pos_);
      if (t == std::string::npos) {
        emit_data(pos_, std::string_view(src_).substr(pos_));
        break;
      }
      char kind = src_[t + 1];
      char sign = t + 2 < n && (src_[t + 2] == '-' || src_[t + 2] == '+') ? src_[t + 2] : 0;
      size_t raw_end = kind == '%' ? match_raw_begin(t) : std::string::npos;
      std::string_view text = std::string_view(src_).substr(pos_, t - pos_);
      text = strip_before_tag(text, sign, kind == '{');
      emit_data(pos_, text);
      if (raw_end != std::string::npos) {
        lex_raw(raw_end);
      } else if (kind == '#') {
        lex_comment(t + 2 + (sign ? 1 : 0));
      } else {
        lex_tag(t, kind == '%', sign);
      }
    }
    Token eof;
    eof.type = Tok::Eof;
    set_position(eof, src_.size());
    out_.push_back(std::move(eof));
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail_at(size_t at, const std::string& message) {
    Token t;
    set_position(t, at);
    throw TemplateSyntaxError(message, t.line, t.column);
  }

  void set_position(Token& t, size_t at) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), at);
    size_t line = static_cast<size_t>(it - line_starts_.begin());
    t.line = static_cast<int>(line);
    t.column = static_cast<int>(at - line_starts_[line - 1] + 1);
  }

  size_t find_tag_start(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '%' || src_[i + 1] == '{' || src_[i + 1] == '#'))
        return i;
    }
    return std::string::npos;
  }

  size_t skip_space(size_t i) const {
    while (i < src_.size()) {
      size_t j = i;
      if (!py_isspace(utf8_next(src_, j))) break;
      i = j;
    }
    return i;
  }

  bool at(size_t i, std::string_view s) const { return src_.compare(i, s.size(), s) == 0; }

  // `{%[-+]?\s*raw\s*(-%}\s*|%})`: the position after it, or npos.
  size_t match_raw_begin(size_t t) const {
    size_t i = t + 2;
    if (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) ++i;
    i = skip_space(i);
    if (!at(i, "raw")) return std::string::npos;
    i = skip_space(i + 3);
    if (at(i, "-%}")) return skip_space(i + 3);
    if (at(i, "%}")) return i + 2;
    return std::string::npos;
  }

  // Whitespace control on the text before a tag: `{%-` strips all trailing
  // whitespace; lstrip_blocks strips spaces between a line start and a
  // block or comment tag (not `{{`), unless the tag says `+`.
  std::string_view strip_before_tag(std::string_view text, char sign, bool variable) const {
    if (sign == '-') return py_strip(text, nullptr, false, true);
    if (sign != '+' && opt_.lstrip_blocks && !variable) {
      size_t nl = text.rfind('\n');
      size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting_) && l_pos < text.size() &&
          py_strip(text.substr(l_pos), nullptr, true, false).empty())
        return text.substr(0, l_pos);
    }
    return text;
  }

  void emit_data(size_t at, std::string_view text) {
    if (text.empty()) return;
    Token t;
    t.type = Tok::Data;
    t.text = std::string(text);
    set_position(t, at);
    out_.push_back(std::move(t));
  }

  void lex_raw(size_t body) {
    line_starting_ = body > 0 && src_[body - 1] == '\n';
    for (size_t i = src_.find("{%", body); i != std::string::npos; i = src_.find("{%", i + 1)) {
      size_t j = i + 2;
      char sign = 0;
      if (j < src_.size() && (src_[j] == '-' || src_[j] == '+')) sign = src_[j++];
      j = skip_space(j);
      if (!at(j, "endraw")) continue;
      j = skip_space(j + 6);
      size_t end;
      if (at(j, "+%}")) {
        end = j + 3;
      } else if (at(j, "-%}")) {
        end = skip_space(j + 3);
      } else if (at(j, "%}")) {
        end = j + 2;
        if (opt_.trim_blocks && end < src_.size() && src_[end] == '\n') ++end;
      } else {
        continue;
      }
      std::string_view text = std::string_view(src_).substr(body, i - body);
      emit_data(body, strip_before_tag(text, sign, false));
      line_starting_ = src_[end - 1] == '\n';
      pos_ = end;
      return;
    }
    fail_at(body, "Missing end of raw directive");
  }

  void lex_comment(size_t body) {
    for (size_t i = body; i < src_.size(); ++i) {
      size_t end = std::string::npos;
      if (at(i, "+#}")) {
        end = i + 3;
      } else if (at(i, "-#}")) {
        end = skip_space(i + 3);
      } else if (at(i, "#}")) {
        end = i + 2;
        if (opt_.trim_blocks && end < src_.size() && src_[end] == '\n') ++end;
      }
      if (end == std::string::npos) continue;
      line_starting_ = src_[end - 1] == '\n';
      pos_ = end;
      return;
    }
    fail_at(body, "Missing end of comment tag");
  }

  // Position after the tag's end marker when one starts at i, else npos.
  size_t match_tag_end(size_t i, bool block) const {
    if (block) {
      if (at(i, "+%}")) return i + 3;
      if (at(i, "-%}")) return skip_space(i + 3);
      if (at(i, "%}")) {
        size_t end = i + 2;
        if (opt_.trim_blocks && end < src_.size() && src_[end] == '\n') ++end;
        return end;
      }
      return std::string::npos;
    }
    if (at(i, "-}}")) return skip_space(i + 3);
    if (at(i, "}}")) return i + 2;
    return std::string::npos;
  }

  void push(Tok type, size_t at_pos) {
    Token t;
    t.type = type;
    set_position(t, at_pos);
    out_.push_back(std::move(t));
  }

  void lex_tag(size_t t, bool block, char sign) {
    push(block ? Tok::BlockBegin : Tok::VariableBegin, t);
    size_t i = t + 2 + (sign ? 1 : 0);
    std::vector<char> balance;  // closing brackets expected
    while (true) {
      if (balance.empty()) {
        size_t end = match_tag_end(i, block);
        if (end != std::string::npos) {
          push(block ? Tok::BlockEnd : Tok::VariableEnd, i);
          line_starting_ = src_[end - 1] == '\n';
          pos_ = end;
          return;
        }
      }
      size_t j = skip_space(i);
      if (j != i) {
        i = j;
        continue;
      }
      if (i >= src_.size()) {  // the parser reports the missing end
        pos_ = i;
        return;
      }
      i = lex_expression_token(i, balance);
    }
  }

  // One token inside a tag; returns the position after it.
  size_t lex_expression_token(size_t i, std::vector<char>& balance) {
    char c = src_[i];
    if (is_digit(c)) return lex_number(i);
    if (is_name_start(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < src_.size() && is_name_char(static_cast<unsigned char>(src_[j]))) {
        size_t k = j;
        char32_t cp = utf8_next(src_, k);
        if (cp >= 0x80 && py_isspace(cp)) break;
        j = k;
      }
      Token tok;
      tok.type = Tok::Name;
      tok.text = src_.substr(i, j - i);
      set_position(tok, i);
      out_.push_back(std::move(tok));
      return j;
    }
    if (c == '\'' || c == '"') return lex_string(i);
    for (const auto& op : kOperators) {
      if (!at(i, op.text)) continue;
      if (op.type == Tok::LBrace || op.type == Tok::LParen || op.type == Tok::LBracket) {
        balance.push_back(op.type == Tok::LBrace ? '}' : op.type == Tok::LParen ? ')' : ']');
      } else if (op.type == Tok::RBrace || op.type == Tok::RParen || op.type == Tok::RBracket) {
        if (balance.empty()) fail_at(i, fmt::format("unexpected '{}'", op.text));
        char expected = balance.back();
        balance.pop_back();
        if (expected != op.text[0])
          fail_at(i, fmt::format("unexpected '{}', expected '{}'", op.text, expected));
      }
      push(op.type, i);
      return i + std::string_view(op.text).size();
    }
    size_t k = i;
    utf8_next(src_, k);
    fail_at(i, fmt::format("unexpected char {} at {}", repr_char(src_.substr(i, k - i)), i));
  }

  static std::string repr_char(const std::string& c) {
    if (c == "'") return "\"'\"";
    return "'" + c + "'";
  }

  // Digits with optional '_' separators between them: end of the run, or i when none.
  size_t digit_run(size_t i) const {
    if (i >= src_.size() || !is_digit(src_[i])) return i;
    size_t j = i + 1;
    while (j < src_.size()) {
      if (is_digit(src_[j])) {
        ++j;
      } else if (src_[j] == '_' && j + 1 < src_.size() && is_digit(src_[j + 1])) {
        j += 2;
      } else {
        break;
      }
    }
    return j;
  }

  size_t lex_number(size_t i) {
    // Float: digits ( (.digits)? e[+-]?digits | .digits ), not right after a '.'.
    bool after_dot = i > 0 && src_[i - 1] == '.';
    size_t int_end = digit_run(i);
    if (!after_dot) {
      size_t j = int_end;
      bool has_fraction = false;
      if (j < src_.size() && src_[j] == '.' && digit_run(j + 1) > j + 1) {
        j = digit_run(j + 1);
        has_fraction = true;
      }
      size_t e_end = std::string::npos;
      if (j < src_.size() && (src_[j] == 'e' || src_[j] == 'E')) {
        size_t k = j + 1;
        if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
        size_t d = digit_run(k);
        if (d > k) e_end = d;
      }
      if (e_end != std::string::npos || has_fraction) {
        size_t end = e_end != std::string::npos ? e_end : j;
        std::string text = src_.substr(i, end - i);
        text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
        Token tok;
        tok.type = Tok::Float;
        tok.number = std::strtod(text.c_str(), nullptr);
        set_position(tok, i);
        out_.push_back(std::move(tok));
        return end;
      }
    }
    // Integer: 0b / 0o / 0x prefixes, [1-9](_?\d)*, or 0(_?0)*.
    int base = 10;
    size_t j = i;
    std::string digits;
    char p = i + 1 < src_.size() ? static_cast<char>(src_[i + 1] | 0x20) : 0;
    if (src_[i] == '0' && (p == 'b' || p == 'o' || p == 'x')) {
      base = p == 'b' ? 2 : p == 'o' ? 8 : 16;
      j = i + 2;
      auto valid = [&](char ch) {
        char l = static_cast<char>(ch | 0x20);
        if (base == 2) return ch == '0' || ch == '1';
        if (base == 8) return ch >= '0' && ch <= '7';
        return is_digit(ch) || (l >= 'a' && l <= 'f');
      };
      while (j < src_.size()) {
        if (src_[j] == '_' && j + 1 < src_.size() && valid(src_[j + 1])) {
          j += 2;
          digits.push_back(src_[j - 1]);
        } else if (valid(src_[j])) {
          digits.push_back(src_[j++]);
        } else {
          break;
        }
      }
      if (digits.empty()) {  // "0b" alone: the integer 0 followed by a name
        j = i + 1;
        digits = "0";
        base = 10;
      }
    } else if (src_[i] == '0') {
      j = i + 1;
      while (j < src_.size()) {
        if (src_[j] == '0') {
          ++j;
        } else if (src_[j] == '_' && j + 1 < src_.size() && src_[j + 1] == '0') {
          j += 2;
        } else {
          break;
        }
      }
      digits = "0";
    } else {
      j = int_end;
      digits = src_.substr(i, j - i);
      digits.erase(std::remove(digits.begin(), digits.end(), '_'), digits.end());
    }
    errno = 0;
    char* endp = nullptr;
    long long v = std::strtoll(digits.c_str(), &endp, base);
    if (errno == ERANGE) fail_at(i, "integer literal is out of the 64-bit range");
    Token tok;
    tok.type = Tok::Integer;
    tok.integer = v;
    set_position(tok, i);
    out_.push_back(std::move(tok));
    return j;
  }

  // Python string-literal escapes (jinja2 decodes with "unicode-escape").
  size_t lex_string(size_t i) {
    char quote = src_[i];
    size_t j = i + 1;
    while (j < src_.size() && src_[j] != quote) j += src_[j] == '\\' ? 2 : 1;
    if (j >= src_.size()) {
      fail_at(i, fmt::format("unexpected char {} at {}", repr_char(std::string(1, quote)), i));
    }
    std::string_view body = std::string_view(src_).substr(i + 1, j - i - 1);
    Token tok;
    tok.type = Tok::String;
    tok.text = unescape(body, i);
    set_position(tok, i);
    out_.push_back(std::move(tok));
    return j + 1;
  }

  std::string unescape(std::string_view s, size_t at_pos) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
      if (s[i] != '\\' || i + 1 >= s.size()) {
        size_t start = i;
        utf8_next(s, i);
        out.append(s.substr(start, i - start));
        continue;
      }
      char e = s[i + 1];
      i += 2;
      auto hex = [&](size_t count) -> char32_t {
        if (i + count > s.size()) fail_at(at_pos, "truncated escape in string literal");
        char32_t v = 0;
        for (size_t k = 0; k < count; ++k) {
          char h = static_cast<char>(s[i + k] | 0x20);
          int d = is_digit(s[i + k]) ? s[i + k] - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : -1;
          if (d < 0) fail_at(at_pos, "truncated escape in string literal");
          v = v * 16 + static_cast<char32_t>(d);
        }
        i += count;
        return v;
      };
      switch (e) {
        case '\n':
          break;  // line continuation
        case '\\':
        case '\'':
        case '"':
          out.push_back(e);
          break;
        case 'a':
          out.push_back('\a');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'v':
          out.push_back('\v');
          break;
        case 'x':
          utf8_append(out, hex(2));
          break;
        case 'u':
          append_escaped_code_point(out, hex(4), at_pos);
          break;
        case 'U':
          append_escaped_code_point(out, hex(8), at_pos);
          break;
        case 'N':
          fail_at(at_pos, "\\N{...} escapes are not supported in string literals");
        default:
          if (e >= '0' && e <= '7') {
            char32_t v = static_cast<char32_t>(e - '0');
            for (int k = 0; k < 2 && i < s.size() && s[i] >= '0' && s[i] <= '7'; ++k)
              v = v * 8 + static_cast<char32_t>(s[i++] - '0');
            utf8_append(out, v);
          } else if (static_cast<unsigned char>(e) >= 0x80) {
            // backslashreplace turned the character into its own escape first.
            size_t start = i - 1;
            char32_t cp = utf8_next(s, start);
            i = start;
            out.push_back('\\');
            out += cp < 0x100     ? fmt::format("x{:02x}", static_cast<unsigned>(cp))
                   : cp < 0x10000 ? fmt::format("u{:04x}", static_cast<unsigned>(cp))
                                  : fmt::format("U{:08x}", static_cast<unsigned>(cp));
          } else {
            out.push_back('\\');  // unknown escapes stay as written
            out.push_back(e);
          }
      }
    }
    return out;
  }

  void append_escaped_code_point(std::string& out, char32_t cp, size_t at_pos) {
    if (cp > 0x10FFFF) fail_at(at_pos, "illegal Unicode character in string literal");
    if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;  // lone surrogates cannot be UTF-8
    utf8_append(out, cp);
  }

  std::string src_;
  const TemplateOptions& opt_;
  std::vector<size_t> line_starts_;
  std::vector<Token> out_;
  size_t pos_ = 0;
  bool line_starting_ = true;
};

// jinja2 reads lines split on \r\n, \r or \n and joins them with \n, dropping
// one final empty line unless keep_trailing_newline.
std::string normalize_newlines(std::string_view source, bool keep_trailing_newline) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!keep_trailing_newline && !out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

const char* describe(Tok t) {
  switch (t) {
    case Tok::Data:
      return "template data / text";
    case Tok::BlockBegin:
      return "begin of statement block";
    case Tok::BlockEnd:
      return "end of statement block";
    case Tok::VariableBegin:
      return "begin of print statement";
    case Tok::VariableEnd:
      return "end of print statement";
    case Tok::Name:
      return "name";
    case Tok::String:
      return "string";
    case Tok::Integer:
      return "integer";
    case Tok::Float:
      return "float";
    case Tok::Eof:
      return "end of template";
    default:
      break;
  }
  for (const auto& op : kOperators)
    if (op.type == t) return op.text;
  return "token";
}

std::string describe(const Token& t) {
  if (t.type == Tok::Name) return t.text;
  return describe(t.type);
}

std::vector<Token> tokenize(std::string_view source, const TemplateOptions& options) {
  return Lexer(normalize_newlines(utf8_sanitize(source), options.keep_trailing_newline), options)
      .run();
}

}  // namespace vkcls::templates::detail
