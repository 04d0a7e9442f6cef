// The evaluator: runs the statement tree against scopes of variables, with
// jinja2's scoping (a loop iteration, macro call or with block gets its own
// scope; if blocks do not), macros and call blocks, and the render budget.
#include <fmt/format.h>

#include <algorithm>
#include <exception>

#include "templates/runtime.h"

namespace vkcls::templates {

namespace detail {
namespace {

// Folding met something only a render can evaluate (see fold_constant).
struct Impossible {};

enum class Flow { Normal, Break, Continue };

class Evaluator final : public Interp {
 public:
  explicit Evaluator(RenderState& st, bool folding = false) : st_(st), folding_(folding) {}

  std::string run(const Body& body, const Value& context) {
    auto globals = new_scope(nullptr);
    static const std::pair<const char*, Builtin> kBuiltins[] = {
        {"range", Builtin::Range},
        {"namespace", Builtin::Namespace},
        {"dict", Builtin::Dict},
        {"raise_exception", Builtin::RaiseException},
        {"strftime_now", Builtin::StrftimeNow},
        {"cycler", Builtin::Cycler},
        {"joiner", Builtin::Joiner},
        {"lipsum", Builtin::Lipsum},
    };
    for (const auto& [name, id] : kBuiltins) {
      auto c = std::make_shared<CallableData>();
      c->kind = CallableData::Kind::Builtin;
      c->name = name;
      c->builtin = id;
      globals->set(name, Value::callable(std::move(c)));
    }
    for (const auto& [k, v] : context.dict_data().entries) globals->set(k.as_string(), v);
    auto root = new_scope(globals);
    std::string out;
    out_ = &out;
    exec_body(body, root);
    return out;
  }

  Value eval_constant(const Expr& e) { return eval(e, new_scope(nullptr)); }

  Pos position() const { return pos_; }

  // ---- Interp ----
  Value call(const Value& callee, CallArgs args) override {
    if (callee.is_undefined()) fail_undefined(callee);
    if (!callee.is_callable())
      fail(RenderErrorKind::Type, fmt::format("'{}' object is not callable", type_name(callee)));
    const CallableData& c = callee.callable_data();
    switch (c.kind) {
      case CallableData::Kind::Macro:
        return call_macro(c, args);
      case CallableData::Kind::Method:
        return call_method(*this, c.receiver, c.name, args);
      case CallableData::Kind::Builtin:
        return call_builtin(*this, c, args);
      default:
        return call_helper(c, args);
    }
  }

  Value apply_filter(const std::string& name, const Value& v, CallArgs args) override {
    FilterId id;
    if (!lookup_filter(name, id))
      fail(RenderErrorKind::Runtime, fmt::format("No filter named '{}'.", name));
    return run_filter(*this, id, name, v, args);
  }

  bool apply_test(const std::string& name, const Value& v, CallArgs args) override {
    TestId id;
    if (!lookup_test(name, id))
      fail(RenderErrorKind::Runtime, fmt::format("No test named '{}'.", name));
    return run_test(*this, id, name, v, args);
  }

 private:
  // Keeps the position of the innermost node being evaluated for error
  // messages: restored on normal exit, left in place when an error unwinds.
  struct At {
    Evaluator& e;
    Pos saved;
    int uncaught;
    At(Evaluator& ev, Pos p) : e(ev), saved(ev.pos_), uncaught(std::uncaught_exceptions()) {
      e.pos_ = p;
    }
    ~At() {
      if (std::uncaught_exceptions() == uncaught) e.pos_ = saved;
    }
  };

  void emit(std::string_view s) {
    if (s.empty()) return;
    check_size(out_->size() + s.size());
    charge_bytes(s.size());
    out_->append(s);
  }

