// Methods of Python's str, dict and list that templates call, with Python's
// results (indices count code points). The sandbox refuses the mutating ones
// (list.append, dict.update, ...): ImmutableSandboxedEnvironment.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "templates/runtime.h"
#include "templates/unicode.h"

namespace vkcls::templates::detail {
namespace {

const char* const kStrMethods[] = {
    "strip",      "lstrip",       "rstrip",       "split",   "rsplit",    "splitlines",
    "startswith", "endswith",     "upper",        "lower",   "title",     "capitalize",
    "swapcase",   "replace",      "find",         "rfind",   "index",     "rindex",
    "count",      "join",         "format",       "isdigit", "isalpha",   "isalnum",
    "isspace",    "isupper",      "islower",      "istitle", "isnumeric", "isdecimal",
    "isascii",    "zfill",        "center",       "ljust",   "rjust",     "partition",
    "rpartition", "removeprefix", "removesuffix",
};
const char* const kDictMethods[] = {"get", "items",   "keys",       "values", "copy",
                                    "pop", "popitem", "setdefault", "update", "clear"};
const char* const kDictUnsafe[] = {"pop", "popitem", "setdefault", "update", "clear"};
const char* const kListMethods[] = {"index", "count",  "copy",    "append", "extend", "insert",
                                    "pop",   "remove", "reverse", "sort",   "clear"};
const char* const kListUnsafe[] = {"append", "extend",  "insert", "pop",
                                   "remove", "reverse", "sort",   "clear"};
// Python has these; this renderer does not: refused at parse.
const char* const kUnsupported[] = {"encode",      "expandtabs",   "format_map",
                                    "isprintable", "isidentifier", "maketrans",
                                    "translate",   "casefold",     "fromkeys"};

template <size_t N>
bool in_list(const char* const (&list)[N], std::string_view name) {
  for (const char* s : list)
    if (name == s) return true;
  return false;
}

const std::string& str_arg(const Value& v, const char* method) {
  if (!v.is_string())
    fail(RenderErrorKind::Type,
         fmt::format("{}() argument must be str, not {}", method, type_name(v)));
  return v.as_string();
}

// Optional chars / sep argument: None means "whitespace".
const std::string* opt_str(CallArgs& args, size_t i, const char* name, const char* method) {
  const Value* v = args.get(i, name);
  if (!v || v->is_none()) return nullptr;
  return &str_arg(*v, method);
}

// Byte offset of code point index `cp` (Python start / end arguments, clamped).
size_t byte_at(const std::vector<size_t>& offsets, int64_t cp) {
  int64_t n = static_cast<int64_t>(offsets.size()) - 1;
  if (cp < 0) cp = std::max<int64_t>(0, cp + n);
  if (cp > n) cp = n;
  return offsets[static_cast<size_t>(cp)];
}

int64_t cp_index(const std::vector<size_t>& offsets, size_t byte) {
  return static_cast<int64_t>(std::lower_bound(offsets.begin(), offsets.end(), byte) -
                              offsets.begin());
}

// The [start, end) window of s selected by optional start / end arguments.
std::pair<size_t, size_t> window(CallArgs& args, size_t first, const std::vector<size_t>& offsets) {
  size_t b = 0, e = offsets.back();
  const Value* start = args.get(first, "start");
  const Value* end = args.get(first + 1, "end");
  if (start && !start->is_none()) b = byte_at(offsets, to_index(*start, "start"));
  if (end && !end->is_none()) e = byte_at(offsets, to_index(*end, "end"));
  return {b, std::max(b, e)};
}

Value str_list(std::vector<std::string> parts) {
  std::vector<Value> items;
  items.reserve(parts.size());
  for (auto& p : parts) items.push_back(Value::string(std::move(p)));
  charge(items.size());
  return Value::list(std::move(items));
}

bool all_chars(const std::string& s, bool (*pred)(char32_t)) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size();)
    if (!pred(utf8_next(s, i))) return false;
  return true;
}

bool is_digit_char(char32_t c) {
  return (c >= '0' && c <= '9') || (c >= 0x660 && c <= 0x669) || (c >= 0xFF10 && c <= 0xFF19);
}
bool is_punct_or_symbol(char32_t c) {
  return (c < 0x80 &&
          !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) ||
         (c >= 0x2000 && c <= 0x2BFF) || (c >= 0x3000 && c <= 0x303F) ||
         (c >= 0xFF00 && c <= 0xFF0F) || (c >= 0xFE30 && c <= 0xFE4F) || c == 0xA0 ||
         (c >= 0x80 && c < 0xC0 && c != 0xAA && c != 0xB5 && c != 0xBA);
}
bool is_alpha_char(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  return py_iscased(c) || (!py_isspace(c) && !is_punct_or_symbol(c) && !is_digit_char(c));
}
bool is_alnum_char(char32_t c) {
  return is_alpha_char(c) || is_digit_char(c);
}
bool is_space_char(char32_t c) {
  return py_isspace(c);
}
bool is_ascii_char(char32_t c) {
  return c < 0x80;
}

