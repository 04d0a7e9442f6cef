// Values the renderer computes with: Python's types as jinja2 sees them
// (None, bool, int, float, str, list/tuple, dict, Namespace, macros and
// builtins, the loop object, Undefined), with Python's semantics for truth,
// equality, ordering, str() and repr(). Containers are immutable once built
// (transformers renders in an ImmutableSandboxedEnvironment); a Namespace is
// the one mutable object.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "templates/jinja.h"

namespace vkcls::templates::detail {

class Value;

// Why a value is undefined, for the message when it is used (jinja2's
// Undefined hint): a missing name, attribute or item, or a fixed hint.
struct UndefinedInfo {
  enum class Kind : uint8_t { Name, Attribute, Item, Hint };
  Kind kind = Kind::Hint;
  std::string name;     // the missing name / attribute, repr of a missing item key, or the hint
  std::string owner;    // "dict object", "str object", ... for Attribute / Item
  bool unsafe = false;  // sandbox: using it raises SecurityError, not UndefinedError
  std::string message() const;
};

struct ListData {
  std::vector<Value> items;
  bool is_tuple = false;
  ~ListData();
};

// Insertion-ordered dict (Python 3.7+). String keys are indexed; other keys
// are compared with Python equality (1 == 1.0 == True are one key).
struct DictData {
  std::vector<std::pair<Value, Value>> entries;
  std::unordered_map<std::string, size_t> string_index;
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  void insert(Value key, Value value);  // replaces the value of an equal key
  ~DictData();
};

struct NamespaceData {
  std::vector<std::pair<std::string, Value>> attrs;
  const Value* find(std::string_view name) const;
  void set(const std::string& name, Value value);
  void clear();  // drops every attribute (breaks reference cycles at the end of a render)
  ~NamespaceData();
};

// A one-shot iterator, what jinja2's map / select / unique / items / batch
// filters and reversed() return: always true, no len(), and iterating it
// consumes it (a second loop over it sees nothing).
struct IteratorData {
  std::vector<Value> items;
  size_t cursor = 0;
  const char* type = "generator";  // Python's type name: generator, list_reverseiterator, ...
  std::vector<Value> take();       // the items not consumed yet; consumes them
  ~IteratorData();
};

struct CallableData;  // macros, builtins, bound methods: defined by the evaluator
struct LoopData;      // the `loop` object of a for statement

class Value {
 public:
  // Alternatives in the order of Kind.
  enum class Kind : uint8_t {
    Undefined,
    None,
    Bool,
    Int,
    Float,
    String,
    List,  // list or tuple (ListData::is_tuple)
    Dict,
    Namespace,
    Callable,
    Loop,
    Iterator,
  };

  Value() = default;  // plain undefined
  static Value undefined(std::shared_ptr<const UndefinedInfo> info) {
    Value v;
    v.v_ = std::move(info);
    return v;
  }
  static Value undefined_name(std::string name);
  static Value undefined_hint(std::string hint);
  static Value none() { return Value(std::monostate{}); }
  static Value boolean(bool b) { return Value(b); }
  static Value integer(int64_t i) { return Value(i); }
  static Value number(double d) { return Value(d); }
  static Value string(std::string s) {
    return Value(std::make_shared<const std::string>(std::move(s)));
  }
  // markupsafe.Markup: a str that `safe` / `escape` made; `Markup + str`
  // escapes the str (jinja2 renders with autoescape off, so this is all it changes).
  static Value markup(std::string s) {
    Value v = string(std::move(s));
    v.markup_ = true;
    return v;
  }
  static Value list(std::vector<Value> items, bool is_tuple = false);
  static Value dict(std::shared_ptr<const DictData> d) { return Value(std::move(d)); }
  static Value ns(std::shared_ptr<NamespaceData> n) { return Value(std::move(n)); }
  static Value callable(std::shared_ptr<const CallableData> c) { return Value(std::move(c)); }
  static Value loop(std::shared_ptr<LoopData> l) { return Value(std::move(l)); }
  static Value iterator(std::vector<Value> items, const char* type = "generator");

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_undefined() const { return kind() == Kind::Undefined; }
  bool is_none() const { return kind() == Kind::None; }
  bool is_bool() const { return kind() == Kind::Bool; }
  bool is_int() const { return kind() == Kind::Int; }  // bool is not counted here
  bool is_float() const { return kind() == Kind::Float; }
  bool is_number() const { return is_bool() || is_int() || is_float(); }
  bool is_string() const { return kind() == Kind::String; }
  bool is_markup() const { return markup_ && is_string(); }
  bool is_list() const { return kind() == Kind::List; }
  bool is_tuple() const { return is_list() && list_data().is_tuple; }
  bool is_dict() const { return kind() == Kind::Dict; }
  bool is_namespace() const { return kind() == Kind::Namespace; }
  bool is_callable() const { return kind() == Kind::Callable; }
  bool is_loop() const { return kind() == Kind::Loop; }
  bool is_iterator() const { return kind() == Kind::Iterator; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return is_bool() ? (as_bool() ? 1 : 0) : std::get<int64_t>(v_); }
  double as_double() const { return is_float() ? std::get<double>(v_) : double(as_int()); }
  const std::string& as_string() const { return *std::get<StrPtr>(v_); }
  const std::shared_ptr<const std::string>& string_ptr() const { return std::get<StrPtr>(v_); }
  const ListData& list_data() const { return *std::get<ListPtr>(v_); }
  const std::vector<Value>& items() const { return list_data().items; }
  const DictData& dict_data() const { return *std::get<DictPtr>(v_); }
  const std::shared_ptr<const DictData>& dict_ptr() const { return std::get<DictPtr>(v_); }
  NamespaceData& namespace_data() const { return *std::get<NsPtr>(v_); }
  const std::shared_ptr<NamespaceData>& namespace_ptr() const { return std::get<NsPtr>(v_); }
  const CallableData& callable_data() const { return *std::get<CallPtr>(v_); }
  const std::shared_ptr<const CallableData>& callable_ptr() const { return std::get<CallPtr>(v_); }
  LoopData& loop_data() const { return *std::get<LoopPtr>(v_); }
  IteratorData& iterator_data() const { return *std::get<IterPtr>(v_); }
  const UndefinedInfo* undefined_info() const { return std::get<UndefPtr>(v_).get(); }

