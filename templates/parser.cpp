// Recursive-descent parser following jinja2/parser.py rule for rule, so that
// precedence and the odd corners (filters binding tighter than unary minus,
// `a if b` without else, implicit test arguments) come out the same.
#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>

#include "templates/ast.h"
#include "templates/lexer.h"

namespace vkcls::templates::detail {
namespace {

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
  ExprPtr done(ExprPtr e) {
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
    if (e->kind != Expr::Kind::Const && e->kind != Expr::Kind::Name &&
        e->kind != Expr::Kind::Slice && fold_constant(*e, opt_, v) && has_safe_repr(v))
      return constant(e->pos, std::move(v));
    return e;
  }

  static ExprPtr constant(Pos pos, Value v) {
    auto c = make(Expr::Kind::Const, pos);
    c->value = std::move(v);
    return c;
  }

  // jinja2's compiler writes a constant {{ }} expression as text while
  // compiling, whatever its value (Undefined prints as nothing).
  ExprPtr fold_output(ExprPtr e) {
    Value v;
    if (e->kind == Expr::Kind::Const || !fold_constant(*e, opt_, v)) return e;
    try {
      return constant(e->pos, Value::string(py_str(v)));
    } catch (const RenderFailure&) {
      return e;
    }
  }

  // ---- statements ----
  using EndTags = std::initializer_list<const char*>;

  bool at_end_tag(EndTags ends) const {
    for (const char* e : ends)
      if (is_name(cur(), e)) return true;
    return false;
  }

