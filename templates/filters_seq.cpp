// jinja2's filters over sequences. Those that return generators in jinja2
// (map, select, unique, items, batch, slice, reverse) return one-shot iterators.
#include <fmt/format.h>

#include <algorithm>

#include "templates/filters.h"
#include "templates/unicode.h"

namespace vkcls::templates::detail {

bool arg_bool(CallArgs& a, size_t i, const char* name, bool dflt) {
  const Value* v = a.get(i, name);
  return v ? truthy(*v) : dflt;
}

// make_attrgetter: "a.b.0" looks up a, then b, then item 0, each through getitem.
std::vector<Value> attribute_parts(const Value& attr) {
  std::vector<Value> parts;
  if (attr.is_none()) return parts;
  if (!attr.is_string()) return {attr};
  const std::string dot = ".";
  for (auto& p : py_split(attr.as_string(), &dot, -1)) {
    bool digits =
        !p.empty() && std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
    parts.push_back(digits ? Value::integer(std::strtoll(p.c_str(), nullptr, 10))
                           : Value::string(p));
  }
  return parts;
}

Value ignore_case(const Value& v) {
  return v.is_string() ? Value::string(py_lower(v.as_string())) : v;
}

Value AttrGetter::operator()(Value item) const {
  for (const auto& p : parts) {
    item = get_item(item, p);
    if (dflt && item.is_undefined()) item = *dflt;
  }
  return lower ? ignore_case(item) : item;
}

std::vector<Value> items_of(const Value& v) {
  charge(v.is_list() ? v.items().size() : 1);
  return iterate(v);
}

static void stable_sort_by(std::vector<Value>& items, std::vector<Value>& keys, bool reverse) {
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  charge(items.size() * 4);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return reverse ? less_than(keys[b], keys[a]) : less_than(keys[a], keys[b]);
  });
  std::vector<Value> sorted;
  sorted.reserve(items.size());
  for (size_t i : order) sorted.push_back(items[i]);
  items = std::move(sorted);
}

