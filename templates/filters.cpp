// jinja2's builtin filters (jinja2/filters.py) with transformers' tojson.
// Filters that return generators in jinja2 (map, select, unique, items, ...)
// return one-shot iterators here too, so truth, len() and re-iteration match.
#include "templates/filters.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "templates/runtime.h"
#include "templates/unicode.h"

namespace vkcls::templates::detail {

namespace {

struct FilterName {
  const char* name;
  FilterId id;
};
const FilterName kFilters[] = {
    {"abs", FilterId::Abs},
    {"attr", FilterId::Attr},
    {"batch", FilterId::Batch},
    {"capitalize", FilterId::Capitalize},
    {"center", FilterId::Center},
    {"count", FilterId::Length},
    {"d", FilterId::Default},
    {"default", FilterId::Default},
    {"dictsort", FilterId::Dictsort},
    {"e", FilterId::Escape},
    {"escape", FilterId::Escape},
    {"filesizeformat", FilterId::Filesizeformat},
    {"first", FilterId::First},
    {"float", FilterId::Float},
    {"forceescape", FilterId::Escape},
    {"format", FilterId::Format},
    {"groupby", FilterId::Groupby},
    {"indent", FilterId::Indent},
    {"int", FilterId::Int},
    {"items", FilterId::Items},
    {"join", FilterId::Join},
    {"last", FilterId::Last},
    {"length", FilterId::Length},
    {"list", FilterId::List},
    {"lower", FilterId::Lower},
    {"map", FilterId::Map},
    {"max", FilterId::Max},
    {"min", FilterId::Min},
    {"pprint", FilterId::Pprint},
    {"reject", FilterId::Reject},
    {"rejectattr", FilterId::Rejectattr},
    {"replace", FilterId::Replace},
    {"reverse", FilterId::Reverse},
    {"round", FilterId::Round},
    {"safe", FilterId::Safe},
    {"select", FilterId::Select},
    {"selectattr", FilterId::Selectattr},
    {"slice", FilterId::Slice},
    {"sort", FilterId::Sort},
    {"string", FilterId::String},
    {"striptags", FilterId::Striptags},
    {"sum", FilterId::Sum},
    {"title", FilterId::Title},
    {"tojson", FilterId::Tojson},
    {"trim", FilterId::Trim},
    {"truncate", FilterId::Truncate},
    {"unique", FilterId::Unique},
    {"upper", FilterId::Upper},
    {"urlencode", FilterId::Urlencode},
    {"wordcount", FilterId::Wordcount},
    {"xmlattr", FilterId::Xmlattr},
};

[[noreturn]] void type_error(const std::string& m) {
  fail(RenderErrorKind::Type, m);
}

std::string url_quote(const std::string& s, bool for_qs) {
  std::string out;
  for (unsigned char c : s) {
    bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '.' || c == '-' || c == '~' || (!for_qs && c == '/');
    if (safe)
      out.push_back(static_cast<char>(c));
    else if (for_qs && c == ' ')
      out.push_back('+');
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

// Python int(value) / int(str, base) as jinja2's int filter tries it.
bool parse_int(const std::string& text, int base, int64_t& out) {
  std::string s(py_strip(text, nullptr, true, true));
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  if (base == 16 && s.compare(i, 2, "0x") == 0) i += 2;
  if (base == 8 && s.compare(i, 2, "0o") == 0) i += 2;
  if (base == 2 && s.compare(i, 2, "0b") == 0) i += 2;
  std::string digits;
  for (; i < s.size(); ++i) {
    if (s[i] == '_' && !digits.empty() && i + 1 < s.size() && s[i + 1] != '_') continue;
    digits.push_back(s[i]);
  }
  if (digits.empty() || base < 2 || base > 36) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(digits.c_str(), &end, base);
  if (*end != '\0' || digits[0] == '+' || digits[0] == '-' || digits[0] == ' ') return false;
  if (errno == ERANGE) fail(RenderErrorKind::Overflow, "integer does not fit in 64 bits");
  out = neg ? -v : v;
  return true;
}

bool parse_float(const std::string& text, double& out) {
  std::string s(py_strip(text, nullptr, true, true));
  if (s.empty() || s.find_first_of("xXpP") != std::string::npos) return false;
  std::string t;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i - 1])) ||
          !std::isdigit(static_cast<unsigned char>(s[i + 1])))
        return false;
      continue;
    }
    t.push_back(s[i]);
  }
  char* end = nullptr;
  out = std::strtod(t.c_str(), &end);
  return *end == '\0';
}

