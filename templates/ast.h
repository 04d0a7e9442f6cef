// The parsed template: expression and statement nodes, as jinja2's parser
// builds them (jinja2/nodes.py), with filters, tests and methods already
// resolved so that rendering never meets a name it does not know.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "templates/jinja.h"
#include "templates/value.h"

namespace vkcls::templates::detail {

struct Pos {
  int line = 0;
  int column = 0;
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;
struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Keyword {
  std::string name;
  ExprPtr value;
};

// Positional and keyword arguments of a call, filter or test, plus *args / **kwargs.
struct Arguments {
  std::vector<ExprPtr> args;
  std::vector<Keyword> kwargs;
  ExprPtr star_args;
  ExprPtr star_kwargs;
};

enum class FilterId : int;  // filters.cpp
enum class TestId : int;

struct Expr {
  enum class Kind {
    Const,     // value
    Name,      // name
    Getattr,   // a.name
    Getitem,   // a[b]
    Slice,     // [start:stop:step] inside Getitem (a, b, c may be null)
    Call,      // a(arguments)
    Filter,    // a | name(arguments); a is null in filter blocks
    Test,      // a is name(arguments)
    Not,       // not a
    Neg,       // -a
    Pos,       // +a
    Binary,    // a op b
    And,       // a and b
    Or,        // a or b
    Concat,    // items joined with ~
    Compare,   // a op1 b op2 c ...
    CondExpr,  // b if a else c (c may be null)
    List,      // [items]
    Tuple,     // (items)
    Dict,      // {a: b, ...}: items holds keys and values alternately
  };
  enum class BinOp { Add, Sub, Mul, Div, FloorDiv, Mod, Pow };
  enum class CmpOp { Eq, Ne, Lt, LtEq, Gt, GtEq, In, NotIn };

  Kind kind;
  Pos pos;
  int depth = 1;     // height of this subtree (bounded by max_nesting at parse)
  Value value;       // Const
  std::string name;  // Name, Getattr, Filter, Test
  ExprPtr a, b, c;
  std::vector<ExprPtr> items;  // List, Tuple, Dict, Concat, Compare operands
  std::vector<CmpOp> ops;      // Compare
  BinOp op = BinOp::Add;
  Arguments arguments;  // Call, Filter, Test
  FilterId filter{};
  TestId test{};
};

// Assignment targets: a name, a tuple of targets, or namespace.attr.
struct Target {
  enum class Kind { Name, Tuple, NamespaceAttr };
  Kind kind = Kind::Name;
  Pos pos;
  std::string name;  // Name; NamespaceAttr: the namespace variable
  std::string attr;  // NamespaceAttr
  std::vector<Target> items;
};

struct MacroDef {
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // for the last defaults.size() params
  Body body;
  // What the body reads (jinja2 decides at compile time): these enable extra
  // positional args (varargs), keyword args (kwargs) and `caller`.
  bool uses_varargs = false;
  bool uses_kwargs = false;
  bool uses_caller = false;
};

struct Stmt {
  enum class Kind {
    Output,     // texts[i] when exprs[i] is null, else the expression's str()
    For,        // for target in iter [if test] body [else orelse]
    If,         // if test body (elif ...)* [else orelse]
    Set,        // set target = expr
    SetBlock,   // set target [| filter] body endset
    Macro,      // macro definition
    CallBlock,  // call(params) expr body endcall: body becomes `caller`
    FilterBlock,
    With,
    Break,
    Continue,
    Scope,  // a body in its own scope (the {% generation %} tag)
  };
  Kind kind;
  Pos pos;
  std::vector<std::string> texts;
  std::vector<ExprPtr> exprs;
  Target target;
  std::vector<Target> targets;  // With
  ExprPtr expr;                 // For iter, If test, Set value, CallBlock call, FilterBlock filter
  ExprPtr test;                 // For filter
  Body body;
  Body orelse;
  std::vector<std::pair<ExprPtr, Body>> elifs;
  std::shared_ptr<MacroDef> macro;  // Macro, CallBlock (the caller's signature and body)
};

struct TemplateAst {
  Body body;
};

// Throws TemplateSyntaxError / TemplateLimitError.
TemplateAst parse_template(std::string_view source, const TemplateOptions& options);

// jinja2's constant folding (its optimizer and its compiler's output step):
// evaluates an expression as nodes.Expr.as_const does, false when that is
// impossible (a name, a call, a filter needing the render context) or fails;
// the expression then runs at render time.
bool fold_constant(const Expr& e, const TemplateOptions& options, Value& out);
// Whether the folded value may replace the expression (compiler.has_safe_repr).
bool has_safe_repr(const Value& v);

// Name resolution used by the parser (filters.cpp / methods.cpp).
bool lookup_filter(const std::string& name, FilterId& id);
bool lookup_test(const std::string& name, TestId& id);
// A method name that Python's str / list / dict have but this renderer does
// not implement: calling it is refused at parse.
bool is_unsupported_method(const std::string& name);

}  // namespace vkcls::templates::detail
