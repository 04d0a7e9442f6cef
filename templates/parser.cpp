// The parser's statements (jinja2/parser.py's parse_* for tags), the node
// builder with its nesting bound and constant folding, and the analysis of
// macro bodies. Expressions are in parser_expr.cpp.
#include "templates/parser.h"

namespace vkcls::templates::detail {

// Every node records its height; a tree deeper than max_nesting is refused
// here, so rendering and freeing it never recurse past that bound.
ExprPtr Parser::done(ExprPtr e) {
  int d = 0;
  auto see = [&](const ExprPtr& x) {
    if (x) d = std::max(d, x->depth);
  };
  see(e->a);
  see(e->b);
  see(e->c);
  for (const auto& x : e->items) see(x);
  for (const auto& x : e->arguments.args) see(x);
  for (const auto& k : e->arguments.kwargs) see(k.value);
  see(e->arguments.star_args);
  see(e->arguments.star_kwargs);
  e->depth = d + 1;
  if (e->depth > opt_.limits.max_nesting) {
    throw TemplateLimitError(
        TemplateLimit::Nesting, static_cast<uint64_t>(opt_.limits.max_nesting),
        fmt::format("expression nesting exceeds max_nesting ({})", opt_.limits.max_nesting),
        e->pos.line, e->pos.column);
  }
  // jinja2's optimizer: a constant expression whose value has a safe repr
  // becomes that constant (bottom-up, as the nodes are built).
  Value v;
  if (e->kind != Expr::Kind::Const && e->kind != Expr::Kind::Name && e->kind != Expr::Kind::Slice &&
      fold_constant(*e, opt_, v) && has_safe_repr(v))
    return constant(e->pos, std::move(v));
  return e;
}

// jinja2's compiler writes a constant {{ }} expression as text while
// compiling, whatever its value (Undefined prints as nothing).
ExprPtr Parser::fold_output(ExprPtr e) {
  Value v;
  if (e->kind == Expr::Kind::Const || !fold_constant(*e, opt_, v)) return e;
  try {
    return constant(e->pos, Value::string(py_str(v)));
  } catch (const RenderFailure&) {
    return e;
  }
}

Body Parser::subparse(EndTags ends) {
  Nest nest(*this);
  Body body;
  Stmt* output = nullptr;  // consecutive data and {{ }} share one Output statement
  auto out = [&]() -> Stmt& {
    if (!output) {
      auto s = std::make_unique<Stmt>();
      s->kind = Stmt::Kind::Output;
      s->pos = pos_of(cur());
      output = s.get();
      body.push_back(std::move(s));
    }
    return *output;
  };
  while (cur().type != Tok::Eof) {
    const Token& t = cur();
    if (t.type == Tok::Data) {
      Stmt& o = out();
      o.texts.push_back(t.text);
      o.exprs.push_back(nullptr);
      next();
    } else if (t.type == Tok::VariableBegin) {
      next();
      ExprPtr e = parse_tuple(false, true, {}, false);
      e = fold_output(std::move(e));
      expect(Tok::VariableEnd);
      Stmt& o = out();
      o.texts.emplace_back();
      o.exprs.push_back(std::move(e));
    } else if (t.type == Tok::BlockBegin) {
      output = nullptr;
      next();
      if (ends.size() && at_end_tag(ends)) return body;
      StmtPtr s = parse_statement();
      if (s) body.push_back(std::move(s));
      expect(Tok::BlockEnd);
    } else {
      fail_here(fmt::format("unexpected {}", quoted(describe(t))));
    }
  }
  if (ends.size()) fail_eof(ends);
  return body;
}

[[noreturn]] void Parser::fail_eof(EndTags ends) {
  std::string looking;
  for (const char* e : ends) looking += (looking.empty() ? "" : " or ") + quoted(e);
  std::string msg =
      "Unexpected end of template. Jinja was looking for the following tags: " + looking + ".";
  if (!tag_stack_.empty())
    msg += " The innermost block that needs to be closed is " + quoted(tag_stack_.back()) + ".";
  fail_here(msg);
}

Body Parser::parse_statements(EndTags ends, bool drop_needle) {
  skip_if(Tok::Colon);
  expect(Tok::BlockEnd);
  Body body = subparse(ends);
  if (drop_needle) next();
  return body;
}

StmtPtr Parser::parse_statement() {
  const Token& t = cur();
  if (t.type != Tok::Name) fail_here("tag name expected");
  std::string tag = t.text;
  static const char* const kUnsupported[] = {"block", "extends",    "include", "import",
                                             "from",  "autoescape", "trans",   "pluralize"};
  for (const char* u : kUnsupported)
    if (tag == u) fail_here(fmt::format("the '{}' statement is not supported", tag));
  tag_stack_.push_back(tag);
  StmtPtr s;
  if (tag == "for") {
    s = parse_for();
  } else if (tag == "if") {
    s = parse_if();
  } else if (tag == "set") {
    s = parse_set();
  } else if (tag == "macro") {
    s = parse_macro();
  } else if (tag == "call") {
    s = parse_call_block();
  } else if (tag == "filter") {
    s = parse_filter_block();
  } else if (tag == "with") {
    s = parse_with();
  } else if (tag == "print") {
    s = parse_print();
  } else if (tag == "break" || tag == "continue") {
    s = std::make_unique<Stmt>();
    s->kind = tag == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue;
    s->pos = pos_of(t);
    if (loop_depth_ == 0) fail_here(fmt::format("'{}' outside loop", tag));
    next();
  } else if (tag == "generation") {
    // transformers' AssistantTracker: the body renders as is, in a call scope.
    s = std::make_unique<Stmt>();
    s->kind = Stmt::Kind::Scope;
    s->pos = pos_of(t);
    next();
    int saved = loop_depth_;
    loop_depth_ = 0;  // its body is a call block: break cannot leave it
    s->body = parse_statements({"endgeneration"}, true);
    loop_depth_ = saved;
  } else {
    tag_stack_.pop_back();
    fail_unknown_tag(t);
  }
  tag_stack_.pop_back();
  return s;
}

[[noreturn]] void Parser::fail_unknown_tag(const Token& t) {
  std::string msg = fmt::format("Encountered unknown tag {}.", quoted(t.text));
  if (!tag_stack_.empty())
    msg += " The innermost block that needs to be closed is " + quoted(tag_stack_.back()) + ".";
  fail_at(t, msg);
}

StmtPtr Parser::parse_for() {
  auto s = std::make_unique<Stmt>();
  s->kind = Stmt::Kind::For;
  s->pos = pos_of(expect_name("for"));
  struct InFor {
    int& n;
    explicit InFor(int& c) : n(c) { ++n; }
    ~InFor() { --n; }
  } in_for(in_for_);
  s->target = parse_assign_target(true, false, {"in"}, false);
  expect_name("in");
  s->expr = parse_tuple(false, false, {"recursive"}, false);
  if (skip_name("if")) s->test = parse_expression(true);
  if (is_name(cur(), "recursive")) fail_here("recursive for loops are not supported");
  ++loop_depth_;
  s->body = parse_statements({"endfor", "else"}, false);
  --loop_depth_;
  if (next().text == "endfor") return s;
  s->orelse = parse_statements({"endfor"}, true);
  return s;
}

StmtPtr Parser::parse_if() {
  auto s = std::make_unique<Stmt>();
  s->kind = Stmt::Kind::If;
  s->pos = pos_of(expect_name("if"));
  s->expr = parse_tuple(false, false, {}, false);
  s->body = parse_statements({"elif", "else", "endif"}, false);
  while (true) {
    const Token& t = next();
    if (t.text == "elif") {
      ExprPtr test = parse_tuple(false, false, {}, false);
      Body body = parse_statements({"elif", "else", "endif"}, false);
      s->elifs.emplace_back(std::move(test), std::move(body));
      continue;
    }
    if (t.text == "else") s->orelse = parse_statements({"endif"}, true);
    break;
  }
  return s;
}

StmtPtr Parser::parse_set() {
  auto s = std::make_unique<Stmt>();
  s->pos = pos_of(next());
  s->target = parse_assign_target(true, false, {}, true);
  if (skip_if(Tok::Assign)) {
    s->kind = Stmt::Kind::Set;
    s->expr = parse_tuple(false, true, {}, false);
    return s;
  }
  s->kind = Stmt::Kind::SetBlock;
  s->expr = parse_filter(nullptr, false);
  s->body = parse_statements({"endset"}, true);
  return s;
}

void Parser::parse_signature(MacroDef& m) {
  expect(Tok::LParen);
  while (cur().type != Tok::RParen) {
    if (!m.params.empty()) expect(Tok::Comma);
    const Token& name = expect(Tok::Name);
    if (skip_if(Tok::Assign)) {
      m.defaults.push_back(parse_expression(true));
    } else if (!m.defaults.empty()) {
      fail_at(name, "non-default argument follows default argument");
    }
    m.params.push_back(name.text);
  }
  expect(Tok::RParen);
}

StmtPtr Parser::parse_macro() {
  auto s = std::make_unique<Stmt>();
  s->kind = Stmt::Kind::Macro;
  s->pos = pos_of(next());
  s->macro = std::make_shared<MacroDef>();
  s->macro->name = expect(Tok::Name).text;
  parse_signature(*s->macro);
  int saved = loop_depth_;
  loop_depth_ = 0;  // break / continue cannot leave a macro
  s->macro->body = parse_statements({"endmacro"}, true);
  loop_depth_ = saved;
  scan_special_names(*s->macro);
  return s;
}

StmtPtr Parser::parse_call_block() {
  auto s = std::make_unique<Stmt>();
  s->kind = Stmt::Kind::CallBlock;
  s->pos = pos_of(next());
  s->macro = std::make_shared<MacroDef>();
  s->macro->name = "caller";
  if (cur().type == Tok::LParen) parse_signature(*s->macro);
  s->expr = parse_expression(true);
  if (s->expr->kind != Expr::Kind::Call) fail_at(toks_[i_ - 1], "expected call");
  int saved = loop_depth_;
  loop_depth_ = 0;
  s->macro->body = parse_statements({"endcall"}, true);
  loop_depth_ = saved;
  scan_special_names(*s->macro);
  return s;
}

StmtPtr Parser::parse_filter_block() {
  auto s = std::make_unique<Stmt>();
  s->kind = Stmt::Kind::FilterBlock;
  s->pos = pos_of(next());
  s->expr = parse_filter(nullptr, true);
  s->body = parse_statements({"endfilter"}, true);
  return s;
}

StmtPtr Parser::parse_with() {
  auto s = std::make_unique<Stmt>();
  s->kind = Stmt::Kind::With;
  s->pos = pos_of(next());
  while (cur().type != Tok::BlockEnd) {
    if (!s->targets.empty()) expect(Tok::Comma);
    s->targets.push_back(parse_assign_target(true, false, {}, false));
    expect(Tok::Assign);
    s->exprs.push_back(parse_expression(true));
  }
  s->body = parse_statements({"endwith"}, true);
  return s;
}

StmtPtr Parser::parse_print() {
  auto s = std::make_unique<Stmt>();
  s->kind = Stmt::Kind::Output;
  s->pos = pos_of(next());
  while (cur().type != Tok::BlockEnd) {
    if (!s->exprs.empty()) expect(Tok::Comma);
    s->exprs.push_back(parse_expression(true));
    s->texts.emplace_back();
  }
  return s;
}

// Targets: names, tuples of names (simplified tuples), namespace.attr.
Target Parser::parse_assign_target(bool with_tuple, bool name_only, EndTags extra_end,
                                   bool with_namespace) {
  (void)name_only;
  Pos start = pos_of(cur());
  std::vector<Target> items;
  bool is_tuple = false;
  while (true) {
    if (!items.empty()) expect(Tok::Comma);
    if (is_tuple_end(extra_end)) break;
    items.push_back(parse_target_primary(with_namespace));
    if (with_tuple && cur().type == Tok::Comma) {
      is_tuple = true;
    } else {
      break;
    }
  }
  if (!is_tuple) {
    if (items.empty()) fail_here("can't assign to 'tuple'");
    return std::move(items[0]);
  }
  Target t;
  t.kind = Target::Kind::Tuple;
  t.pos = start;
  t.items = std::move(items);
  return t;
}

Target Parser::parse_target_primary(bool with_namespace) {
  const Token& t = cur();
  Target target;
  target.pos = pos_of(t);
  if (t.type == Tok::Name) {
    if (t.text == "true" || t.text == "false" || t.text == "True" || t.text == "False" ||
        t.text == "none" || t.text == "None")
      fail_here("can't assign to 'const'");
    const Token& name = next();
    target.name = name.text;
    if (with_namespace && cur().type == Tok::Dot) {
      next();
      target.kind = Target::Kind::NamespaceAttr;
      target.attr = expect(Tok::Name).text;
    } else if (target.name == "loop" && in_for_ > 0) {
      fail_at(name, "Can't assign to special loop variable in for-loop target");
    }
    return target;
  }
  if (t.type == Tok::LParen) {
    next();
    Target inner = parse_assign_target(true, false, {}, false);
    expect(Tok::RParen);
    return inner;
  }
  fail_here(fmt::format("can't assign to {}", quoted(describe(t))));
}

void Parser::scan_expr(const Expr* e, MacroDef& m) {
  if (!e) return;
  if (e->kind == Expr::Kind::Name) {
    if (e->name == "varargs") m.uses_varargs = true;
    if (e->name == "kwargs") m.uses_kwargs = true;
    if (e->name == "caller") m.uses_caller = true;
  }
  scan_expr(e->a.get(), m);
  scan_expr(e->b.get(), m);
  scan_expr(e->c.get(), m);
  for (const auto& x : e->items) scan_expr(x.get(), m);
  for (const auto& x : e->arguments.args) scan_expr(x.get(), m);
  for (const auto& k : e->arguments.kwargs) scan_expr(k.value.get(), m);
  scan_expr(e->arguments.star_args.get(), m);
  scan_expr(e->arguments.star_kwargs.get(), m);
}

void Parser::scan_body(const Body& body, MacroDef& m) {
  for (const auto& s : body) {
    for (const auto& x : s->exprs) scan_expr(x.get(), m);
    scan_expr(s->expr.get(), m);
    scan_expr(s->test.get(), m);
    scan_body(s->body, m);
    scan_body(s->orelse, m);
    for (const auto& [test, b] : s->elifs) {
      scan_expr(test.get(), m);
      scan_body(b, m);
    }
    if (s->macro) {
      for (const auto& d : s->macro->defaults) scan_expr(d.get(), m);
      scan_body(s->macro->body, m);
    }
  }
}

void Parser::scan_special_names(MacroDef& m) {
  for (const auto& d : m.defaults) scan_expr(d.get(), m);
  scan_body(m.body, m);
  for (const auto& p : m.params) {
    if (p == "caller") m.uses_caller = true;
  }
}

TemplateAst parse_template(std::string_view source, const TemplateOptions& options) {
  if (source.size() > options.limits.max_template_bytes)
    throw TemplateLimitError(TemplateLimit::TemplateBytes, options.limits.max_template_bytes,
                             fmt::format("template is {} bytes, over max_template_bytes ({})",
                                         source.size(), options.limits.max_template_bytes),
                             0, 0);
  return Parser(tokenize(source, options), options).parse();
}

}  // namespace vkcls::templates::detail
