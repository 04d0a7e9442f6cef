// What the evaluator, filters and methods share while rendering: the per-render
// budget (steps, depth, sizes), callables (macros, builtins, bound methods),
// the loop object, call arguments, and the sandbox's attribute / item access.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "templates/ast.h"
#include "templates/value.h"

namespace vkcls::templates::detail {

// A limit reached while rendering, before it gets its source position.
struct LimitFailure {
  TemplateLimit limit;
  uint64_t value;
  std::string message;
};

// raise_exception(message), carried up to Template::render.
struct RaisedFailure {
  std::string message;
};

struct Scope;

// Counters of one render. The evaluator installs it for the current thread;
// helpers below are no-ops when no render is active.
struct RenderState {
  explicit RenderState(const TemplateLimits& l) : limits(l) {}
  const TemplateLimits& limits;
  const std::function<std::chrono::system_clock::time_point()>* clock = nullptr;  // strftime_now
  uint64_t steps = 0;
  int depth = 0;
  int call_depth = 0;
  // Everything that can close a reference cycle (a scope captured by a macro
  // stored in that scope; a namespace holding itself), cleared after the render.
  std::vector<std::weak_ptr<Scope>> scopes;
  std::vector<std::weak_ptr<NamespaceData>> namespaces;
};
RenderState* render_state();
void set_render_state(RenderState* state);

void charge(uint64_t steps);                     // LimitFailure(Steps) past max_steps
void charge_bytes(size_t bytes);                 // one step per 64 bytes built
void check_size(size_t bytes);                   // LimitFailure(OutputBytes) past max_output_bytes
std::shared_ptr<NamespaceData> new_namespace();  // registered for cycle breaking

// Bounds the C++ recursion of every recursive step of a render.
struct DepthGuard {
  DepthGuard();
  ~DepthGuard();
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;
};

// Variables of one scope: the template, a loop iteration, a macro call.
struct Scope {
  std::shared_ptr<Scope> parent;
  std::vector<std::pair<std::string, Value>> vars;
  const Value* find_local(std::string_view name) const;
  const Value* lookup(std::string_view name) const;  // this scope, then its parents
  void set(std::string_view name, Value value);
  void clear();
  ~Scope();
};
std::shared_ptr<Scope> new_scope(std::shared_ptr<Scope> parent);

enum class Builtin { Range, Namespace, Dict, RaiseException, StrftimeNow, Cycler, Joiner, Lipsum };

struct CallableData {
  enum class Kind {
    Macro,
    Builtin,
    Method,
    CyclerNext,
    CyclerReset,
    JoinerCall,
    LoopCycle,
    LoopChanged
  };
  Kind kind = Kind::Builtin;
  std::string name;
  // Macro: its definition (owned by the template) and the scope it closes over.
  const MacroDef* macro = nullptr;
  std::shared_ptr<Scope> closure;
  Builtin builtin = Builtin::Range;
  // Method: receiver.name(...); cycler / joiner / loop helpers keep state here.
  Value receiver;
  std::shared_ptr<NamespaceData> state;
  ~CallableData();
};
const char* callable_type_name(const CallableData& c);
std::string callable_repr(const CallableData& c);
Value make_method(const Value& receiver, std::string name);

struct LoopData {
  std::vector<Value> items;
  size_t index0 = 0;
  Value last_changed;  // loop.changed(...) state
  bool has_changed = false;
  ~LoopData();
};
std::string loop_repr(const LoopData& l);
size_t loop_length(const LoopData& l);

struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
  const Value* kwarg(std::string_view name) const;
  // Argument `index` or keyword `name`, else nullptr; marks it used.
  const Value* get(size_t index, std::string_view name);
  // Fails with TypeError when an argument was not consumed (too many, unknown keyword).
  void finish(std::string_view function);
  std::vector<bool> used_args, used_kwargs;
};

// The evaluator as filters see it: calling values, applying filters and tests.
class Interp {
 public:
  virtual ~Interp() = default;
  virtual Value call(const Value& callee, CallArgs args) = 0;
  virtual Value apply_filter(const std::string& name, const Value& v, CallArgs args) = 0;
  virtual bool apply_test(const std::string& name, const Value& v, CallArgs args) = 0;
};

// Runs a template body (eval.cpp); on failure `where` is the innermost
// node's position and the RenderFailure / LimitFailure / RaisedFailure propagates.
std::string render_body(const Body& body, const Value& context, RenderState& state, Pos& where);

// Globals (range, namespace, dict, raise_exception, strftime_now, cycler,
// joiner) and the helper callables they return (builtins.cpp).
Value call_builtin(Interp& in, const CallableData& c, CallArgs& args);
Value call_helper(const CallableData& c, CallArgs& args);

// Sandboxed access (jinja2 SandboxedEnvironment.getattr / getitem).
Value get_attr(const Value& obj, const std::string& name);
Value get_item(const Value& obj, const Value& key);
// The Python attribute only, without the item fallback (the `attr` filter).
Value get_python_attr(const Value& obj, const std::string& name);
Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step);

// Operators with Python semantics (ops.cpp).
Value binary_op(Expr::BinOp op, const Value& a, const Value& b);
Value negate(const Value& v, bool minus);
bool contains(const Value& container, const Value& item);  // item in container
bool compare_op(Expr::CmpOp op, const Value& a, const Value& b);

// Methods of str / dict / list (methods.cpp).
bool is_method_of(const Value& receiver, std::string_view name);
bool is_unsafe_method(const Value& receiver,
                      std::string_view name);  // list.append, dict.update, ...
Value call_method(Interp& in, const Value& receiver, const std::string& name, CallArgs& args);

// Python string formatting (pyformat.cpp): "..." % args and str.format.
std::string percent_format(const std::string& format, const Value& args);
std::string str_format(Interp& in, const std::string& format, CallArgs& args);

// Filters and tests (filters.cpp).
Value run_filter(Interp& in, FilterId id, const std::string& name, const Value& v, CallArgs& args);
bool run_test(Interp& in, TestId id, const std::string& name, const Value& v, CallArgs& args);

// markupsafe.escape: & < > " ' as HTML entities.
std::string html_escape(std::string_view s);

// Integer helpers with overflow checks (OverflowError).
int64_t checked_add(int64_t a, int64_t b);
int64_t checked_mul(int64_t a, int64_t b);
// An int argument (bools count), else TypeError naming `what`.
int64_t to_index(const Value& v, const char* what);

}  // namespace vkcls::templates::detail