namespace {

[[noreturn]] void type_error(const std::string& m) {
  fail(RenderErrorKind::Type, m);
}

// select / reject / selectattr / rejectattr (prepare_select_or_reject).
Value select_or_reject(Interp& in, const Value& v, CallArgs& a, bool keep, bool lookup_attr) {
  if (!truthy(v)) return Value::iterator({});
  size_t off = 0;
  AttrGetter getter;
  if (lookup_attr) {
    if (a.args.empty()) fail(RenderErrorKind::Runtime, "Missing parameter for attribute name");
    getter.parts = attribute_parts(a.args[0]);
    off = 1;
  }
  bool has_test = a.args.size() > off;
  std::string test = has_test ? py_str(a.args[off]) : "";
  CallArgs test_args;
  for (size_t i = off + 1; i < a.args.size(); ++i) test_args.args.push_back(a.args[i]);
  test_args.kwargs = a.kwargs;
  std::vector<Value> out;
  for (auto& item : items_of(v)) {
    Value x = lookup_attr ? getter(item) : item;
    bool ok = has_test ? in.apply_test(test, x, test_args) : truthy(x);
    if (ok == keep) out.push_back(std::move(item));
  }
  return Value::iterator(std::move(out));
}

Value do_map(Interp& in, const Value& v, CallArgs& a) {
  std::vector<Value> out;
  if (!truthy(v)) return Value::iterator({});  // sync_do_map: `if value:`
  const Value* attribute = a.kwarg("attribute");
  if (a.args.empty() && attribute) {
    AttrGetter getter;
    getter.parts = attribute_parts(*attribute);
    getter.dflt = a.kwarg("default");
    for (const auto& [k, val] : a.kwargs)
      if (k != "attribute" && k != "default")
        fail(RenderErrorKind::Runtime,
             fmt::format("Unexpected keyword argument {}", repr_string(k)));
    for (auto& item : items_of(v)) out.push_back(getter(item));
    return Value::iterator(std::move(out));
  }
  if (a.args.empty()) fail(RenderErrorKind::Runtime, "map requires a filter argument");
  std::string name = py_str(a.args[0]);
  CallArgs fargs;
  fargs.args.assign(a.args.begin() + 1, a.args.end());
  fargs.kwargs = a.kwargs;
  for (auto& item : items_of(v)) out.push_back(in.apply_filter(name, item, fargs));
  return Value::iterator(std::move(out));
}

std::vector<Value> sorted_items(const Value& v, CallArgs& a, bool sort_filter) {
  bool reverse = sort_filter ? arg_bool(a, 0, "reverse", false) : false;
  bool case_sensitive = arg_bool(a, sort_filter ? 1 : 0, "case_sensitive", false);
  const Value* attribute = a.get(sort_filter ? 2 : 1, "attribute");
  a.finish(sort_filter ? "sort" : "unique");
  std::vector<Value> items = items_of(v);
  // A comma separated attribute list sorts by each in turn (make_multi_attrgetter).
  std::vector<AttrGetter> getters;
  if (attribute && attribute->is_string()) {
    const std::string comma = ",";
    for (auto& part : py_split(attribute->as_string(), &comma, -1)) {
      AttrGetter g;
      g.parts = attribute_parts(Value::string(part));
      g.lower = !case_sensitive;
      getters.push_back(std::move(g));
    }
  } else {
    AttrGetter g;
    if (attribute) g.parts = attribute_parts(*attribute);
    g.lower = !case_sensitive;
    getters.push_back(std::move(g));
  }
  std::vector<Value> keys;
  keys.reserve(items.size());
  for (const auto& item : items) {
    if (getters.size() == 1) {
      keys.push_back(getters[0](item));
    } else {
      std::vector<Value> k;
      for (const auto& g : getters) k.push_back(g(item));
      keys.push_back(Value::list(std::move(k)));
    }
  }
  if (sort_filter) stable_sort_by(items, keys, reverse);
  return items;
}

Value do_unique(const Value& v, CallArgs& a) {
  bool case_sensitive = arg_bool(a, 0, "case_sensitive", false);
  const Value* attribute = a.get(1, "attribute");
  a.finish("unique");
  AttrGetter getter;
  if (attribute) getter.parts = attribute_parts(*attribute);
  getter.lower = !case_sensitive;
  std::vector<Value> out, seen;
  for (auto& item : items_of(v)) {
    Value key = getter(item);
    if ((key.is_list() && !key.is_tuple()) || key.is_dict())
      type_error(fmt::format("unhashable type: '{}'", type_name(key)));
    charge(seen.size());
    bool dup =
        std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, key); });
    if (!dup) {
      seen.push_back(std::move(key));
      out.push_back(std::move(item));
    }
  }
  return Value::iterator(std::move(out));
}

Value do_min_max(const Value& v, CallArgs& a, bool max) {
  bool case_sensitive = arg_bool(a, 0, "case_sensitive", false);
  const Value* attribute = a.get(1, "attribute");
  a.finish(max ? "max" : "min");
  std::vector<Value> items = items_of(v);
  if (items.empty()) return Value::undefined_hint("No aggregated item, sequence was empty.");
  AttrGetter getter;
  if (attribute) getter.parts = attribute_parts(*attribute);
  getter.lower = !case_sensitive;
  size_t best = 0;
  Value best_key = getter(items[0]);
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = getter(items[i]);
    if (max ? less_than(best_key, k) : less_than(k, best_key)) {
      best = i;
      best_key = std::move(k);
    }
  }
  return items[best];
}

}  // namespace