  // ---- statements ----
  Flow exec_body(const Body& body, const std::shared_ptr<Scope>& scope) {
    for (const auto& s : body) {
      Flow f = exec(*s, scope);
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }

  Flow exec(const Stmt& s, const std::shared_ptr<Scope>& scope) {
    DepthGuard guard;
    At at(*this, s.pos);
    charge(1);
    switch (s.kind) {
      case Stmt::Kind::Output:
        for (size_t i = 0; i < s.exprs.size(); ++i) {
          if (s.exprs[i]) {
            Value v = eval(*s.exprs[i], scope);
            if (v.is_string()) {
              emit(v.as_string());
            } else {
              emit(py_str(v));
            }
          } else {
            emit(s.texts[i]);
          }
        }
        return Flow::Normal;
      case Stmt::Kind::If: {
        if (truthy(eval(*s.expr, scope))) return exec_body(s.body, scope);
        for (const auto& [test, body] : s.elifs)
          if (truthy(eval(*test, scope))) return exec_body(body, scope);
        return exec_body(s.orelse, scope);
      }
      case Stmt::Kind::For:
        return exec_for(s, scope);
      case Stmt::Kind::Set:
        assign(s.target, eval(*s.expr, scope), scope);
        return Flow::Normal;
      case Stmt::Kind::SetBlock: {
        Flow flow;
        Value body = Value::string(capture(s.body, new_scope(scope), &flow));  // its own scope
        if (flow != Flow::Normal) return flow;
        if (s.expr) body = eval_filter_chain(*s.expr, scope, body);
        assign(s.target, std::move(body), scope);
        return Flow::Normal;
      }
      case Stmt::Kind::Macro: {
        auto c = std::make_shared<CallableData>();
        c->kind = CallableData::Kind::Macro;
        c->name = s.macro->name;
        c->macro = s.macro.get();
        c->closure = scope;
        scope->set(s.macro->name, Value::callable(std::move(c)));
        return Flow::Normal;
      }
      case Stmt::Kind::CallBlock: {
        auto caller = std::make_shared<CallableData>();
        caller->kind = CallableData::Kind::Macro;
        caller->name = "caller";
        caller->macro = s.macro.get();
        caller->closure = scope;
        const Expr& call_expr = *s.expr;
        Value callee = eval(*call_expr.a, scope);
        CallArgs args = eval_args(call_expr.arguments, scope);
        args.kwargs.emplace_back("caller", Value::callable(std::move(caller)));
        Value result = call(callee, std::move(args));
        emit(py_str(result));
        return Flow::Normal;
      }
      case Stmt::Kind::FilterBlock: {
        Flow flow;
        Value body = Value::string(capture(s.body, new_scope(scope), &flow));  // its own scope
        if (flow != Flow::Normal) return flow;
        emit(py_str(eval_filter_chain(*s.expr, scope, body)));
        return Flow::Normal;
      }
      case Stmt::Kind::With: {
        auto inner = new_scope(scope);
        for (size_t i = 0; i < s.targets.size(); ++i)
          assign(s.targets[i], eval(*s.exprs[i], scope), inner);
        exec_body(s.body, inner);
        return Flow::Normal;
      }
      case Stmt::Kind::Break:
        return Flow::Break;
      case Stmt::Kind::Continue:
        return Flow::Continue;
      case Stmt::Kind::Scope: {
        auto inner = new_scope(scope);
        exec_body(s.body, inner);
        return Flow::Normal;
      }
    }
    return Flow::Normal;
  }

  // Renders a body into a string of its own (block set, filter block, macros).
  // A break / continue inside a block set or filter block leaves the enclosing
  // loop (jinja2 renders those bodies inline), reported through `flow`.
  std::string capture(const Body& body, const std::shared_ptr<Scope>& scope, Flow* flow = nullptr) {
    std::string buffer;
    std::string* saved = out_;
    out_ = &buffer;
    Flow f;
    try {
      f = exec_body(body, scope);
    } catch (...) {
      out_ = saved;
      throw;
    }
    out_ = saved;
    if (flow) *flow = f;
    return buffer;
  }

  Flow exec_for(const Stmt& s, const std::shared_ptr<Scope>& scope) {
    Value iterable = eval(*s.expr, scope);
    std::vector<Value> items = iterable.is_loop() ? iterable.loop_data().items : iterate(iterable);
    charge(items.size());
    if (s.test) {
      // The loop filter runs first, so loop.length and loop.last see only kept items.
      std::vector<Value> kept;
      for (auto& item : items) {
        auto probe = new_scope(scope);
        assign(s.target, item, probe);
        if (truthy(eval(*s.test, probe))) kept.push_back(std::move(item));
      }
      items = std::move(kept);
    }
    if (items.empty()) {
      auto inner = new_scope(scope);
      exec_body(s.orelse, inner);
      return Flow::Normal;
    }
    auto loop = std::make_shared<LoopData>();
    loop->items = std::move(items);
    Value loop_value = Value::loop(loop);
    // jinja2 clears its "no iteration" flag at the end of each iteration's body,
    // so `else` also runs when no iteration got to its end (break / continue).
    bool no_complete_iteration = true;
    for (size_t i = 0; i < loop->items.size(); ++i) {
      charge(1);
      loop->index0 = i;
      auto inner = new_scope(scope);
      inner->set("loop", loop_value);
      assign(s.target, loop->items[i], inner);
      Flow f = exec_body(s.body, inner);
      if (f == Flow::Normal) no_complete_iteration = false;
      if (f == Flow::Break) break;
    }
    if (no_complete_iteration && !s.orelse.empty()) exec_body(s.orelse, new_scope(scope));
    return Flow::Normal;
  }

  void assign(const Target& t, Value v, const std::shared_ptr<Scope>& scope) {
    switch (t.kind) {
      case Target::Kind::Name:
        scope->set(t.name, std::move(v));
        return;
      case Target::Kind::NamespaceAttr: {
        const Value* ns = scope->lookup(t.name);
        if (!ns || !ns->is_namespace())
          fail(RenderErrorKind::Runtime, "cannot assign attribute on non-namespace object");
        if (!t.attr.empty() && t.attr[0] == '_')
          fail(RenderErrorKind::Security,
               fmt::format("Chat templates cannot store underscore-prefixed attributes on a "
                           "namespace, but got {}. Please rename the attribute.",
                           repr_string(t.attr)));
        ns->namespace_data().set(t.attr, std::move(v));
        return;
      }
      case Target::Kind::Tuple: {
        if (!v.is_list() && !v.is_string() && !v.is_dict() && !v.is_undefined() && !v.is_loop())
          fail(RenderErrorKind::Type,
               fmt::format("cannot unpack non-iterable {} object", type_name(v)));
        std::vector<Value> items = v.is_loop() ? v.loop_data().items : iterate(v);
        size_t want = t.items.size();
        if (items.size() > want)
          fail(RenderErrorKind::Value,
               fmt::format("too many values to unpack (expected {})", want));
        if (items.size() < want)
          fail(
              RenderErrorKind::Value,
              fmt::format("not enough values to unpack (expected {}, got {})", want, items.size()));
        for (size_t i = 0; i < want; ++i) assign(t.items[i], std::move(items[i]), scope);
        return;
      }
    }
  }

  // ---- expressions ----
  Value eval(const Expr& e, const std::shared_ptr<Scope>& scope) {
    DepthGuard guard;
    At at(*this, e.pos);
    charge(1);
    switch (e.kind) {
      case Expr::Kind::Const:
        return e.value;
      case Expr::Kind::Name: {
        if (folding_) throw Impossible{};
        const Value* v = scope->lookup(e.name);
        return v ? *v : Value::undefined_name(e.name);
      }
      case Expr::Kind::Getattr: {
        Value obj = eval(*e.a, scope);
        return get_attr(obj, e.name);
      }
      case Expr::Kind::Getitem: {
        Value obj = eval(*e.a, scope);
        if (e.b->kind == Expr::Kind::Slice) {
          const Expr& sl = *e.b;
          Value start = sl.a ? eval(*sl.a, scope) : Value::none();
          Value stop = sl.b ? eval(*sl.b, scope) : Value::none();
          Value step = sl.c ? eval(*sl.c, scope) : Value::none();
          if (!folding_ || obj.is_undefined()) return get_slice(obj, start, stop, step);
          try {
            return get_slice(obj, start, stop, step);
          } catch (const RenderFailure& f) {
            if (f.kind != RenderErrorKind::Type) throw;
            return Value::undefined_hint(f.message);
          }
        }
        return get_item(obj, eval(*e.b, scope));
      }
      case Expr::Kind::Slice:
        fail(RenderErrorKind::Runtime, "slice outside of a subscript");
      case Expr::Kind::Call: {
        if (folding_) throw Impossible{};
        Value callee = eval(*e.a, scope);
        return call(callee, eval_args(e.arguments, scope));
      }
      case Expr::Kind::Filter: {
        if (folding_ && (!e.a || e.name == "map" || e.name == "select" || e.name == "reject" ||
                         e.name == "selectattr" || e.name == "rejectattr"))
          throw Impossible{};  // filters that need the render context do not fold
        Value v = e.a ? eval(*e.a, scope) : filter_input_;
        CallArgs args = eval_args(e.arguments, scope);
        return run_filter(*this, e.filter, e.name, v, args);
      }
      case Expr::Kind::Test: {
        Value v = eval(*e.a, scope);
        CallArgs args = eval_args(e.arguments, scope);
        return Value::boolean(run_test(*this, e.test, e.name, v, args));
      }
      case Expr::Kind::Not:
        return Value::boolean(!truthy(eval(*e.a, scope)));
      case Expr::Kind::Neg:
      case Expr::Kind::Pos:
        return negate(eval(*e.a, scope), e.kind == Expr::Kind::Neg);
      case Expr::Kind::Binary: {
        Value a = eval(*e.a, scope);
        Value b = eval(*e.b, scope);
        return binary_op(e.op, a, b);
      }
      case Expr::Kind::And: {
        Value a = eval(*e.a, scope);
        return truthy(a) ? eval(*e.b, scope) : a;
      }
      case Expr::Kind::Or: {
        Value a = eval(*e.a, scope);
        return truthy(a) ? a : eval(*e.b, scope);
      }
      case Expr::Kind::Concat: {
        std::string s;
        for (const auto& item : e.items) {
          Value v = eval(*item, scope);
          if (v.is_string()) {
            s += v.as_string();
          } else {
            s += py_str(v);
          }
          check_size(s.size());
        }
        charge_bytes(s.size());
        return Value::string(std::move(s));
      }
      case Expr::Kind::Compare: {
        Value left = eval(*e.a, scope);
        for (size_t i = 0; i < e.ops.size(); ++i) {
          Value right = eval(*e.items[i], scope);
          if (!compare_op(e.ops[i], left, right)) return Value::boolean(false);
          left = std::move(right);
        }
        return Value::boolean(true);
      }
      case Expr::Kind::CondExpr:
        if (truthy(eval(*e.a, scope))) return eval(*e.b, scope);
        if (e.c) return eval(*e.c, scope);
        return Value::undefined_hint(fmt::format(
            "the inline if-expression on line {} evaluated to false and no else section was "
            "defined.",
            e.pos.line));
      case Expr::Kind::List:
      case Expr::Kind::Tuple: {
        std::vector<Value> items;
        items.reserve(e.items.size());
        for (const auto& item : e.items) items.push_back(eval(*item, scope));
        return Value::list(std::move(items), e.kind == Expr::Kind::Tuple);
      }
      case Expr::Kind::Dict: {
        auto d = std::make_shared<DictData>();
        for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
          Value k = eval(*e.items[i], scope);
          if (k.is_list() && !k.is_tuple()) fail(RenderErrorKind::Type, "unhashable type: 'list'");
          if (k.is_dict()) fail(RenderErrorKind::Type, "unhashable type: 'dict'");
          d->insert(std::move(k), eval(*e.items[i + 1], scope));
        }
        return Value::dict(std::move(d));
      }
    }
    return Value();
  }

