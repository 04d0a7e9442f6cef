#include "templates/value.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "templates/runtime.h"
#include "templates/unicode.h"

namespace vkcls::templates::detail {

// ---- construction and containers ------------------------------------------------------------

Value Value::undefined_name(std::string name) {
  auto info = std::make_shared<UndefinedInfo>();
  info->kind = UndefinedInfo::Kind::Name;
  info->name = std::move(name);
  return undefined(std::move(info));
}

Value Value::undefined_hint(std::string hint) {
  auto info = std::make_shared<UndefinedInfo>();
  info->kind = UndefinedInfo::Kind::Hint;
  info->name = std::move(hint);
  return undefined(std::move(info));
}

Value Value::list(std::vector<Value> items, bool is_tuple) {
  auto d = std::make_shared<ListData>();
  d->items = std::move(items);
  d->is_tuple = is_tuple;
  return Value(std::shared_ptr<const ListData>(std::move(d)));
}

Value Value::iterator(std::vector<Value> items, const char* type) {
  auto d = std::make_shared<IteratorData>();
  d->items = std::move(items);
  d->type = type;
  return Value(std::move(d));
}

std::vector<Value> IteratorData::take() {
  std::vector<Value> out(items.begin() + static_cast<std::ptrdiff_t>(cursor), items.end());
  cursor = items.size();
  return out;
}

std::string UndefinedInfo::message() const {
  switch (kind) {
    case Kind::Name:
      return repr_string(name) + " is undefined";
    case Kind::Attribute:
      return repr_string(owner) + " has no attribute " + repr_string(name);
    case Kind::Item:
      return owner + " has no element " + name;
    case Kind::Hint:
      break;
  }
  return name;
}

const Value* DictData::find(std::string_view key) const {
  auto it = string_index.find(std::string(key));
  return it == string_index.end() ? nullptr : &entries[it->second].second;
}

const Value* DictData::find(const Value& key) const {
  if (key.is_string()) return find(key.as_string());
  for (const auto& [k, v] : entries)
    if (!k.is_string() && equals(k, key)) return &v;
  return nullptr;
}

void DictData::insert(Value key, Value value) {
  if (key.is_string()) {
    auto [it, fresh] = string_index.emplace(key.as_string(), entries.size());
    if (!fresh) {
      entries[it->second].second = std::move(value);
      return;
    }
    entries.emplace_back(std::move(key), std::move(value));
    return;
  }
  for (auto& [k, v] : entries) {
    if (!k.is_string() && equals(k, key)) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

const Value* NamespaceData::find(std::string_view name) const {
  for (const auto& [k, v] : attrs)
    if (k == name) return &v;
  return nullptr;
}

void NamespaceData::set(const std::string& name, Value value) {
  for (auto& [k, v] : attrs) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  attrs.emplace_back(name, std::move(value));
}

// Containers hand their children to one queue drained by the outermost
// destructor, so freeing a deeply nested value never recurses deeply.
namespace {
thread_local std::vector<Value>* t_release_queue = nullptr;
}

void release_values(std::vector<Value>& values) {
  if (values.empty()) return;
  if (t_release_queue) {
    for (auto& v : values) t_release_queue->push_back(std::move(v));
    values.clear();
    return;
  }
  std::vector<Value> queue = std::move(values);
  values.clear();
  t_release_queue = &queue;
  while (!queue.empty()) {
    Value v = std::move(queue.back());
    queue.pop_back();
  }  // each v is destroyed here; its children join the queue
  t_release_queue = nullptr;
}

ListData::~ListData() {
  release_values(items);
}
IteratorData::~IteratorData() {
  release_values(items);
}

DictData::~DictData() {
  std::vector<Value> values;
  values.reserve(entries.size() * 2);
  for (auto& [k, v] : entries) {
    values.push_back(std::move(k));
    values.push_back(std::move(v));
  }
  release_values(values);
}

NamespaceData::~NamespaceData() {
  clear();
}

void NamespaceData::clear() {
  std::vector<Value> values;
  values.reserve(attrs.size());
  for (auto& [k, v] : attrs) values.push_back(std::move(v));
  attrs.clear();
  release_values(values);
}

// ---- errors ---------------------------------------------------------------------------------

void fail(RenderErrorKind kind, std::string message) {
  throw RenderFailure{kind, std::move(message)};
}

void fail_undefined(const Value& v) {
  const UndefinedInfo* info = v.is_undefined() ? v.undefined_info() : nullptr;
  if (!info) fail(RenderErrorKind::Undefined, "'undefined' value is undefined");
  fail(info->unsafe ? RenderErrorKind::Security : RenderErrorKind::Undefined, info->message());
}

// ---- Python semantics -----------------------------------------------------------------------

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None:
      return false;
    case Value::Kind::Bool:
      return v.as_bool();
    case Value::Kind::Int:
      return v.as_int() != 0;
    case Value::Kind::Float:
      return v.as_double() != 0.0;
    case Value::Kind::String:
      return !v.as_string().empty();
    case Value::Kind::List:
      return !v.items().empty();
    case Value::Kind::Dict:
      return !v.dict_data().entries.empty();
    case Value::Kind::Namespace:
    case Value::Kind::Callable:
    case Value::Kind::Loop:
    case Value::Kind::Iterator:
      return true;
  }
  return false;
}

namespace {

// Python compares int and float exactly; doubles hold every int up to 2^53.
int compare_numbers(const Value& a, const Value& b) {
  if (!a.is_float() && !b.is_float()) {
    int64_t x = a.as_int(), y = b.as_int();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  double x = a.as_double(), y = b.as_double();
  if (!a.is_float()) {
    double ax = static_cast<double>(a.as_int());
    if (std::isfinite(y) && std::floor(y) == y && std::fabs(y) < 9.2e18) {
      int64_t yi = static_cast<int64_t>(y);
      int64_t xi = a.as_int();
      return xi < yi ? -1 : xi > yi ? 1 : 0;
    }
    x = ax;
  } else if (!b.is_float()) {
    if (std::isfinite(x) && std::floor(x) == x && std::fabs(x) < 9.2e18) {
      int64_t xi = static_cast<int64_t>(x);
      int64_t yi = b.as_int();
      return xi < yi ? -1 : xi > yi ? 1 : 0;
    }
    y = static_cast<double>(b.as_int());
  }
  if (x < y) return -1;
  if (x > y) return 1;
  if (x == y) return 0;
  return 2;  // NaN: unordered
}

}  // namespace

bool equals(const Value& a, const Value& b) {
  DepthGuard guard;
  if (a.is_number() && b.is_number()) return compare_numbers(a, b) == 0;
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None:
      return true;
    case Value::Kind::String:
      return a.string_ptr() == b.string_ptr() || a.as_string() == b.as_string();
    case Value::Kind::List: {
      if (a.is_tuple() != b.is_tuple()) return false;
      const auto &x = a.items(), &y = b.items();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (!equals(x[i], y[i])) return false;
      return true;
    }
    case Value::Kind::Dict: {
      const auto &x = a.dict_data(), &y = b.dict_data();
      if (x.entries.size() != y.entries.size()) return false;
      for (const auto& [k, v] : x.entries) {
        const Value* other = y.find(k);
        if (!other || !equals(v, *other)) return false;
      }
      return true;
    }
    case Value::Kind::Namespace:
      return a.namespace_ptr() == b.namespace_ptr();
    case Value::Kind::Callable:
      return a.callable_ptr() == b.callable_ptr();
    case Value::Kind::Loop:
      return &a.loop_data() == &b.loop_data();
    case Value::Kind::Iterator:
      return &a.iterator_data() == &b.iterator_data();
    default:
      return false;
  }
}

bool less_than(const Value& a, const Value& b) {
  DepthGuard guard;
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) return compare_numbers(a, b) == -1;
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const auto &x = a.items(), &y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!equals(x[i], y[i])) return less_than(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  fail(RenderErrorKind::Type, fmt::format("'<' not supported between instances of '{}' and '{}'",
                                          type_name(a), type_name(b)));
}