Value run_sequence_filter(Interp& in, FilterId id, const std::string& name, const Value& v,
                          CallArgs& a) {
  switch (id) {
    case FilterId::Join: {
      const Value* d = a.get(0, "d");
      const Value* attribute = a.get(1, "attribute");
      a.finish(name);
      std::string sep = d ? py_str(*d) : "";
      AttrGetter getter;
      if (attribute && !attribute->is_none()) getter.parts = attribute_parts(*attribute);
      std::string out;
      bool first = true;
      for (auto& item : items_of(v)) {
        if (!first) out += sep;
        first = false;
        Value x = getter(item);
        out += x.is_string() ? x.as_string() : py_str(x);
        check_size(out.size());
      }
      charge_bytes(out.size());
      return Value::string(std::move(out));
    }
    case FilterId::First: {
      a.finish(name);
      if (v.is_iterator()) {
        IteratorData& it = v.iterator_data();
        if (it.cursor < it.items.size()) return it.items[it.cursor++];
      } else {
        if (!v.is_list() && !v.is_dict() && !v.is_string() && !v.is_undefined() && !v.is_loop())
          type_error(fmt::format("'{}' object is not iterable", type_name(v)));
        if (v.is_list() && !v.items().empty()) return v.items()[0];
        if (!v.is_list()) {
          std::vector<Value> items = iterate(v);
          if (!items.empty()) return items[0];
        }
      }
      return Value::undefined_hint("No first item, sequence was empty.");
    }
    case FilterId::Last: {
      a.finish(name);
      if (v.is_iterator() || v.is_loop())
        type_error(fmt::format("'{}' object is not reversible", type_name(v)));
      if (!v.is_list() && !v.is_dict() && !v.is_string() && !v.is_undefined())
        type_error(fmt::format("'{}' object is not reversible", type_name(v)));
      std::vector<Value> items = v.is_list() ? v.items() : iterate(v);
      if (!items.empty()) return items.back();
      return Value::undefined_hint("No last item, sequence was empty.");
    }
    case FilterId::List:
      a.finish(name);
      return Value::list(items_of(v));
    case FilterId::Items: {
      a.finish(name);
      if (v.is_undefined()) return Value::iterator({});
      if (!v.is_dict()) type_error("Can only get item pairs from a mapping.");
      std::vector<Value> out;
      for (const auto& [k, val] : v.dict_data().entries) out.push_back(Value::list({k, val}, true));
      charge(out.size());
      return Value::iterator(std::move(out));
    }
    case FilterId::Dictsort: {
      bool case_sensitive = arg_bool(a, 0, "case_sensitive", false);
      const Value* by = a.get(1, "by");
      bool reverse = arg_bool(a, 2, "reverse", false);
      a.finish(name);
      std::string by_s = by ? py_str(*by) : "key";
      if (by_s != "key" && by_s != "value")
        fail(RenderErrorKind::Runtime, "You can only sort by either \"key\" or \"value\"");
      if (v.is_undefined()) fail_undefined(v);
      if (!v.is_dict())  // AttributeError in jinja2
        fail(RenderErrorKind::Runtime,
             fmt::format("'{}' object has no attribute 'items'", type_name(v)));
      std::vector<Value> items, keys;
      for (const auto& [k, val] : v.dict_data().entries) {
        items.push_back(Value::list({k, val}, true));
        const Value& key = by_s == "key" ? k : val;
        keys.push_back(case_sensitive ? key : ignore_case(key));
      }
      stable_sort_by(items, keys, reverse);
      return Value::list(std::move(items));
    }
    case FilterId::Sort:
      return Value::list(sorted_items(v, a, true));
    case FilterId::Unique:
      return do_unique(v, a);
    case FilterId::Min:
    case FilterId::Max:
      return do_min_max(v, a, id == FilterId::Max);
    case FilterId::Sum: {
      const Value* attribute = a.get(0, "attribute");
      const Value* start = a.get(1, "start");
      a.finish(name);
      AttrGetter getter;
      if (attribute && !attribute->is_none()) getter.parts = attribute_parts(*attribute);
      Value total = start ? *start : Value::integer(0);
      for (auto& item : items_of(v)) total = binary_op(Expr::BinOp::Add, total, getter(item));
      return total;
    }
    case FilterId::Select:
    case FilterId::Reject:
      return select_or_reject(in, v, a, id == FilterId::Select, false);
    case FilterId::Selectattr:
    case FilterId::Rejectattr:
      return select_or_reject(in, v, a, id == FilterId::Selectattr, true);
    case FilterId::Map:
      return do_map(in, v, a);
    case FilterId::Reverse: {
      a.finish(name);
      if (v.is_string()) {
        std::vector<size_t> offsets = utf8_offsets(v.as_string());
        std::string out;
        for (size_t i = offsets.size() - 1; i-- > 0;)
          out.append(v.as_string(), offsets[i], offsets[i + 1] - offsets[i]);
        return Value::string(std::move(out));
      }
      if (v.is_iterator()) {  // reversed() refuses generators: list(value) reversed
        std::vector<Value> items = iterate(v);
        std::reverse(items.begin(), items.end());
        return Value::list(std::move(items));
      }
      if (!v.is_list() && !v.is_dict() && !v.is_undefined())  // FilterArgumentError
        fail(RenderErrorKind::Runtime, "argument must be iterable");
      std::vector<Value> items = items_of(v);
      std::reverse(items.begin(), items.end());
      return Value::iterator(std::move(items), v.is_dict()    ? "dict_reversekeyiterator"
                                               : v.is_tuple() ? "reversed"
                                                              : "list_reverseiterator");
    }
    case FilterId::Batch:
    case FilterId::Slice: {
      const Value* n_v = a.get(0, id == FilterId::Batch ? "linecount" : "slices");
      const Value* fill = a.get(1, "fill_with");
      a.finish(name);
      if (!n_v) type_error(name + "() missing 1 required positional argument");
      int64_t n = to_index(*n_v, name.c_str());
      std::vector<Value> items = items_of(v), out;
      if (id == FilterId::Batch) {
        if (n <= 0) fail(RenderErrorKind::Value, "batch size must be positive");
        for (size_t i = 0; i < items.size(); i += static_cast<size_t>(n)) {
          std::vector<Value> chunk(items.begin() + static_cast<std::ptrdiff_t>(i),
                                   items.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                       items.size(), i + static_cast<size_t>(n))));
          if (fill && !fill->is_none())
            while (chunk.size() < static_cast<size_t>(n)) chunk.push_back(*fill);
          out.push_back(Value::list(std::move(chunk)));
        }
      } else {
        if (n <= 0) fail(RenderErrorKind::ZeroDivision, "integer division or modulo by zero");
        if (n > 100000) fail(RenderErrorKind::Overflow, "too many slices");
        size_t len = items.size(), per = len / static_cast<size_t>(n),
               extra = len % static_cast<size_t>(n);
        size_t offset = 0;
        for (size_t s = 0; s < static_cast<size_t>(n); ++s) {
          size_t start = offset + s * per;
          if (s < extra) ++offset;
          size_t end = offset + (s + 1) * per;
          std::vector<Value> chunk(items.begin() + static_cast<std::ptrdiff_t>(start),
                                   items.begin() + static_cast<std::ptrdiff_t>(end));
          if (fill && !fill->is_none() && s >= extra) chunk.push_back(*fill);
          out.push_back(Value::list(std::move(chunk)));
        }
      }
      return Value::iterator(std::move(out));
    }
    case FilterId::Groupby: {
      const Value* attribute = a.get(0, "attribute");
      const Value* dflt = a.get(1, "default");
      bool case_sensitive = arg_bool(a, 2, "case_sensitive", false);
      a.finish(name);
      if (!attribute)
        type_error("do_groupby() missing 1 required positional argument: 'attribute'");
      AttrGetter key_of;
      key_of.parts = attribute_parts(*attribute);
      key_of.dflt = dflt && !dflt->is_none() ? dflt : nullptr;
      key_of.lower = !case_sensitive;
      AttrGetter real_key = key_of;
      real_key.lower = false;
      std::vector<Value> items = items_of(v), keys;
      for (const auto& item : items) keys.push_back(key_of(item));
      stable_sort_by(items, keys, false);
      keys.clear();
      for (const auto& item : items) keys.push_back(key_of(item));
      std::vector<Value> out;
      for (size_t i = 0; i < items.size();) {
        size_t j = i;
        std::vector<Value> group;
        while (j < items.size() && equals(keys[j], keys[i])) group.push_back(items[j++]);
        out.push_back(Value::list({real_key(items[i]), Value::list(std::move(group))}, true));
        i = j;
      }
      return Value::list(std::move(out));
    }
    default:
      break;
  }
  fail(RenderErrorKind::Runtime, fmt::format("No filter named '{}'.", name));
}

}  // namespace vkcls::templates::detail