Value do_int(const Value& v, CallArgs& a) {
  const Value* dflt = a.get(0, "default");
  const Value* base_v = a.get(1, "base");
  a.finish("int");
  Value fallback = dflt ? *dflt : Value::integer(0);
  if (v.is_undefined()) fail_undefined(v);  // int(Undefined) raises
  int base = base_v ? static_cast<int>(to_index(*base_v, "base")) : 10;
  int64_t i;
  double d;
  if (v.is_string()) {
    if (parse_int(v.as_string(), base, i)) return Value::integer(i);
    if (parse_float(v.as_string(), d)) {
      if (!std::isfinite(d))
        fail(RenderErrorKind::Overflow, "cannot convert float infinity to integer");
      return Value::integer(static_cast<int64_t>(d));
    }
    return fallback;
  }
  if (v.is_int() || v.is_bool()) return Value::integer(v.as_int());
  if (v.is_float()) {
    d = v.as_double();
    if (std::isnan(d)) fail(RenderErrorKind::Value, "cannot convert float NaN to integer");
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18)
      fail(RenderErrorKind::Overflow, "cannot convert float infinity to integer");
    return Value::integer(static_cast<int64_t>(d));
  }
  return fallback;
}

Value do_float(const Value& v, CallArgs& a) {
  const Value* dflt = a.get(0, "default");
  a.finish("float");
  if (v.is_undefined()) fail_undefined(v);  // float(Undefined) raises
  if (v.is_number()) return Value::number(v.as_double());
  double d;
  if (v.is_string() && parse_float(v.as_string(), d)) return Value::number(d);
  return dflt ? *dflt : Value::number(0.0);
}

Value do_round(const Value& v, CallArgs& a) {
  const Value* prec_v = a.get(0, "precision");
  const Value* method_v = a.get(1, "method");
  a.finish("round");
  int64_t precision = prec_v ? to_index(*prec_v, "precision") : 0;
  std::string method = method_v ? py_str(*method_v) : "common";
  if (method != "common" && method != "ceil" && method != "floor")
    fail(RenderErrorKind::Runtime, "method must be common, ceil or floor");
  if (!v.is_number())
    type_error(fmt::format("type {} doesn't define __round__ method", type_name(v)));
  if (method != "common") {
    double scale = std::pow(10.0, static_cast<double>(precision));
    double x = v.as_double() * scale;
    return Value::number((method == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
  }
  if (!v.is_float()) {  // round(int, n) stays an int
    if (precision >= 0) return Value::integer(v.as_int());
    double scale = std::pow(10.0, static_cast<double>(-precision));
    return Value::integer(
        static_cast<int64_t>(std::nearbyint(static_cast<double>(v.as_int()) / scale) * scale));
  }
  double d = v.as_double();
  if (!std::isfinite(d)) return v;
  if (precision >= 0 && precision < 300) {
    // printf rounds the exact binary value half-to-even, as Python's round does.
    std::string s = fmt::format("{:.{}f}", d, precision);
    return Value::number(std::strtod(s.c_str(), nullptr));
  }
  double scale = std::pow(10.0, static_cast<double>(-precision));
  return Value::number(std::nearbyint(d / scale) * scale);
}

std::string do_indent(const std::string& s_in, CallArgs& a) {
  const Value* width_v = a.get(0, "width");
  bool first = arg_bool(a, 1, "first", false);
  bool blank = arg_bool(a, 2, "blank", false);
  a.finish("indent");
  std::string indention = width_v && width_v->is_string()
                              ? width_v->as_string()
                              : std::string(static_cast<size_t>(std::max<int64_t>(
                                                0, width_v ? to_index(*width_v, "width") : 4)),
                                            ' ');
  std::vector<std::string> lines = py_splitlines(s_in + "\n", false);
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv += "\n" + indention;
      rv += lines[i];
      check_size(rv.size());
    }
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      rv += "\n";
      if (!lines[i].empty()) rv += indention;
      rv += lines[i];
      check_size(rv.size());
    }
  }
  if (first) rv = indention + rv;
  return rv;
}