// str.isupper / islower: at least one cased character, none of the other case.
bool case_test(const std::string& s, bool upper) {
  bool cased = false;
  for (size_t i = 0; i < s.size();) {
    char32_t c = utf8_next(s, i);
    if (upper ? py_islower_char(c) : py_isupper_char(c)) return false;
    if (upper ? py_isupper_char(c) : py_islower_char(c)) cased = true;
  }
  return cased;
}

bool istitle(const std::string& s) {
  bool cased = false, previous_cased = false;
  for (size_t i = 0; i < s.size();) {
    char32_t c = utf8_next(s, i);
    if (py_isupper_char(c)) {
      if (previous_cased) return false;
      previous_cased = cased = true;
    } else if (py_islower_char(c)) {
      if (!previous_cased) return false;
      previous_cased = cased = true;
    } else {
      previous_cased = false;
    }
  }
  return cased;
}

std::string pad(const std::string& s, int64_t width, const std::string& fill, int align) {
  int64_t len = static_cast<int64_t>(utf8_count(s));
  if (width <= len) return s;
  check_size(static_cast<size_t>(width) * fill.size());
  int64_t total = width - len, left = 0;
  if (align == 0)
    left = total / 2 + (total & width & 1);  // Python's center rounding
  else if (align > 0)
    left = total;
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += s;
  for (int64_t i = left; i < total; ++i) out += fill;
  return out;
}

bool prefix_match(const std::string& s, const Value& prefix, size_t b, size_t e, bool suffix,
                  const char* method) {
  auto one = [&](const std::string& p) {
    if (p.size() > e - b) return false;
    return suffix ? s.compare(e - p.size(), p.size(), p) == 0 : s.compare(b, p.size(), p) == 0;
  };
  if (prefix.is_tuple()) {
    for (const auto& x : prefix.items())
      if (one(str_arg(x, method))) return true;
    return false;
  }
  if (!prefix.is_string())
    fail(RenderErrorKind::Type, fmt::format("{} first arg must be str or a tuple of str, not {}",
                                            method, type_name(prefix)));
  return one(prefix.as_string());
}