std::string repr_string(std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back(quote);
  for (size_t i = 0; i < s.size();) {
    size_t start = i;
    char32_t c = utf8_next(s, i);
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0)) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
    } else if (c == 0xAD || (c >= 0x2028 && c <= 0x202F && c != 0x202F) || c == 0xFEFF ||
               (c >= 0x200B && c <= 0x200F) || (c >= 0x2060 && c <= 0x2064)) {
      // Non-printable format / separator characters (str.isprintable() is false).
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out.append(s.substr(start, i - start));
    }
  }
  out.push_back(quote);
  return out;
}

std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  // Shortest round-trip digits, then Python's repr layout ('r' format).
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool negative = sci[0] == '-';
  if (negative) sci.erase(0, 1);
  size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  int exponent = std::stoi(sci.substr(e + 1));
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  int decpt = exponent + 1;  // position of the decimal point after the first digit
  std::string out = negative ? "-" : "";
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
    } else if (static_cast<size_t>(decpt) >= digits.size()) {
      out += digits + std::string(static_cast<size_t>(decpt) - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(decpt)) + "." +
             digits.substr(static_cast<size_t>(decpt));
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out;
}

const char* type_name(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return "Undefined";
    case Value::Kind::None:
      return "NoneType";
    case Value::Kind::Bool:
      return "bool";
    case Value::Kind::Int:
      return "int";
    case Value::Kind::Float:
      return "float";
    case Value::Kind::String:
      return "str";
    case Value::Kind::List:
      return v.is_tuple() ? "tuple" : "list";
    case Value::Kind::Dict:
      return "dict";
    case Value::Kind::Namespace:
      return "Namespace";
    case Value::Kind::Callable:
      return callable_type_name(v.callable_data());
    case Value::Kind::Loop:
      return "LoopContext";
    case Value::Kind::Iterator:
      return v.iterator_data().type;
  }
  return "object";
}

