// Attribute and item access as jinja2's sandbox does it: `a.b` tries the
// Python attribute first (methods of str / dict / list, namespace and loop
// attributes) and then the item; `a[b]` tries the item first and then, for
// string keys, the attribute. Misses give Undefined; using an undefined
// value's attribute or item is an error; private attributes are unsafe.
#include <fmt/format.h>

#include "templates/runtime.h"
#include "templates/unicode.h"

namespace vkcls::templates::detail {
namespace {

Value undefined_attr(const Value& obj, const std::string& name, bool unsafe = false) {
  auto info = std::make_shared<UndefinedInfo>();
  if (unsafe) {
    info->kind = UndefinedInfo::Kind::Hint;
    info->name = fmt::format("access to attribute {} of {} object is unsafe.", repr_string(name),
                             repr_string(type_name(obj)));
    info->unsafe = true;
  } else {
    info->kind = UndefinedInfo::Kind::Attribute;
    info->name = name;
    info->owner = object_type_repr(obj);
  }
  return Value::undefined(std::move(info));
}

Value undefined_item(const Value& obj, const Value& key) {
  if (key.is_string()) return undefined_attr(obj, key.as_string());
  auto info = std::make_shared<UndefinedInfo>();
  info->kind = UndefinedInfo::Kind::Item;
  info->name = py_repr(key);
  info->owner = object_type_repr(obj);
  return Value::undefined(std::move(info));
}

Value loop_helper(const Value& loop, CallableData::Kind kind, const char* name) {
  auto c = std::make_shared<CallableData>();
  c->kind = kind;
  c->name = name;
  c->receiver = loop;
  return Value::callable(std::move(c));
}

// The Python attribute, when the object has one: nullopt-like Undefined
// with no info means "no such attribute".
bool python_attr(const Value& obj, const std::string& name, Value& out) {
  if (name.size() >= 2 && name[0] == '_' && name[1] == '_') {
    out = undefined_attr(obj, name, true);  // __class__, __init__, ...: refused by the sandbox
    return true;
  }
  switch (obj.kind()) {
    case Value::Kind::String:
    case Value::Kind::List:
    case Value::Kind::Dict:
      if (!is_method_of(obj, name)) return false;
      out = is_unsafe_method(obj, name) ? undefined_attr(obj, name, true) : make_method(obj, name);
      return true;
    case Value::Kind::Namespace: {
      const Value* v = obj.namespace_data().find(name);
      if (!v) return false;
      out = *v;
      return true;
    }
    case Value::Kind::Loop: {
      const LoopData& l = obj.loop_data();
      const size_t n = l.items.size(), i = l.index0;
      if (name == "index")
        out = Value::integer(static_cast<int64_t>(i + 1));
      else if (name == "index0")
        out = Value::integer(static_cast<int64_t>(i));
      else if (name == "revindex")
        out = Value::integer(static_cast<int64_t>(n - i));
      else if (name == "revindex0")
        out = Value::integer(static_cast<int64_t>(n - i - 1));
      else if (name == "first")
        out = Value::boolean(i == 0);
      else if (name == "last")
        out = Value::boolean(i + 1 == n);
      else if (name == "length")
        out = Value::integer(static_cast<int64_t>(n));
      else if (name == "depth")
        out = Value::integer(1);
      else if (name == "depth0")
        out = Value::integer(0);
      else if (name == "previtem")
        out = i > 0 ? l.items[i - 1] : Value::undefined_hint("there is no previous item");
      else if (name == "nextitem")
        out = i + 1 < n ? l.items[i + 1] : Value::undefined_hint("there is no next item");
      else if (name == "cycle")
        out = loop_helper(obj, CallableData::Kind::LoopCycle, "cycle");
      else if (name == "changed")
        out = loop_helper(obj, CallableData::Kind::LoopChanged, "changed");
      else
        return false;
      return true;
    }
    case Value::Kind::Callable: {
      const CallableData& c = obj.callable_data();
      if (c.kind == CallableData::Kind::Macro && name == "name") {
        out = Value::string(c.name);
        return true;
      }
      if (c.kind == CallableData::Kind::CyclerNext && c.name == "Cycler") {
        if (name == "next" || name == "reset") {
          auto m = std::make_shared<CallableData>();
          m->kind =
              name == "next" ? CallableData::Kind::CyclerNext : CallableData::Kind::CyclerReset;
          m->name = name;
          m->receiver = c.receiver;
          m->state = c.state;
          out = Value::callable(std::move(m));
          return true;
        }
        if (name == "current") {
          const Value* pos = c.state->find("pos");
          const auto& items = c.receiver.items();
          out = items.empty() ? Value::none() : items[static_cast<size_t>(pos->as_int())];
          return true;
        }
      }
      return false;
    }
    default:
      return false;
  }
}

}  // namespace

Value get_attr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) fail_undefined(obj);
  Value out;
  if (python_attr(obj, name, out)) return out;
  if (obj.is_dict()) {
    if (const Value* v = obj.dict_data().find(std::string_view(name))) return *v;
  }
  return undefined_attr(obj, name);
}