  Body subparse(EndTags ends) {
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

  [[noreturn]] void fail_eof(EndTags ends) {
    std::string looking;
    for (const char* e : ends) looking += (looking.empty() ? "" : " or ") + quoted(e);
    std::string msg =
        "Unexpected end of template. Jinja was looking for the following tags: " + looking + ".";
    if (!tag_stack_.empty())
      msg += " The innermost block that needs to be closed is " + quoted(tag_stack_.back()) + ".";
    fail_here(msg);
  }

  Body parse_statements(EndTags ends, bool drop_needle) {
    skip_if(Tok::Colon);
    expect(Tok::BlockEnd);
    Body body = subparse(ends);
    if (drop_needle) next();
    return body;
  }

  StmtPtr parse_statement() {
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

  [[noreturn]] void fail_unknown_tag(const Token& t) {
    std::string msg = fmt::format("Encountered unknown tag {}.", quoted(t.text));
    if (!tag_stack_.empty())
      msg += " The innermost block that needs to be closed is " + quoted(tag_stack_.back()) + ".";
    fail_at(t, msg);
  }

  StmtPtr parse_for() {
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

  StmtPtr parse_if() {
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

  StmtPtr parse_set() {
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

  void parse_signature(MacroDef& m) {
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

  StmtPtr parse_macro() {
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

  StmtPtr parse_call_block() {
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

  StmtPtr parse_filter_block() {
    auto s = std::make_unique<Stmt>();
    s->kind = Stmt::Kind::FilterBlock;
    s->pos = pos_of(next());
    s->expr = parse_filter(nullptr, true);
    s->body = parse_statements({"endfilter"}, true);
    return s;
  }

  StmtPtr parse_with() {
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

  StmtPtr parse_print() {
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
  Target parse_assign_target(bool with_tuple, bool name_only, EndTags extra_end,
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

  Target parse_target_primary(bool with_namespace) {
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

  bool is_tuple_end(EndTags extra_end) const {
    Tok t = cur().type;
    if (t == Tok::VariableEnd || t == Tok::BlockEnd || t == Tok::RParen) return true;
    return at_end_tag(extra_end);
  }

  // ---- expressions ----
  ExprPtr parse_expression(bool with_condexpr) {
    Nest nest(*this);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
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

  ExprPtr parse_or() {
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

  ExprPtr parse_and() {
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

  ExprPtr parse_not() {
    if (is_name(cur(), "not")) {
      Nest nest(*this);
      auto e = make(Expr::Kind::Not, pos_of(next()));
      e->a = parse_not();
      return done(std::move(e));
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
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

  ExprPtr binary(Expr::BinOp op, ExprPtr left, ExprPtr right, Pos pos) {
    auto e = make(Expr::Kind::Binary, pos);
    e->op = op;
    e->a = std::move(left);
    e->b = std::move(right);
    return done(std::move(e));
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (cur().type == Tok::Add || cur().type == Tok::Sub) {
      Expr::BinOp op = cur().type == Tok::Add ? Expr::BinOp::Add : Expr::BinOp::Sub;
      Pos pos = pos_of(next());
      left = binary(op, std::move(left), parse_concat(), pos);
    }
    return left;
  }

  ExprPtr parse_concat() {
    Pos pos = pos_of(cur());
    ExprPtr first = parse_math2();
    if (cur().type != Tok::Tilde) return first;
    auto e = make(Expr::Kind::Concat, pos);
    e->items.push_back(std::move(first));
    while (skip_if(Tok::Tilde)) e->items.push_back(parse_math2());
    return done(std::move(e));
  }

  ExprPtr parse_math2() {
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

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (cur().type == Tok::Pow) {
      Pos pos = pos_of(next());
      left = binary(Expr::BinOp::Pow, std::move(left), parse_unary(true), pos);
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
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

  ExprPtr parse_primary() {
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

  ExprPtr parse_tuple(bool simplified, bool with_condexpr, EndTags extra_end,
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

  ExprPtr parse_list() {
    auto e = make(Expr::Kind::List, pos_of(expect(Tok::LBracket)));
    while (cur().type != Tok::RBracket) {
      if (!e->items.empty()) expect(Tok::Comma);
      if (cur().type == Tok::RBracket) break;
      e->items.push_back(parse_expression(true));
    }
    expect(Tok::RBracket);
    return done(std::move(e));
  }

  ExprPtr parse_dict() {
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

  ExprPtr parse_postfix(ExprPtr node) {
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

  ExprPtr parse_filter_expr(ExprPtr node) {
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

  ExprPtr parse_subscript(ExprPtr node) {
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

  ExprPtr parse_subscribed() {
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
      if (cur().type != Tok::RBracket && cur().type != Tok::Comma)
        slice->c = parse_expression(true);
    }
    return done(std::move(slice));
  }

  Arguments parse_call_args() {
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

  ExprPtr parse_call(ExprPtr node) {
    Nest nest(*this);
    auto e = make(Expr::Kind::Call, pos_of(cur()));
    if (node->kind == Expr::Kind::Getattr && is_unsupported_method(node->name))
      fail_at(toks_[i_ - 1], fmt::format("the method {} is not supported", quoted(node->name)));
    e->arguments = parse_call_args();
    e->a = std::move(node);
    return done(std::move(e));
  }

  std::string dotted_name() {
    std::string name = expect(Tok::Name).text;
    while (cur().type == Tok::Dot) {
      next();
      name += "." + expect(Tok::Name).text;
    }
    return name;
  }

  ExprPtr parse_filter(ExprPtr node, bool start_inline) {
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

  ExprPtr parse_test(ExprPtr node) {
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

  // ---- macro body analysis (what jinja2's compiler finds undeclared) ----
  static void scan_expr(const Expr* e, MacroDef& m) {
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
  static void scan_body(const Body& body, MacroDef& m) {
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
  static void scan_special_names(MacroDef& m) {
    for (const auto& d : m.defaults) scan_expr(d.get(), m);
    scan_body(m.body, m);
    for (const auto& p : m.params) {
      if (p == "caller") m.uses_caller = true;
    }
  }

  std::vector<Token> toks_;
  const TemplateOptions& opt_;
  size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;  // for bodies break / continue may leave (reset inside macros)
  int in_for_ = 0;      // for statements being parsed: no assigning `loop` anywhere inside
  std::vector<std::string> tag_stack_;
};

}  // namespace

TemplateAst parse_template(std::string_view source, const TemplateOptions& options) {
  if (source.size() > options.limits.max_template_bytes)
    throw TemplateLimitError(TemplateLimit::TemplateBytes, options.limits.max_template_bytes,
                             fmt::format("template is {} bytes, over max_template_bytes ({})",
                                         source.size(), options.limits.max_template_bytes),
                             0, 0);
  return Parser(tokenize(source, options), options).parse();
}

}  // namespace vkcls::templates::detail