Value do_tojson(const Value& v, CallArgs& a) {
  // transformers: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
  bool ensure_ascii = arg_bool(a, 0, "ensure_ascii", false);
  const Value* indent_v = a.get(1, "indent");
  const Value* seps = a.get(2, "separators");
  bool sort_keys = arg_bool(a, 3, "sort_keys", false);
  a.finish("tojson");
  std::string indent;
  const std::string* indent_p = nullptr;
  if (indent_v && !indent_v->is_none()) {
    if (indent_v->is_string()) {
      indent = indent_v->as_string();
    } else {
      int64_t n = to_index(*indent_v, "indent");
      indent = std::string(static_cast<size_t>(std::clamp<int64_t>(n, 0, 1 << 16)), ' ');
    }
    indent_p = &indent;
  }
  std::string item_sep, key_sep;
  bool have_seps = false;
  if (seps && !seps->is_none()) {
    std::vector<Value> pair = iterate(*seps);
    if (pair.size() != 2)
      fail(RenderErrorKind::Value, fmt::format("too many values to unpack (expected 2)"));
    if (!pair[0].is_string() || !pair[1].is_string()) type_error("separators must be strings");
    item_sep = pair[0].as_string();
    key_sep = pair[1].as_string();
    have_seps = true;
  }
  return Value::string(to_json(v, ensure_ascii, indent_p, have_seps ? &item_sep : nullptr,
                               have_seps ? &key_sep : nullptr, sort_keys));
}

std::string jinja_title(const std::string& s) {
  // re.split(r"([-\s({\[<]+)") then item[0].upper() + item[1:].lower() per piece.
  auto is_sep = [](char32_t c) {
    return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || py_isspace(c);
  };
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    size_t j = i;
    bool sep = is_sep(utf8_next(s, j));
    while (i < s.size()) {
      size_t k = i;
      if (is_sep(utf8_next(s, k)) != sep) break;
      i = k;
    }
    std::string piece = s.substr(start, i - start);
    if (sep) {
      out += piece;
    } else {
      size_t k = 0;
      char32_t first = utf8_next(piece, k);
      append_upper(out, first);
      out += py_lower(std::string_view(piece).substr(k));
    }
  }
  return out;
}

}  // namespace

bool lookup_filter(const std::string& name, FilterId& id) {
  for (const auto& f : kFilters) {
    if (name == f.name) {
      id = f.id;
      return true;
    }
  }
  return false;
}