  // The filters of a filter block / block set, applied to `input`.
  Value eval_filter_chain(const Expr& chain, const std::shared_ptr<Scope>& scope,
                          const Value& input) {
    Value saved = filter_input_;
    filter_input_ = input;
    Value result = eval(chain, scope);
    filter_input_ = saved;
    return result;
  }

  CallArgs eval_args(const Arguments& a, const std::shared_ptr<Scope>& scope) {
    CallArgs args;
    args.args.reserve(a.args.size());
    for (const auto& x : a.args) args.args.push_back(eval(*x, scope));
    for (const auto& k : a.kwargs) args.kwargs.emplace_back(k.name, eval(*k.value, scope));
    if (a.star_args) {
      Value extra = eval(*a.star_args, scope);
      for (auto& v : iterate(extra)) args.args.push_back(std::move(v));
    }
    if (a.star_kwargs) {
      Value extra = eval(*a.star_kwargs, scope);
      if (!extra.is_dict())
        fail(RenderErrorKind::Type,
             fmt::format("argument after ** must be a mapping, not {}", type_name(extra)));
      for (const auto& [k, v] : extra.dict_data().entries) {
        if (!k.is_string()) fail(RenderErrorKind::Type, "keywords must be strings");
        args.kwargs.emplace_back(k.as_string(), v);
      }
    }
    return args;
  }

