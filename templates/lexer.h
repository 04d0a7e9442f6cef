// Tokens of a Jinja2 template, cut as jinja2's lexer cuts them: text,
// {{ }}, {% %} and {# #} with whitespace control (-, +, trim_blocks,
// lstrip_blocks), raw blocks, and the expression tokens inside tags.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "templates/jinja.h"

namespace vkcls::templates::detail {

enum class Tok : uint8_t {
  Data,
  BlockBegin,
  BlockEnd,
  VariableBegin,
  VariableEnd,
  Name,
  String,
  Integer,
  Float,
  // operators
  Add,
  Sub,
  Div,
  FloorDiv,
  Mul,
  Mod,
  Pow,
  Tilde,
  LBracket,
  RBracket,
  LParen,
  RParen,
  LBrace,
  RBrace,
  Eq,
  Ne,
  Gt,
  GtEq,
  Lt,
  LtEq,
  Assign,
  Dot,
  Colon,
  Pipe,
  Comma,
  Semicolon,
  Eof,
};

struct Token {
  Tok type = Tok::Eof;
  std::string text;  // Data / Name / String (unescaped) value
  int64_t integer = 0;
  double number = 0;
  int line = 1;
  int column = 1;
};

const char* describe(Tok t);  // "end of statement block", "'('", ...
std::string describe(const Token& t);

// Throws TemplateSyntaxError.
std::vector<Token> tokenize(std::string_view source, const TemplateOptions& options);

}  // namespace vkcls::templates::detail