Value run_filter(Interp& in, FilterId id, const std::string& name, const Value& v, CallArgs& a) {
  charge(1);
  switch (id) {
    case FilterId::Default: {
      const Value* dflt = a.get(0, "default_value");
      bool boolean = arg_bool(a, 1, "boolean", false);
      a.finish(name);
      if (v.is_undefined() || (boolean && !truthy(v))) return dflt ? *dflt : Value::string("");
      return v;
    }
    case FilterId::Length:
      a.finish(name);
      if (v.is_iterator()) type_error("object of type 'generator' has no len()");
      return Value::integer(static_cast<int64_t>(py_len(v)));
    case FilterId::Trim: {
      const Value* chars = a.get(0, "chars");
      a.finish(name);
      std::string chars_s = chars && !chars->is_none() ? py_str(*chars) : "";
      return Value::string(std::string(
          py_strip(py_str(v), chars && !chars->is_none() ? &chars_s : nullptr, true, true)));
    }
    case FilterId::Tojson:
      return do_tojson(v, a);
    case FilterId::String:
      a.finish(name);
      return v.is_string() ? v : Value::string(py_str(v));  // soft_str keeps a Markup
    case FilterId::Safe:
      a.finish(name);
      return v.is_markup() ? v : Value::markup(py_str(v));
    case FilterId::Lower:
      a.finish(name);
      return Value::string(py_lower(py_str(v)));
    case FilterId::Upper:
      a.finish(name);
      return Value::string(py_upper(py_str(v)));
    case FilterId::Capitalize:
      a.finish(name);
      return Value::string(py_capitalize(py_str(v)));
    case FilterId::Title:
      a.finish(name);
      return Value::string(jinja_title(py_str(v)));
    case FilterId::Replace: {
      const Value* old = a.get(0, "old");
      const Value* rep = a.get(1, "new");
      const Value* count = a.get(2, "count");
      a.finish(name);
      if (!old || !rep) type_error("do_replace() missing required arguments: 'old' and 'new'");
      CallArgs m;
      m.args = {Value::string(py_str(*old)), Value::string(py_str(*rep))};
      if (count && !count->is_none()) m.args.push_back(*count);
      return call_method(in, Value::string(py_str(v)), "replace", m);
    }
    case FilterId::Join:
    case FilterId::First:
    case FilterId::Last:
    case FilterId::List:
    case FilterId::Items:
    case FilterId::Dictsort:
    case FilterId::Sort:
    case FilterId::Unique:
    case FilterId::Min:
    case FilterId::Max:
    case FilterId::Sum:
    case FilterId::Select:
    case FilterId::Reject:
    case FilterId::Selectattr:
    case FilterId::Rejectattr:
    case FilterId::Map:
      return run_sequence_filter(in, id, name, v, a);
    case FilterId::Int:
      return do_int(v, a);
    case FilterId::Float:
      return do_float(v, a);
    case FilterId::Abs:
      a.finish(name);
      if (v.is_float()) return Value::number(std::fabs(v.as_double()));
      if (v.is_int() || v.is_bool()) return negate(v, v.as_int() < 0);
      type_error(fmt::format("bad operand type for abs(): '{}'", type_name(v)));
    case FilterId::Round:
      return do_round(v, a);
    case FilterId::Indent:
      // jinja2 appends "\n" to the value itself: a list grows and then has no
      // splitlines, anything else fails the addition.
      if (v.is_undefined()) fail_undefined(v);
      if (v.is_list() && !v.is_tuple())
        fail(RenderErrorKind::Runtime, "'list' object has no attribute 'splitlines'");
      if (!v.is_string())
        type_error(fmt::format("unsupported operand type(s) for +=: '{}' and 'str'", type_name(v)));
      return Value::string(do_indent(v.as_string(), a));
    case FilterId::Reverse:
      return run_sequence_filter(in, id, name, v, a);
    case FilterId::Attr: {
      const Value* attr = a.get(0, "name");
      a.finish(name);
      if (!attr) type_error("do_attr() missing 1 required positional argument: 'name'");
      return get_python_attr(v, py_str(*attr));
    }
    case FilterId::Batch:
    case FilterId::Slice:
    case FilterId::Groupby:
      return run_sequence_filter(in, id, name, v, a);
    case FilterId::Center: {
      const Value* width = a.get(0, "width");
      a.finish(name);
      CallArgs m;
      m.args = {width ? *width : Value::integer(80)};
      return call_method(in, Value::string(py_str(v)), "center", m);
    }
    case FilterId::Format: {
      if (!a.args.empty() && !a.kwargs.empty())
        fail(RenderErrorKind::Runtime,
             "can't handle positional and keyword arguments at the same time");
      Value args;
      if (!a.kwargs.empty()) {
        auto d = std::make_shared<DictData>();
        for (const auto& [k, val] : a.kwargs) d->insert(Value::string(k), val);
        args = Value::dict(std::move(d));
      } else {
        args = Value::list(a.args, true);
      }
      return Value::string(percent_format(py_str(v), args));
    }
    case FilterId::Wordcount: {
      a.finish(name);
      std::string s = py_str(v);
      int64_t n = 0;
      bool in_word = false;
      for (size_t i = 0; i < s.size();) {
        char32_t c = utf8_next(s, i);
        bool w = c == '_' || (c < 0x80 ? std::isalnum(static_cast<int>(c)) != 0 : !py_isspace(c));
        if (w && !in_word) ++n;
        in_word = w;
      }
      return Value::integer(n);
    }
    case FilterId::Truncate: {
      const Value* length_v = a.get(0, "length");
      bool killwords = arg_bool(a, 1, "killwords", false);
      const Value* end_v = a.get(2, "end");
      const Value* leeway_v = a.get(3, "leeway");
      a.finish(name);
      std::string end = end_v ? py_str(*end_v) : "...";
      int64_t length = length_v ? to_index(*length_v, "length") : 255;
      if (!v.is_string()) {  // jinja2 measures the value itself: len() must work
        int64_t n = static_cast<int64_t>(py_len(v));
        if (n <= length + (leeway_v && !leeway_v->is_none() ? to_index(*leeway_v, "leeway") : 5))
          return v;
        fail(RenderErrorKind::Runtime,
             fmt::format("'{}' object has no attribute 'rsplit'", type_name(v)));
      }
      std::string s = v.as_string();
      int64_t leeway = leeway_v && !leeway_v->is_none() ? to_index(*leeway_v, "leeway") : 5;
      int64_t end_len = static_cast<int64_t>(utf8_count(end));
      if (length < end_len)
        fail(RenderErrorKind::Runtime,
             fmt::format("expected length >= {}, got {}", end_len, length));
      if (leeway < 0)
        fail(RenderErrorKind::Runtime, fmt::format("expected leeway >= 0, got {}", leeway));
      std::vector<size_t> offsets = utf8_offsets(s);
      int64_t n = static_cast<int64_t>(offsets.size()) - 1;
      if (n <= length + leeway) return Value::string(s);
      std::string head = s.substr(0, offsets[static_cast<size_t>(length - end_len)]);
      if (killwords) return Value::string(head + end);
      size_t space = head.rfind(' ');
      return Value::string((space == std::string::npos ? head : head.substr(0, space)) + end);
    }
    case FilterId::Escape:
      a.finish(name);
      if (v.is_markup() && name != "forceescape") return v;
      return Value::markup(html_escape(py_str(v)));
    case FilterId::Striptags: {
      a.finish(name);
      std::string s = py_str(v), out;
      for (size_t i = 0; i < s.size();) {
        if (s.compare(i, 4, "<!--") == 0) {
          size_t e = s.find("-->", i + 4);
          if (e == std::string::npos) {
            out.append(s, i, std::string::npos);
            break;
          }
          i = e + 3;
        } else if (s[i] == '<' && s.find('>', i) != std::string::npos) {
          i = s.find('>', i) + 1;
        } else {
          out.push_back(s[i++]);
        }
      }
      std::string joined;
      for (auto& w : py_split(out, nullptr, -1)) joined += (joined.empty() ? "" : " ") + w;
      static const std::pair<const char*, const char*> kEntities[] = {
          {"&lt;", "<"},   {"&gt;", ">"},  {"&quot;", "\""},
          {"&#34;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}};
      for (const auto& [from, to] : kEntities) {
        std::string f = from;
        for (size_t p = joined.find(f); p != std::string::npos; p = joined.find(f, p + 1))
          joined.replace(p, f.size(), to);
      }
      return Value::string(joined);
    }
    case FilterId::Urlencode: {
      a.finish(name);
      if (v.is_string()) return Value::string(url_quote(v.as_string(), false));
      std::vector<Value> pairs;
      if (v.is_dict()) {
        for (const auto& [k, val] : v.dict_data().entries)
          pairs.push_back(Value::list({k, val}, true));
      } else if (v.is_list() || v.is_iterator()) {
        pairs = iterate(v);
      } else {
        return Value::string(url_quote(py_str(v), false));
      }
      std::string out;
      for (const auto& p : pairs) {
        std::vector<Value> kv = iterate(p);
        if (kv.size() != 2) fail(RenderErrorKind::Value, "urlencode expects key / value pairs");
        if (!out.empty()) out += "&";
        out += url_quote(py_str(kv[0]), true) + "=" + url_quote(py_str(kv[1]), true);
      }
      return Value::string(out);
    }
    case FilterId::Xmlattr: {
      bool autospace = arg_bool(a, 0, "autospace", true);
      a.finish(name);
      if (v.is_undefined()) fail_undefined(v);
      if (!v.is_dict())  // AttributeError in jinja2
        fail(RenderErrorKind::Runtime,
             fmt::format("'{}' object has no attribute 'items'", type_name(v)));
      std::string rv;
      for (const auto& [k, val] : v.dict_data().entries) {
        if (val.is_none() || val.is_undefined()) continue;
        std::string key = py_str(k);
        if (key.find_first_of(" \t\n\r\f\v/>=") != std::string::npos)
          fail(RenderErrorKind::Value, "Invalid character in attribute name: " + repr_string(key));
        if (!rv.empty()) rv += " ";
        rv += html_escape(key) + "=\"" + html_escape(py_str(val)) + "\"";
      }
      if (autospace && !rv.empty()) rv = " " + rv;
      return Value::string(rv);
    }
    case FilterId::Filesizeformat: {
      bool binary = arg_bool(a, 0, "binary", false);
      a.finish(name);
      double bytes;
      if (v.is_number())
        bytes = v.as_double();
      else if (!(v.is_string() && parse_float(v.as_string(), bytes)))
        fail(RenderErrorKind::Value, "could not convert string to float: " + py_repr(v));
      double base = binary ? 1024 : 1000;
      static const char* const kDec[] = {"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
      static const char* const kBin[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
      if (bytes == 1) return Value::string("1 Byte");
      if (bytes < base) return Value::string(fmt::format("{} Bytes", static_cast<int64_t>(bytes)));
      double unit = base;
      for (int i = 0; i < 8; ++i) {
        unit = std::pow(base, i + 2);
        if (bytes < unit || i == 7)
          return Value::string(
              fmt::format("{:.1f} {}", base * bytes / unit, binary ? kBin[i] : kDec[i]));
      }
      return Value::string("");
    }
    case FilterId::Pprint:
      a.finish(name);
      return Value::string(py_repr(v));
  }
  fail(RenderErrorKind::Runtime, fmt::format("No filter named '{}'.", name));
}

}  // namespace vkcls::templates::detail