 private:
  using UndefPtr = std::shared_ptr<const UndefinedInfo>;
  using StrPtr = std::shared_ptr<const std::string>;
  using ListPtr = std::shared_ptr<const ListData>;
  using DictPtr = std::shared_ptr<const DictData>;
  using NsPtr = std::shared_ptr<NamespaceData>;
  using CallPtr = std::shared_ptr<const CallableData>;
  using LoopPtr = std::shared_ptr<LoopData>;
  using IterPtr = std::shared_ptr<IteratorData>;
  template <class T>
  explicit Value(T x) : v_(std::move(x)) {}
  std::variant<UndefPtr, std::monostate, bool, int64_t, double, StrPtr, ListPtr, DictPtr, NsPtr,
               CallPtr, LoopPtr, IterPtr>
      v_;
  bool markup_ = false;
};

// Destroys `values` (and what they hold) without deep recursion: children of
// a container being destroyed join one queue drained by the outermost call.
void release_values(std::vector<Value>& values);

// An error raised while rendering, before it gets its source position.
struct RenderFailure {
  RenderErrorKind kind;
  std::string message;
};
[[noreturn]] void fail(RenderErrorKind kind, std::string message);
// Raises the error an undefined value gives when it is used (attribute,
// call, arithmetic, ...): UndefinedError, or SecurityError when unsafe.
[[noreturn]] void fail_undefined(const Value& v);

// Python semantics.
bool truthy(const Value& v);
bool equals(const Value& a, const Value& b);
// a < b as Python orders them; fails with TypeError on mixed types.
bool less_than(const Value& a, const Value& b);
std::string py_str(const Value& v);   // str(v); Undefined -> ""
std::string py_repr(const Value& v);  // repr(v)
std::string repr_string(std::string_view s);
std::string format_float(double d);     // float.__repr__
const char* type_name(const Value& v);  // Python's type(v).__name__
// "dict object", "str object", "None": jinja2's object_type_repr, for messages.
std::string object_type_repr(const Value& v);
// Number of items (len()); fails with TypeError when v has none.
size_t py_len(const Value& v);
// The values a for-loop visits: list items, dict keys, string characters,
// what an iterator has left (consuming it).
std::vector<Value> iterate(const Value& v);

// JSON in: objects keep their key order (ordered_json) or nlohmann's sorted
// order (json). Strings are sanitized to valid UTF-8.
Value from_json(const nlohmann::ordered_json& j);
Value from_json(const nlohmann::json& j);
// json.dumps(v, ensure_ascii, indent, separators, sort_keys) as
// transformers' tojson filter calls it. Fails with TypeError on values JSON
// has no form for (undefined, macros, namespaces).
// `indent` is the string repeated per level, nullptr for one line.
std::string to_json(const Value& v, bool ensure_ascii, const std::string* indent,
                    const std::string* item_sep, const std::string* key_sep, bool sort_keys);

}  // namespace vkcls::templates::detail