Value get_python_attr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) fail_undefined(obj);
  Value out;
  if (python_attr(obj, name, out)) return out;
  return undefined_attr(obj, name);
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) fail_undefined(obj);
  switch (obj.kind()) {
    case Value::Kind::Dict: {
      if ((key.is_list() && !key.is_tuple()) || key.is_dict())
        return undefined_item(obj, key);  // unhashable: TypeError, caught by the sandbox
      if (const Value* v = obj.dict_data().find(key)) return *v;
      break;
    }
    case Value::Kind::List:
    case Value::Kind::String: {
      if (!key.is_int() && !key.is_bool()) break;
      int64_t i = key.as_int();
      if (obj.is_list()) {
        const auto& items = obj.items();
        int64_t n = static_cast<int64_t>(items.size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) return undefined_item(obj, key);
        return items[static_cast<size_t>(i)];
      }
      const std::string& s = obj.as_string();
      std::vector<size_t> offsets = utf8_offsets(s);
      int64_t n = static_cast<int64_t>(offsets.size()) - 1;
      if (i < 0) i += n;
      if (i < 0 || i >= n) return undefined_item(obj, key);
      size_t b = offsets[static_cast<size_t>(i)], e = offsets[static_cast<size_t>(i) + 1];
      return Value::string(s.substr(b, e - b));
    }
    default:
      break;
  }
  if (key.is_string()) {
    Value out;
    if (python_attr(obj, key.as_string(), out)) return out;
  }
  return undefined_item(obj, key);
}

namespace {

// Python's slice.indices(): clamps start / stop for a sequence of length n.
void slice_indices(const Value& start_v, const Value& stop_v, const Value& step_v, int64_t n,
                   int64_t& start, int64_t& stop, int64_t& step) {
  auto index = [](const Value& v) {
    if (v.is_int() || v.is_bool()) return v.as_int();
    fail(RenderErrorKind::Type,
         "slice indices must be integers or None or have an __index__ method");
  };
  step = step_v.is_none() ? 1 : index(step_v);
  if (step == 0) fail(RenderErrorKind::Value, "slice step cannot be zero");
  if (step == INT64_MIN) step = -INT64_MAX;
  auto clamp = [&](const Value& v, int64_t dflt) {
    if (v.is_none()) return dflt;
    int64_t x = index(v);
    if (x < 0) {
      x = x < -n ? (step < 0 ? -1 : 0) : x + n;
    } else if (x >= n) {
      x = step < 0 ? n - 1 : n;
    }
    return x;
  };
  start = clamp(start_v, step < 0 ? n - 1 : 0);
  stop = clamp(stop_v, step < 0 ? -1 : n);
}

}  // namespace

Value get_slice(const Value& obj, const Value& start_v, const Value& stop_v, const Value& step_v) {
  if (obj.is_undefined()) fail_undefined(obj);
  // jinja2 compiles slices to plain Python subscripts (no sandbox getitem):
  // anything but a sequence raises.
  if (obj.is_dict()) fail(RenderErrorKind::Type, "unhashable type: 'slice'");
  if (!obj.is_list() && !obj.is_string())
    fail(RenderErrorKind::Type, fmt::format("'{}' object is not subscriptable", type_name(obj)));
  std::vector<size_t> offsets;
  int64_t n;
  if (obj.is_list()) {
    n = static_cast<int64_t>(obj.items().size());
  } else {
    offsets = utf8_offsets(obj.as_string());
    n = static_cast<int64_t>(offsets.size()) - 1;
  }
  int64_t start, stop, step;
  slice_indices(start_v, stop_v, step_v, n, start, stop, step);
  // Number of picked positions, computed without overflowing (step may be huge).
  uint64_t count = 0;
  if (step > 0 && start < stop) {
    count = (static_cast<uint64_t>(stop) - static_cast<uint64_t>(start) - 1) /
                static_cast<uint64_t>(step) +
            1;
  } else if (step < 0 && start > stop) {
    count = (static_cast<uint64_t>(start) - static_cast<uint64_t>(stop) - 1) /
                static_cast<uint64_t>(-step) +
            1;
  }
  auto pick = [&](uint64_t k) {
    return static_cast<size_t>(start + static_cast<int64_t>(k) * step);
  };
  charge(count);
  if (obj.is_list()) {
    std::vector<Value> items;
    items.reserve(count);
    for (uint64_t k = 0; k < count; ++k) items.push_back(obj.items()[pick(k)]);
    return Value::list(std::move(items), obj.is_tuple());
  }
  const std::string& s = obj.as_string();
  std::string out;
  if (step == 1) {
    if (count > 0)
      out = s.substr(offsets[pick(0)], offsets[pick(count - 1) + 1] - offsets[pick(0)]);
  } else {
    for (uint64_t k = 0; k < count; ++k) {
      size_t i = pick(k);
      out.append(s, offsets[i], offsets[i + 1] - offsets[i]);
    }
  }
  charge_bytes(out.size());
  return Value::string(std::move(out));
}

}  // namespace vkcls::templates::detail
