#include "templates/runtime.h"

#include <fmt/format.h>

#include <algorithm>

namespace vkcls::templates::detail {
namespace {
thread_local RenderState* t_state = nullptr;

// Drops expired weak pointers once the list doubles, so it stays proportional
// to what is alive.
template <class T>
void register_weak(std::vector<std::weak_ptr<T>>& list, const std::shared_ptr<T>& p,
                   size_t& prune_at) {
  if (list.size() >= prune_at) {
    list.erase(std::remove_if(list.begin(), list.end(), [](const auto& w) { return w.expired(); }),
               list.end());
    prune_at = std::max<size_t>(64, list.size() * 2);
  }
  list.push_back(p);
}
thread_local size_t t_scope_prune = 64;
thread_local size_t t_ns_prune = 64;
}  // namespace

RenderState* render_state() {
  return t_state;
}
void set_render_state(RenderState* state) {
  t_state = state;
  t_scope_prune = 64;
  t_ns_prune = 64;
}

void charge(uint64_t steps) {
  RenderState* st = t_state;
  if (!st) return;
  st->steps += steps;
  if (st->steps > st->limits.max_steps)
    throw LimitFailure{
        TemplateLimit::Steps, st->limits.max_steps,
        fmt::format("rendering takes more than max_steps ({}) steps", st->limits.max_steps)};
}

void charge_bytes(size_t bytes) {
  charge(bytes / 64);
}

void check_size(size_t bytes) {
  RenderState* st = t_state;
  if (!st || bytes <= st->limits.max_output_bytes) return;
  throw LimitFailure{TemplateLimit::OutputBytes, st->limits.max_output_bytes,
                     fmt::format("a rendered string would be {} bytes, over max_output_bytes ({})",
                                 bytes, st->limits.max_output_bytes)};
}

DepthGuard::DepthGuard() {
  RenderState* st = t_state;
  if (!st) return;
  if (++st->depth > st->limits.max_render_depth) {
    --st->depth;
    throw LimitFailure{TemplateLimit::RenderDepth,
                       static_cast<uint64_t>(st->limits.max_render_depth),
                       fmt::format("rendering nests deeper than max_render_depth ({})",
                                   st->limits.max_render_depth)};
  }
}

DepthGuard::~DepthGuard() {
  if (t_state) --t_state->depth;
}

std::shared_ptr<NamespaceData> new_namespace() {
  auto ns = std::make_shared<NamespaceData>();
  if (t_state) register_weak(t_state->namespaces, ns, t_ns_prune);
  return ns;
}

// ---- scopes ---------------------------------------------------------------------------------

const Value* Scope::find_local(std::string_view name) const {
  for (const auto& [k, v] : vars)
    if (k == name) return &v;
  return nullptr;
}

const Value* Scope::lookup(std::string_view name) const {
  for (const Scope* s = this; s; s = s->parent.get())
    if (const Value* v = s->find_local(name)) return v;
  return nullptr;
}

void Scope::set(std::string_view name, Value value) {
  for (auto& [k, v] : vars) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  vars.emplace_back(std::string(name), std::move(value));
}

void Scope::clear() {
  std::vector<Value> values;
  values.reserve(vars.size());
  for (auto& [k, v] : vars) values.push_back(std::move(v));
  vars.clear();
  release_values(values);
}

Scope::~Scope() {
  clear();
}

std::shared_ptr<Scope> new_scope(std::shared_ptr<Scope> parent) {
  auto s = std::make_shared<Scope>();
  s->parent = std::move(parent);
  if (t_state) register_weak(t_state->scopes, s, t_scope_prune);
  return s;
}

// ---- callables and the loop object ----------------------------------------------------------

CallableData::~CallableData() {
  std::vector<Value> values;
  values.push_back(std::move(receiver));
  release_values(values);
}

const char* callable_type_name(const CallableData& c) {
  switch (c.kind) {
    case CallableData::Kind::Macro:
      return "Macro";
    case CallableData::Kind::Method:
      return "builtin_function_or_method";
    case CallableData::Kind::Builtin:
      return c.builtin == Builtin::Range ? "type" : "function";
    case CallableData::Kind::CyclerNext:
      return c.name == "Cycler" ? "Cycler" : "method";
    case CallableData::Kind::JoinerCall:
      return "Joiner";
    default:
      return "method";
  }
}

std::string callable_repr(const CallableData& c) {
  switch (c.kind) {
    case CallableData::Kind::Macro:
      return "<Macro " + repr_string(c.name) + ">";
    case CallableData::Kind::Method:
      return fmt::format("<built-in method {} of {} object>", c.name, type_name(c.receiver));
    case CallableData::Kind::Builtin:
      if (c.builtin == Builtin::Range) return "<class 'range'>";
      return fmt::format("<function {}>", c.name);
    default:
      return fmt::format("<{} object>", c.name);
  }
}

Value make_method(const Value& receiver, std::string name) {
  auto c = std::make_shared<CallableData>();
  c->kind = CallableData::Kind::Method;
  c->name = std::move(name);
  c->receiver = receiver;
  return Value::callable(std::move(c));
}

LoopData::~LoopData() {
  items.push_back(std::move(last_changed));
  release_values(items);
}

std::string loop_repr(const LoopData& l) {
  return fmt::format("<LoopContext {}/{}>", l.index0 + 1, l.items.size());
}

size_t loop_length(const LoopData& l) {
  return l.items.size();
}

// ---- call arguments -------------------------------------------------------------------------

const Value* CallArgs::kwarg(std::string_view name) const {
  for (const auto& [k, v] : kwargs)
    if (k == name) return &v;
  return nullptr;
}

const Value* CallArgs::get(size_t index, std::string_view name) {
  used_args.resize(args.size());
  used_kwargs.resize(kwargs.size());
  if (index < args.size()) {
    used_args[index] = true;
    return &args[index];
  }
  for (size_t i = 0; i < kwargs.size(); ++i) {
    if (kwargs[i].first == name) {
      used_kwargs[i] = true;
      return &kwargs[i].second;
    }
  }
  return nullptr;
}

void CallArgs::finish(std::string_view function) {
  used_args.resize(args.size());
  used_kwargs.resize(kwargs.size());
  size_t given = 0;
  for (bool u : used_args) given += u;
  if (given < args.size())
    fail(RenderErrorKind::Type,
         fmt::format("{}() takes at most {} positional argument(s) ({} given)", function, given,
                     args.size()));
  for (size_t i = 0; i < kwargs.size(); ++i)
    if (!used_kwargs[i])
      fail(RenderErrorKind::Type, fmt::format("{}() got an unexpected keyword argument {}",
                                              function, repr_string(kwargs[i].first)));
}

// ---- integers -------------------------------------------------------------------------------

int64_t checked_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    fail(RenderErrorKind::Overflow, "integer result does not fit in 64 bits");
  return r;
}

int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    fail(RenderErrorKind::Overflow, "integer result does not fit in 64 bits");
  return r;
}

int64_t to_index(const Value& v, const char* what) {
  if (v.is_int() || v.is_bool()) return v.as_int();
  fail(RenderErrorKind::Type,
       fmt::format("'{}' object cannot be interpreted as an integer ({})", type_name(v), what));
}

}  // namespace vkcls::templates::detail
