// Shared by the filter files: the filter ids, and jinja2's attribute getter
// and helpers the sequence filters use (filters.cpp, filters_seq.cpp).
#pragma once

#include <string>
#include <vector>

#include "templates/runtime.h"

namespace vkcls::templates::detail {

enum class FilterId : int {
  Abs,
  Attr,
  Batch,
  Capitalize,
  Center,
  Default,
  Dictsort,
  Escape,
  Filesizeformat,
  First,
  Float,
  Format,
  Groupby,
  Indent,
  Int,
  Items,
  Join,
  Last,
  Length,
  List,
  Lower,
  Map,
  Max,
  Min,
  Pprint,
  Reject,
  Rejectattr,
  Replace,
  Reverse,
  Round,
  Safe,
  Select,
  Selectattr,
  Slice,
  Sort,
  String,
  Striptags,
  Sum,
  Title,
  Tojson,
  Trim,
  Truncate,
  Unique,
  Upper,
  Urlencode,
  Wordcount,
  Xmlattr,
};

bool arg_bool(CallArgs& a, size_t i, const char* name, bool dflt);
// make_attrgetter's parts: "a.b.0" looks up a, then b, then item 0.
std::vector<Value> attribute_parts(const Value& attr);
Value ignore_case(const Value& v);  // lower-cased strings, for case-insensitive keys

struct AttrGetter {
  std::vector<Value> parts;
  const Value* dflt = nullptr;  // replaces Undefined after each step (map's default)
  bool lower = false;
  Value operator()(Value item) const;
};

std::vector<Value> items_of(const Value& v);  // iterate() with its work charged
// Filters over sequences: join, first, last, list, items, dictsort, sort, unique,
// min, max, sum, select, reject, selectattr, rejectattr, map, reverse, batch,
// slice, groupby.
Value run_sequence_filter(Interp& in, FilterId id, const std::string& name, const Value& v,
                          CallArgs& a);

}  // namespace vkcls::templates::detail