std::string replace_all(const std::string& s, const std::string& old, const std::string& rep,
                        int64_t count) {
  std::string out;
  if (old.empty()) {
    // Python inserts the replacement between every character.
    int64_t done = 0;
    if (count != 0) {
      out += rep;
      ++done;
    }
    for (size_t i = 0; i < s.size();) {
      size_t start = i;
      utf8_next(s, i);
      out.append(s, start, i - start);
      if (count < 0 || done < count) {
        out += rep;
        ++done;
      }
      check_size(out.size());
    }
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t hit = s.find(old, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out += rep;
    pos = hit + old.size();
    ++done;
    check_size(out.size());
  }
  out.append(s, pos, std::string::npos);
  return out;
}

Value string_method(Interp& in, const std::string& s, const std::string& name, CallArgs& args) {
  charge_bytes(s.size());
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const std::string* chars = opt_str(args, 0, "chars", name.c_str());
    args.finish(name);
    return Value::string(std::string(py_strip(s, chars, name != "rstrip", name != "lstrip")));
  }
  if (name == "split" || name == "rsplit") {
    const std::string* sep = opt_str(args, 0, "sep", name.c_str());
    const Value* maxsplit = args.get(1, "maxsplit");
    args.finish(name);
    if (sep && sep->empty()) fail(RenderErrorKind::Value, "empty separator");
    long m = maxsplit ? static_cast<long>(to_index(*maxsplit, "maxsplit")) : -1;
    return str_list(name == "split" ? py_split(s, sep, m) : py_rsplit(s, sep, m));
  }
  if (name == "splitlines") {
    const Value* keep = args.get(0, "keepends");
    args.finish(name);
    return str_list(py_splitlines(s, keep && truthy(*keep)));
  }
  if (name == "startswith" || name == "endswith") {
    const Value* prefix = args.get(0, "prefix");
    if (!prefix) fail(RenderErrorKind::Type, name + "() takes at least 1 argument (0 given)");
    std::vector<size_t> offsets = utf8_offsets(s);
    auto [b, e] = window(args, 1, offsets);
    args.finish(name);
    return Value::boolean(prefix_match(s, *prefix, b, e, name == "endswith", name.c_str()));
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize" ||
      name == "swapcase") {
    args.finish(name);
    if (name == "upper") return Value::string(py_upper(s));
    if (name == "lower") return Value::string(py_lower(s));
    if (name == "title") return Value::string(py_title(s));
    if (name == "capitalize") return Value::string(py_capitalize(s));
    return Value::string(py_swapcase(s));
  }
  if (name == "replace") {
    const Value* old = args.get(0, "old");
    const Value* rep = args.get(1, "new");
    const Value* count = args.get(2, "count");
    args.finish(name);
    if (!old || !rep) fail(RenderErrorKind::Type, "replace expected at least 2 arguments");
    int64_t c = count ? to_index(*count, "count") : -1;
    return Value::string(replace_all(s, str_arg(*old, "replace"), str_arg(*rep, "replace"), c));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    const Value* sub_v = args.get(0, "sub");
    if (!sub_v) fail(RenderErrorKind::Type, name + "() takes at least 1 argument (0 given)");
    const std::string& sub = str_arg(*sub_v, name.c_str());
    std::vector<size_t> offsets = utf8_offsets(s);
    auto [b, e] = window(args, 1, offsets);
    args.finish(name);
    std::string_view hay = std::string_view(s).substr(b, e - b);
    if (name == "count") {
      if (sub.empty()) return Value::integer(cp_index(offsets, e) - cp_index(offsets, b) + 1);
      int64_t n = 0;
      for (size_t p = hay.find(sub); p != std::string_view::npos; p = hay.find(sub, p + sub.size()))
        ++n;
      return Value::integer(n);
    }
    bool reverse = name[0] == 'r';
    size_t hit = reverse ? hay.rfind(sub) : hay.find(sub);
    if (hit == std::string_view::npos) {
      if (name == "index" || name == "rindex") fail(RenderErrorKind::Value, "substring not found");
      return Value::integer(-1);
    }
    return Value::integer(cp_index(offsets, b + hit));
  }
  if (name == "join") {
    const Value* items_v = args.get(0, "iterable");
    args.finish(name);
    if (!items_v) fail(RenderErrorKind::Type, "join() takes exactly one argument (0 given)");
    std::vector<Value> items = iterate(*items_v);
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string())
        fail(RenderErrorKind::Type, fmt::format("sequence item {}: expected str instance, {} found",
                                                i, type_name(items[i])));
      if (i) out += s;
      out += items[i].as_string();
      check_size(out.size());
    }
    charge_bytes(out.size());
    return Value::string(std::move(out));
  }
  if (name == "format") return Value::string(str_format(in, s, args));
  if (name.rfind("is", 0) == 0) {
    args.finish(name);
    if (name == "isdigit" || name == "isdecimal" || name == "isnumeric")
      return Value::boolean(all_chars(s, is_digit_char));
    if (name == "isalpha") return Value::boolean(all_chars(s, is_alpha_char));
    if (name == "isalnum") return Value::boolean(all_chars(s, is_alnum_char));
    if (name == "isspace") return Value::boolean(all_chars(s, is_space_char));
    if (name == "isascii") return Value::boolean(s.empty() || all_chars(s, is_ascii_char));
    if (name == "isupper") return Value::boolean(case_test(s, true));
    if (name == "islower") return Value::boolean(case_test(s, false));
    if (name == "istitle") return Value::boolean(istitle(s));
  }
  if (name == "zfill" || name == "center" || name == "ljust" || name == "rjust") {
    const Value* width_v = args.get(0, "width");
    const Value* fill_v = name == "zfill" ? nullptr : args.get(1, "fillchar");
    args.finish(name);
    if (!width_v) fail(RenderErrorKind::Type, name + "() takes at least 1 argument (0 given)");
    int64_t width = to_index(*width_v, "width");
    std::string fill = fill_v ? str_arg(*fill_v, name.c_str()) : " ";
    if (utf8_count(fill) != 1)
      fail(RenderErrorKind::Type, "The fill character must be exactly one character long");
    if (name == "zfill") {
      int64_t len = static_cast<int64_t>(utf8_count(s));
      if (width <= len) return Value::string(s);
      size_t sign = !s.empty() && (s[0] == '+' || s[0] == '-') ? 1 : 0;
      check_size(static_cast<size_t>(width));
      return Value::string(s.substr(0, sign) + std::string(static_cast<size_t>(width - len), '0') +
                           s.substr(sign));
    }
    return Value::string(pad(s, width, fill, name == "center" ? 0 : name == "rjust" ? 1 : -1));
  }
  if (name == "partition" || name == "rpartition") {
    const Value* sep_v = args.get(0, "sep");
    args.finish(name);
    if (!sep_v) fail(RenderErrorKind::Type, name + "() takes exactly one argument (0 given)");
    const std::string& sep = str_arg(*sep_v, name.c_str());
    if (sep.empty()) fail(RenderErrorKind::Value, "empty separator");
    size_t hit = name == "partition" ? s.find(sep) : s.rfind(sep);
    std::vector<Value> parts;
    if (hit == std::string::npos) {
      if (name == "partition") {
        parts = {Value::string(s), Value::string(""), Value::string("")};
      } else {
        parts = {Value::string(""), Value::string(""), Value::string(s)};
      }
    } else {
      parts = {Value::string(s.substr(0, hit)), Value::string(sep),
               Value::string(s.substr(hit + sep.size()))};
    }
    return Value::list(std::move(parts), true);
  }
  if (name == "removeprefix" || name == "removesuffix") {
    const Value* v = args.get(0, "prefix");
    args.finish(name);
    if (!v) fail(RenderErrorKind::Type, name + "() takes exactly one argument (0 given)");
    const std::string& p = str_arg(*v, name.c_str());
    if (name == "removeprefix")
      return Value::string(s.compare(0, p.size(), p) == 0 ? s.substr(p.size()) : s);
    bool ends = s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
    return Value::string(ends ? s.substr(0, s.size() - p.size()) : s);
  }
  fail(RenderErrorKind::Runtime, fmt::format("str has no method '{}'", name));
}