  // ---- macros (jinja2.runtime.Macro.__call__) ----
  Value call_macro(const CallableData& c, CallArgs& args) {
    const MacroDef& m = *c.macro;
    if (st_.call_depth >= st_.limits.max_call_depth)
      throw LimitFailure{TemplateLimit::CallDepth, static_cast<uint64_t>(st_.limits.max_call_depth),
                         fmt::format("macro calls nest deeper than max_call_depth ({})",
                                     st_.limits.max_call_depth)};
    struct CallDepth {
      RenderState& st;
      explicit CallDepth(RenderState& s) : st(s) { ++st.call_depth; }
      ~CallDepth() { --st.call_depth; }
    } depth(st_);

    auto scope = new_scope(c.closure);
    const size_t n = m.params.size();
    const size_t first_default = n - m.defaults.size();
    std::vector<std::pair<std::string, Value>> kwargs = std::move(args.kwargs);
    auto take_kwarg = [&](const std::string& name, Value& out) {
      for (auto it = kwargs.begin(); it != kwargs.end(); ++it) {
        if (it->first == name) {
          out = std::move(it->second);
          kwargs.erase(it);
          return true;
        }
      }
      return false;
    };
    bool found_caller = false;
    for (size_t i = 0; i < n; ++i) {
      const std::string& name = m.params[i];
      Value v;
      bool have = false;
      if (i < args.args.size()) {
        v = args.args[i];
        have = true;
      } else {
        have = take_kwarg(name, v);
      }
      if (name == "caller") found_caller = true;
      if (!have) {
        if (i >= first_default) {
          v = eval(*m.defaults[i - first_default], scope);
        } else {
          v = Value::undefined_hint(
              fmt::format("parameter {} was not provided", repr_string(name)));
        }
      }
      scope->set(name, std::move(v));
    }
    if (m.uses_caller && !found_caller) {
      Value caller;
      if (!take_kwarg("caller", caller)) caller = Value::undefined_hint("No caller defined");
      scope->set("caller", std::move(caller));
    }
    if (m.uses_kwargs) {
      auto d = std::make_shared<DictData>();
      for (auto& [k, v] : kwargs) d->insert(Value::string(k), std::move(v));
      kwargs.clear();
      scope->set("kwargs", Value::dict(std::move(d)));
    } else if (!kwargs.empty()) {
      if (kwargs.front().first == "caller")
        fail(RenderErrorKind::Type,
             fmt::format("macro {} was invoked with two values for the special caller argument. "
                         "This is most likely a bug.",
                         repr_string(m.name)));
      fail(RenderErrorKind::Type,
           fmt::format("macro {} takes no keyword argument {}", repr_string(m.name),
                       repr_string(kwargs.front().first)));
    }
    if (m.uses_varargs) {
      std::vector<Value> rest;
      for (size_t i = n; i < args.args.size(); ++i) rest.push_back(args.args[i]);
      scope->set("varargs", Value::list(std::move(rest), true));
    } else if (args.args.size() > n) {
      fail(RenderErrorKind::Type,
           fmt::format("macro {} takes not more than {} argument(s)", repr_string(m.name), n));
    }
    return Value::string(capture(m.body, scope));
  }

