// The template parser: a recursive-descent parser following jinja2/parser.py
// rule for rule, so that precedence and the odd corners (filters binding
// tighter than unary minus, `a if b` without else, implicit test arguments)
// come out the same. Statements, node building and macro analysis are in
// parser.cpp, expressions in parser_expr.cpp; the token stream is here.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>
#include <string>
#include <vector>

#include "templates/ast.h"
#include "templates/lexer.h"

namespace vkcls::templates::detail {

class Parser {
 public:
  Parser(std::vector<Token> tokens, const TemplateOptions& options)
      : toks_(std::move(tokens)), opt_(options) {}

  TemplateAst parse() {
    TemplateAst ast;
    ast.body = subparse({});
    if (cur().type != Tok::Eof) fail_here(fmt::format("unexpected {}", quoted(describe(cur()))));
    return ast;
  }

 private:
  // ---- token stream ----
  const Token& cur() const { return toks_[i_]; }
  const Token& look() const { return toks_[std::min(i_ + 1, toks_.size() - 1)]; }
  const Token& next() {
    const Token& t = toks_[i_];
    if (i_ + 1 < toks_.size()) ++i_;
    return t;
  }
  bool is_name(const Token& t, const char* name) const {
    return t.type == Tok::Name && t.text == name;
  }
  bool skip_if(Tok type) {
    if (cur().type != type) return false;
    next();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(cur(), name)) return false;
    next();
    return true;
  }
  static std::string quoted(const std::string& s) { return "'" + s + "'"; }

  [[noreturn]] void fail_at(const Token& t, const std::string& message) {
    throw TemplateSyntaxError(message, t.line, t.column);
  }
  [[noreturn]] void fail_here(const std::string& message) { fail_at(cur(), message); }

  const Token& expect(Tok type) {
    if (cur().type != type) {
      if (cur().type == Tok::Eof)
        fail_here(fmt::format("unexpected end of template, expected {}.", quoted(describe(type))));
      fail_here(fmt::format("expected token {}, got {}", quoted(describe(type)),
                            quoted(describe(cur()))));
    }
    return next();
  }
  const Token& expect_name(const char* name) {
    if (!is_name(cur(), name)) {
      if (cur().type == Tok::Eof)
        fail_here(fmt::format("unexpected end of template, expected {}.", quoted(name)));
      fail_here(fmt::format("expected token {}, got {}", quoted(name), quoted(describe(cur()))));
    }
    return next();
  }

  // Nesting bound: statements and expressions inside each other.
  struct Nest {
    Parser& p;
    explicit Nest(Parser& parser) : p(parser) {
      if (++p.depth_ > p.opt_.limits.max_nesting) {
        const Token& t = p.cur();
        throw TemplateLimitError(
            TemplateLimit::Nesting, static_cast<uint64_t>(p.opt_.limits.max_nesting),
            fmt::format("template nesting exceeds max_nesting ({})", p.opt_.limits.max_nesting),
            t.line, t.column);
      }
    }
    ~Nest() { --p.depth_; }
  };

  static Pos pos_of(const Token& t) { return Pos{t.line, t.column}; }
  static ExprPtr make(Expr::Kind kind, Pos pos) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = pos;
    return e;
  }

  // Every node records its height; a tree deeper than max_nesting is refused
  // here, so rendering and freeing it never recurse past that bound.
  ExprPtr done(ExprPtr e);

  static ExprPtr constant(Pos pos, Value v) {
    auto c = make(Expr::Kind::Const, pos);
    c->value = std::move(v);
    return c;
  }

  // jinja2's compiler writes a constant {{ }} expression as text while
  // compiling, whatever its value (Undefined prints as nothing).
  ExprPtr fold_output(ExprPtr e);

  // ---- statements (parser.cpp) ----
  using EndTags = std::initializer_list<const char*>;

  bool at_end_tag(EndTags ends) const {
    for (const char* e : ends)
      if (is_name(cur(), e)) return true;
    return false;
  }

  Body subparse(EndTags ends);
  [[noreturn]] void fail_eof(EndTags ends);
  Body parse_statements(EndTags ends, bool drop_needle);
  StmtPtr parse_statement();
  [[noreturn]] void fail_unknown_tag(const Token& t);
  StmtPtr parse_for();
  StmtPtr parse_if();
  StmtPtr parse_set();
  void parse_signature(MacroDef& m);
  StmtPtr parse_macro();
  StmtPtr parse_call_block();
  StmtPtr parse_filter_block();
  StmtPtr parse_with();
  StmtPtr parse_print();

  // Targets: names, tuples of names (simplified tuples), namespace.attr.
  Target parse_assign_target(bool with_tuple, bool name_only, EndTags extra_end,
                             bool with_namespace);
  Target parse_target_primary(bool with_namespace);

  bool is_tuple_end(EndTags extra_end) const {
    Tok t = cur().type;
    if (t == Tok::VariableEnd || t == Tok::BlockEnd || t == Tok::RParen) return true;
    return at_end_tag(extra_end);
  }

  // ---- expressions (parser_expr.cpp) ----
  ExprPtr parse_expression(bool with_condexpr);
  ExprPtr parse_condexpr();
  ExprPtr parse_or();
  ExprPtr parse_and();
  ExprPtr parse_not();
  ExprPtr parse_compare();
  ExprPtr binary(Expr::BinOp op, ExprPtr left, ExprPtr right, Pos pos);
  ExprPtr parse_math1();
  ExprPtr parse_concat();
  ExprPtr parse_math2();
  ExprPtr parse_pow();
  ExprPtr parse_unary(bool with_filter);
  ExprPtr parse_primary();
  ExprPtr parse_tuple(bool simplified, bool with_condexpr, EndTags extra_end,
                      bool explicit_parentheses);
  ExprPtr parse_list();
  ExprPtr parse_dict();
  ExprPtr parse_postfix(ExprPtr node);
  ExprPtr parse_filter_expr(ExprPtr node);
  ExprPtr parse_subscript(ExprPtr node);
  ExprPtr parse_subscribed();
  Arguments parse_call_args();
  ExprPtr parse_call(ExprPtr node);
  std::string dotted_name();
  ExprPtr parse_filter(ExprPtr node, bool start_inline);
  ExprPtr parse_test(ExprPtr node);

  // ---- macro body analysis (what jinja2's compiler finds undeclared) ----
  static void scan_expr(const Expr* e, MacroDef& m);
  static void scan_body(const Body& body, MacroDef& m);
  static void scan_special_names(MacroDef& m);

  std::vector<Token> toks_;
  const TemplateOptions& opt_;
  size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;  // for bodies break / continue may leave (reset inside macros)
  int in_for_ = 0;      // for statements being parsed: no assigning `loop` anywhere inside
  std::vector<std::string> tag_stack_;
};

}  // namespace vkcls::templates::detail