std::string object_type_repr(const Value& v) {
  if (v.is_none()) return "None";
  std::string name = type_name(v);
  if (v.is_namespace()) return "jinja2.utils.Namespace object";
  if (v.is_loop()) return "jinja2.runtime.LoopContext object";
  return name + " object";
}

namespace {

void append_repr(std::string& out, const Value& v, std::vector<const void*>& active);

void append_str(std::string& out, const Value& v, std::vector<const void*>& active) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return;
    case Value::Kind::String:
      out += v.as_string();
      return;
    default:
      append_repr(out, v, active);
  }
}

void append_repr(std::string& out, const Value& v, std::vector<const void*>& active) {
  DepthGuard guard;
  charge(1);
  check_size(out.size());
  switch (v.kind()) {
    case Value::Kind::Undefined:
      out += "Undefined";
      return;
    case Value::Kind::None:
      out += "None";
      return;
    case Value::Kind::Bool:
      out += v.as_bool() ? "True" : "False";
      return;
    case Value::Kind::Int:
      out += std::to_string(v.as_int());
      return;
    case Value::Kind::Float:
      out += format_float(v.as_double());
      return;
    case Value::Kind::String:
      out += repr_string(v.as_string());
      return;
    case Value::Kind::List: {
      bool tuple = v.is_tuple();
      const void* self = &v.list_data();
      if (std::find(active.begin(), active.end(), self) != active.end()) {
        out += tuple ? "(...)" : "[...]";  // Python's recursive repr guard
        return;
      }
      active.push_back(self);
      out.push_back(tuple ? '(' : '[');
      const auto& items = v.items();
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        append_repr(out, items[i], active);
      }
      if (tuple && items.size() == 1) out.push_back(',');
      out.push_back(tuple ? ')' : ']');
      active.pop_back();
      return;
    }
    case Value::Kind::Dict: {
      const void* self = &v.dict_data();
      if (std::find(active.begin(), active.end(), self) != active.end()) {
        out += "{...}";
        return;
      }
      active.push_back(self);
      struct Pop {
        std::vector<const void*>& a;
        ~Pop() { a.pop_back(); }
      } pop{active};
      out.push_back('{');
      bool first = true;
      for (const auto& [k, val] : v.dict_data().entries) {
        if (!first) out += ", ";
        first = false;
        append_repr(out, k, active);
        out += ": ";
        append_repr(out, val, active);
      }
      out.push_back('}');
      return;
    }
    case Value::Kind::Namespace: {
      const void* ns = &v.namespace_data();
      out += "<Namespace ";
      if (std::find(active.begin(), active.end(), ns) != active.end()) {
        out += "{...}>";  // Python's recursive repr guard
        return;
      }
      active.push_back(ns);
      out.push_back('{');
      bool first = true;
      for (const auto& [k, val] : v.namespace_data().attrs) {
        if (!first) out += ", ";
        first = false;
        out += repr_string(k) + ": ";
        append_repr(out, val, active);
      }
      out += "}>";
      active.pop_back();
      return;
    }
    case Value::Kind::Callable:
      out += callable_repr(v.callable_data());
      return;
    case Value::Kind::Loop:
      out += loop_repr(v.loop_data());
      return;
    case Value::Kind::Iterator:
      out += fmt::format("<{} object>", v.iterator_data().type);
      return;
  }
}

}  // namespace

std::string py_str(const Value& v) {
  if (v.is_string()) return v.as_string();
  std::string out;
  std::vector<const void*> active;
  append_str(out, v, active);
  return out;
}

std::string py_repr(const Value& v) {
  std::string out;
  std::vector<const void*> active;
  append_repr(out, v, active);
  return out;
}

size_t py_len(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return 0;
    case Value::Kind::String:
      return utf8_count(v.as_string());
    case Value::Kind::List:
      return v.items().size();
    case Value::Kind::Dict:
      return v.dict_data().entries.size();
    case Value::Kind::Loop:
      return loop_length(v.loop_data());
    default:
      fail(RenderErrorKind::Type, fmt::format("object of type '{}' has no len()", type_name(v)));
  }
}

std::vector<Value> iterate(const Value& v) {
  std::vector<Value> out;
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return out;
    case Value::Kind::List:
      return v.items();
    case Value::Kind::Dict:
      out.reserve(v.dict_data().entries.size());
      for (const auto& [k, val] : v.dict_data().entries) out.push_back(k);
      return out;
    case Value::Kind::Iterator:
      return v.iterator_data().take();
    case Value::Kind::Loop:
      return v.loop_data().items;
    case Value::Kind::String: {
      const std::string& s = v.as_string();
      for (size_t i = 0; i < s.size();) {
        size_t start = i;
        utf8_next(s, i);
        out.push_back(Value::string(s.substr(start, i - start)));
      }
      return out;
    }
    default:
      fail(RenderErrorKind::Type, fmt::format("'{}' object is not iterable", type_name(v)));
  }
}

}  // namespace vkcls::templates::detail
