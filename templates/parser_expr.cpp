// The parser's expressions, from the conditional expression down to primaries,
// subscripts, calls, filters and tests (jinja2/parser.py's parse_* for
// expressions, in the same order).
#include "templates/parser.h"

namespace vkcls::templates::detail {

ExprPtr Parser::parse_expression(bool with_condexpr) {
  Nest nest(*this);
  return with_condexpr ? parse_condexpr() : parse_or();
}

ExprPtr Parser::parse_condexpr() {
  Pos pos = pos_of(cur());
  ExprPtr expr1 = parse_or();
  while (skip_name("if")) {
    ExprPtr expr2 = parse_or();
    ExprPtr expr3;
    if (skip_name("else")) expr3 = parse_condexpr();
    auto e = make(Expr::Kind::CondExpr, pos);
    e->a = std::move(expr2);
    e->b = std::move(expr1);
    e->c = std::move(expr3);
    expr1 = done(std::move(e));
    pos = pos_of(cur());
  }
  return expr1;
}

ExprPtr Parser::parse_or() {
  ExprPtr left = parse_and();
  while (is_name(cur(), "or")) {
    Pos pos = pos_of(next());
    auto e = make(Expr::Kind::Or, pos);
    e->a = std::move(left);
    e->b = parse_and();
    left = done(std::move(e));
  }
  return left;
}

ExprPtr Parser::parse_and() {
  ExprPtr left = parse_not();
  while (is_name(cur(), "and")) {
    Pos pos = pos_of(next());
    auto e = make(Expr::Kind::And, pos);
    e->a = std::move(left);
    e->b = parse_not();
    left = done(std::move(e));
  }
  return left;
}

ExprPtr Parser::parse_not() {
  if (is_name(cur(), "not")) {
    Nest nest(*this);
    auto e = make(Expr::Kind::Not, pos_of(next()));
    e->a = parse_not();
    return done(std::move(e));
  }
  return parse_compare();
}

ExprPtr Parser::parse_compare() {
  Pos pos = pos_of(cur());
  ExprPtr expr = parse_math1();
  std::vector<Expr::CmpOp> ops;
  std::vector<ExprPtr> operands;
  while (true) {
    Tok t = cur().type;
    Expr::CmpOp op;
    if (t == Tok::Eq || t == Tok::Ne || t == Tok::Lt || t == Tok::LtEq || t == Tok::Gt ||
        t == Tok::GtEq) {
      op = t == Tok::Eq     ? Expr::CmpOp::Eq
           : t == Tok::Ne   ? Expr::CmpOp::Ne
           : t == Tok::Lt   ? Expr::CmpOp::Lt
           : t == Tok::LtEq ? Expr::CmpOp::LtEq
           : t == Tok::Gt   ? Expr::CmpOp::Gt
                            : Expr::CmpOp::GtEq;
      next();
    } else if (is_name(cur(), "in")) {
      op = Expr::CmpOp::In;
      next();
    } else if (is_name(cur(), "not") && is_name(look(), "in")) {
      op = Expr::CmpOp::NotIn;
      next();
      next();
    } else {
      break;
    }
    ops.push_back(op);
    operands.push_back(parse_math1());
  }
  if (ops.empty()) return expr;
  auto e = make(Expr::Kind::Compare, pos);
  e->a = std::move(expr);
  e->ops = std::move(ops);
  e->items = std::move(operands);
  return done(std::move(e));
}

ExprPtr Parser::binary(Expr::BinOp op, ExprPtr left, ExprPtr right, Pos pos) {
  auto e = make(Expr::Kind::Binary, pos);
  e->op = op;
  e->a = std::move(left);
  e->b = std::move(right);
  return done(std::move(e));
}

ExprPtr Parser::parse_math1() {
  ExprPtr left = parse_concat();
  while (cur().type == Tok::Add || cur().type == Tok::Sub) {
    Expr::BinOp op = cur().type == Tok::Add ? Expr::BinOp::Add : Expr::BinOp::Sub;
    Pos pos = pos_of(next());
    left = binary(op, std::move(left), parse_concat(), pos);
  }
  return left;
}

ExprPtr Parser::parse_concat() {
  Pos pos = pos_of(cur());
  ExprPtr first = parse_math2();
  if (cur().type != Tok::Tilde) return first;
  auto e = make(Expr::Kind::Concat, pos);
  e->items.push_back(std::move(first));
  while (skip_if(Tok::Tilde)) e->items.push_back(parse_math2());
  return done(std::move(e));
}

ExprPtr Parser::parse_math2() {
  ExprPtr left = parse_pow();
  while (true) {
    Tok t = cur().type;
    Expr::BinOp op;
    if (t == Tok::Mul) {
      op = Expr::BinOp::Mul;
    } else if (t == Tok::Div) {
      op = Expr::BinOp::Div;
    } else if (t == Tok::FloorDiv) {
      op = Expr::BinOp::FloorDiv;
    } else if (t == Tok::Mod) {
      op = Expr::BinOp::Mod;
    } else {
      break;
    }
    Pos pos = pos_of(next());
    left = binary(op, std::move(left), parse_pow(), pos);
  }
  return left;
}

ExprPtr Parser::parse_pow() {
  ExprPtr left = parse_unary(true);
  while (cur().type == Tok::Pow) {
    Pos pos = pos_of(next());
    left = binary(Expr::BinOp::Pow, std::move(left), parse_unary(true), pos);
  }
  return left;
}

ExprPtr Parser::parse_unary(bool with_filter) {
  Nest nest(*this);
  Tok t = cur().type;
  ExprPtr node;
  if (t == Tok::Sub || t == Tok::Add) {
    node = make(t == Tok::Sub ? Expr::Kind::Neg : Expr::Kind::Pos, pos_of(next()));
    node->a = parse_unary(false);
    node = done(std::move(node));
  } else {
    node = parse_primary();
  }
  node = parse_postfix(std::move(node));
  if (with_filter) node = parse_filter_expr(std::move(node));
  return node;
}

ExprPtr Parser::parse_primary() {
  const Token& t = cur();
  Pos pos = pos_of(t);
  if (t.type == Tok::Name) {
    next();
    auto e = make(Expr::Kind::Const, pos);
    if (t.text == "true" || t.text == "True") {
      e->value = Value::boolean(true);
    } else if (t.text == "false" || t.text == "False") {
      e->value = Value::boolean(false);
    } else if (t.text == "none" || t.text == "None") {
      e->value = Value::none();
    } else {
      e->kind = Expr::Kind::Name;
      e->name = t.text;
    }
    return e;
  }
  if (t.type == Tok::String) {
    std::string s = next().text;
    while (cur().type == Tok::String) s += next().text;  // adjacent literals join
    auto e = make(Expr::Kind::Const, pos);
    e->value = Value::string(std::move(s));
    return e;
  }
  if (t.type == Tok::Integer || t.type == Tok::Float) {
    auto e = make(Expr::Kind::Const, pos);
    e->value = t.type == Tok::Integer ? Value::integer(t.integer) : Value::number(t.number);
    next();
    return e;
  }
  if (t.type == Tok::LParen) {
    next();
    ExprPtr e = parse_tuple(false, true, {}, true);
    expect(Tok::RParen);
    return e;
  }
  if (t.type == Tok::LBracket) return parse_list();
  if (t.type == Tok::LBrace) return parse_dict();
  if (t.type == Tok::Eof) fail_here("unexpected end of template");
  fail_here(fmt::format("unexpected {}", quoted(describe(t))));
}

ExprPtr Parser::parse_tuple(bool simplified, bool with_condexpr, EndTags extra_end,
                            bool explicit_parentheses) {
  (void)simplified;
  Pos pos = pos_of(cur());
  std::vector<ExprPtr> args;
  bool is_tuple = false;
  while (true) {
    if (!args.empty()) expect(Tok::Comma);
    if (is_tuple_end(extra_end)) break;
    args.push_back(parse_expression(with_condexpr));
    if (cur().type == Tok::Comma) {
      is_tuple = true;
    } else {
      break;
    }
  }
  if (!is_tuple) {
    if (!args.empty()) return std::move(args[0]);
    if (!explicit_parentheses)
      fail_here(fmt::format("Expected an expression, got {}", quoted(describe(cur()))));
  }
  auto e = make(Expr::Kind::Tuple, pos);
  e->items = std::move(args);
  return done(std::move(e));
}

ExprPtr Parser::parse_list() {
  auto e = make(Expr::Kind::List, pos_of(expect(Tok::LBracket)));
  while (cur().type != Tok::RBracket) {
    if (!e->items.empty()) expect(Tok::Comma);
    if (cur().type == Tok::RBracket) break;
    e->items.push_back(parse_expression(true));
  }
  expect(Tok::RBracket);
  return done(std::move(e));
}

ExprPtr Parser::parse_dict() {
  auto e = make(Expr::Kind::Dict, pos_of(expect(Tok::LBrace)));
  while (cur().type != Tok::RBrace) {
    if (!e->items.empty()) expect(Tok::Comma);
    if (cur().type == Tok::RBrace) break;
    e->items.push_back(parse_expression(true));
    expect(Tok::Colon);
    e->items.push_back(parse_expression(true));
  }
  expect(Tok::RBrace);
  return done(std::move(e));
}

ExprPtr Parser::parse_postfix(ExprPtr node) {
  while (true) {
    Tok t = cur().type;
    if (t == Tok::Dot || t == Tok::LBracket) {
      node = parse_subscript(std::move(node));
    } else if (t == Tok::LParen) {
      node = parse_call(std::move(node));
    } else {
      return node;
    }
  }
}

ExprPtr Parser::parse_filter_expr(ExprPtr node) {
  while (true) {
    Tok t = cur().type;
    if (t == Tok::Pipe) {
      node = parse_filter(std::move(node), false);
    } else if (is_name(cur(), "is")) {
      node = parse_test(std::move(node));
    } else if (t == Tok::LParen) {
      node = parse_call(std::move(node));
    } else {
      return node;
    }
  }
}

ExprPtr Parser::parse_subscript(ExprPtr node) {
  Nest nest(*this);
  const Token& t = next();
  Pos pos = pos_of(t);
  if (t.type == Tok::Dot) {
    const Token& attr = cur();
    if (attr.type == Tok::Name) {
      next();
      auto e = make(Expr::Kind::Getattr, pos);
      e->a = std::move(node);
      e->name = attr.text;
      return done(std::move(e));
    }
    if (attr.type != Tok::Integer) fail_here("expected name or number");
    auto index = make(Expr::Kind::Const, pos_of(attr));
    index->value = Value::integer(attr.integer);
    next();
    auto e = make(Expr::Kind::Getitem, pos);
    e->a = std::move(node);
    e->b = std::move(index);
    return done(std::move(e));
  }
  std::vector<ExprPtr> args;
  while (cur().type != Tok::RBracket) {
    if (!args.empty()) expect(Tok::Comma);
    args.push_back(parse_subscribed());
  }
  expect(Tok::RBracket);
  auto e = make(Expr::Kind::Getitem, pos);
  e->a = std::move(node);
  if (args.size() == 1) {
    e->b = std::move(args[0]);
  } else {
    auto tuple = make(Expr::Kind::Tuple, pos);
    tuple->items = std::move(args);
    e->b = done(std::move(tuple));
  }
  return done(std::move(e));
}

ExprPtr Parser::parse_subscribed() {
  Pos pos = pos_of(cur());
  ExprPtr start;
  if (cur().type == Tok::Colon) {
    next();
  } else {
    start = parse_expression(true);
    if (cur().type != Tok::Colon) return start;
    next();
  }
  auto slice = make(Expr::Kind::Slice, pos);
  slice->a = std::move(start);
  if (cur().type != Tok::Colon && cur().type != Tok::RBracket && cur().type != Tok::Comma)
    slice->b = parse_expression(true);
  if (cur().type == Tok::Colon) {
    next();
    if (cur().type != Tok::RBracket && cur().type != Tok::Comma) slice->c = parse_expression(true);
  }
  return done(std::move(slice));
}

Arguments Parser::parse_call_args() {
  const Token& open = expect(Tok::LParen);
  Arguments a;
  bool require_comma = false;
  auto ensure = [&](bool ok) {
    if (!ok) fail_at(open, "invalid syntax for function call expression");
  };
  while (cur().type != Tok::RParen) {
    if (require_comma) {
      expect(Tok::Comma);
      if (cur().type == Tok::RParen) break;
    }
    if (cur().type == Tok::Mul) {
      ensure(!a.star_args && !a.star_kwargs);
      next();
      a.star_args = parse_expression(true);
    } else if (cur().type == Tok::Pow) {
      ensure(!a.star_kwargs);
      next();
      a.star_kwargs = parse_expression(true);
    } else if (cur().type == Tok::Name && look().type == Tok::Assign) {
      ensure(!a.star_kwargs);
      std::string key = next().text;
      next();
      a.kwargs.push_back(Keyword{std::move(key), parse_expression(true)});
    } else {
      ensure(!a.star_args && !a.star_kwargs && a.kwargs.empty());
      a.args.push_back(parse_expression(true));
    }
    require_comma = true;
  }
  expect(Tok::RParen);
  return a;
}

ExprPtr Parser::parse_call(ExprPtr node) {
  Nest nest(*this);
  auto e = make(Expr::Kind::Call, pos_of(cur()));
  if (node->kind == Expr::Kind::Getattr && is_unsupported_method(node->name))
    fail_at(toks_[i_ - 1], fmt::format("the method {} is not supported", quoted(node->name)));
  e->arguments = parse_call_args();
  e->a = std::move(node);
  return done(std::move(e));
}

std::string Parser::dotted_name() {
  std::string name = expect(Tok::Name).text;
  while (cur().type == Tok::Dot) {
    next();
    name += "." + expect(Tok::Name).text;
  }
  return name;
}

ExprPtr Parser::parse_filter(ExprPtr node, bool start_inline) {
  while (cur().type == Tok::Pipe || start_inline) {
    Nest nest(*this);
    if (!start_inline) next();
    const Token& name_tok = cur();
    std::string name = dotted_name();
    auto e = make(Expr::Kind::Filter, pos_of(name_tok));
    if (!lookup_filter(name, e->filter))
      fail_at(name_tok, fmt::format("No filter named {}.", quoted(name)));
    e->name = name;
    if (cur().type == Tok::LParen) e->arguments = parse_call_args();
    e->a = std::move(node);
    node = done(std::move(e));
    start_inline = false;
  }
  return node;
}

ExprPtr Parser::parse_test(ExprPtr node) {
  Nest nest(*this);
  Pos pos = pos_of(next());
  bool negated = skip_name("not");
  const Token& name_tok = cur();
  std::string name = dotted_name();
  auto e = make(Expr::Kind::Test, pos);
  if (!lookup_test(name, e->test))
    fail_at(name_tok, fmt::format("No test named {}.", quoted(name)));
  e->name = name;
  Tok t = cur().type;
  if (t == Tok::LParen) {
    e->arguments = parse_call_args();
  } else if ((t == Tok::Name || t == Tok::String || t == Tok::Integer || t == Tok::Float ||
              t == Tok::LBracket || t == Tok::LBrace) &&
             !is_name(cur(), "else") && !is_name(cur(), "or") && !is_name(cur(), "and")) {
    if (is_name(cur(), "is")) fail_here("You cannot chain multiple tests with is");
    ExprPtr arg = parse_primary();
    e->arguments.args.push_back(parse_postfix(std::move(arg)));
  }
  e->a = std::move(node);
  e = done(std::move(e));
  if (!negated) return e;
  auto n = make(Expr::Kind::Not, pos);
  n->a = std::move(e);
  return done(std::move(n));
}

}  // namespace vkcls::templates::detail