Value dict_method(const Value& d, const std::string& name, CallArgs& args) {
  const DictData& data = d.dict_data();
  charge(data.entries.size());
  if (name == "get") {
    const Value* key = args.get(0, "key");
    const Value* dflt = args.get(1, "default");
    args.finish(name);
    if (!key) fail(RenderErrorKind::Type, "get expected at least 1 argument, got 0");
    if ((key->is_list() && !key->is_tuple()) || key->is_dict())
      fail(RenderErrorKind::Type, fmt::format("unhashable type: '{}'", type_name(*key)));
    const Value* v = data.find(*key);
    return v ? *v : (dflt ? *dflt : Value::none());
  }
  args.finish(name);
  if (name == "copy") return d;
  std::vector<Value> items;
  items.reserve(data.entries.size());
  for (const auto& [k, v] : data.entries) {
    if (name == "keys")
      items.push_back(k);
    else if (name == "values")
      items.push_back(v);
    else
      items.push_back(Value::list({k, v}, true));
  }
  return Value::list(std::move(items));
}

Value list_method(const Value& l, const std::string& name, CallArgs& args) {
  const auto& items = l.items();
  charge(items.size());
  if (name == "copy") {
    args.finish(name);
    return l;
  }
  const Value* x = args.get(0, "value");
  if (!x) fail(RenderErrorKind::Type, name + "() takes at least 1 argument (0 given)");
  if (name == "count") {
    args.finish(name);
    int64_t n = 0;
    for (const auto& v : items) n += equals(v, *x);
    return Value::integer(n);
  }
  int64_t n = static_cast<int64_t>(items.size());
  int64_t b = 0, e = n;
  if (const Value* s = args.get(1, "start")) b = to_index(*s, "start");
  if (const Value* s = args.get(2, "stop")) e = to_index(*s, "stop");
  args.finish(name);
  if (b < 0) b = std::max<int64_t>(0, b + n);
  if (e < 0) e = std::max<int64_t>(0, e + n);
  for (int64_t i = b; i < std::min(e, n); ++i)
    if (equals(items[static_cast<size_t>(i)], *x)) return Value::integer(i);
  fail(RenderErrorKind::Value, fmt::format("{} is not in list", py_repr(*x)));
}

}  // namespace

bool is_method_of(const Value& receiver, std::string_view name) {
  if (receiver.is_string()) return in_list(kStrMethods, name);
  if (receiver.is_dict()) return in_list(kDictMethods, name);
  if (receiver.is_tuple()) return name == "index" || name == "count";
  if (receiver.is_list()) return in_list(kListMethods, name);
  return false;
}

bool is_unsafe_method(const Value& receiver, std::string_view name) {
  if (receiver.is_dict()) return in_list(kDictUnsafe, name);
  if (receiver.is_list()) return in_list(kListUnsafe, name);
  return false;
}

bool is_unsupported_method(const std::string& name) {
  return in_list(kUnsupported, name);
}

Value call_method(Interp& in, const Value& receiver, const std::string& name, CallArgs& args) {
  if (receiver.is_string()) return string_method(in, receiver.as_string(), name, args);
  if (receiver.is_dict()) return dict_method(receiver, name, args);
  if (receiver.is_list()) return list_method(receiver, name, args);
  fail(RenderErrorKind::Type,
       fmt::format("'{}' object has no method '{}'", type_name(receiver), name));
}

}  // namespace vkcls::templates::detail