  RenderState& st_;
  std::string* out_ = nullptr;
  Pos pos_;
  Value filter_input_;
  // Folding constants while parsing (fold_constant): a slice goes through the
  // sandbox's getitem, so a TypeError there gives Undefined.
  bool folding_ = false;
};

}  // namespace

bool fold_constant(const Expr& e, const TemplateOptions& options, Value& out) {
  // Small limits: folding is an optimisation; anything big is left to the render.
  TemplateLimits limits = options.limits;
  limits.max_steps = std::min<uint64_t>(limits.max_steps, 100000);
  limits.max_output_bytes = std::min<size_t>(limits.max_output_bytes, 1 << 20);
  RenderState state(limits);
  RenderState* previous = render_state();
  set_render_state(&state);
  bool ok = true;
  try {
    Evaluator ev(state, true);
    out = ev.eval_constant(e);
  } catch (const RenderFailure&) {
    ok = false;
  } catch (const LimitFailure&) {
    ok = false;
  } catch (const RaisedFailure&) {
    ok = false;
  } catch (const Impossible&) {
    ok = false;
  }
  set_render_state(previous);
  return ok;
}

bool has_safe_repr(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::None:
    case Value::Kind::Bool:
    case Value::Kind::Int:
    case Value::Kind::Float:
    case Value::Kind::String:
      return true;
    case Value::Kind::List:
      for (const auto& x : v.items())
        if (!has_safe_repr(x)) return false;
      return true;
    case Value::Kind::Dict:
      for (const auto& [k, x] : v.dict_data().entries)
        if (!has_safe_repr(k) || !has_safe_repr(x)) return false;
      return true;
    default:
      return false;
  }
}

std::string render_body(const Body& body, const Value& context, RenderState& state, Pos& where) {
  Evaluator ev(state);
  try {
    return ev.run(body, context);
  } catch (...) {
    where = ev.position();
    throw;
  }
}

}  // namespace detail

}  // namespace vkcls::templates
