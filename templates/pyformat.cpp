// Python's two string formatting languages: printf-style `"%s" % args` (also
// jinja2's `format` filter) and `str.format` with its format-spec mini-language.
#include <fmt/format.h>

#include <cmath>
#include <cstdio>

#include "templates/runtime.h"
#include "templates/unicode.h"

namespace vkcls::templates::detail {
namespace {

[[noreturn]] void value_error(const std::string& m) {
  fail(RenderErrorKind::Value, m);
}
[[noreturn]] void type_error(const std::string& m) {
  fail(RenderErrorKind::Type, m);
}

// C printf for one numeric conversion; the format is built here, never taken from the template.
std::string c_format(const std::string& spec, double d) {
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, spec.c_str(), d);
  if (n < 0) return "";
  if (static_cast<size_t>(n) < sizeof buf) return std::string(buf, static_cast<size_t>(n));
  std::string out(static_cast<size_t>(n) + 1, '\0');
  std::snprintf(out.data(), out.size(), spec.c_str(), d);
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string int_digits(int64_t v, int base, bool upper) {
  if (v == 0) return "0";
  uint64_t u = v < 0 ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v);
  std::string s;
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  while (u) {
    s.insert(s.begin(), digits[u % static_cast<uint64_t>(base)]);
    u /= static_cast<uint64_t>(base);
  }
  return s;
}

std::string group_digits(const std::string& digits, char sep) {
  std::string out;
  int count = 0;
  for (size_t i = digits.size(); i-- > 0;) {
    if (count && count % 3 == 0) out.insert(out.begin(), sep);
    out.insert(out.begin(), digits[i]);
    ++count;
  }
  return out;
}

struct Spec {
  std::string fill = " ";
  char align = 0;  // < > ^ =, 0 for the type's default
  char sign = '-';
  bool alternate = false;
  bool zero = false;
  int64_t width = -1;
  char grouping = 0;
  int64_t precision = -1;
  char type = 0;
};

Spec parse_spec(const std::string& s) {
  Spec sp;
  size_t i = 0;
  auto is_align = [](char c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  if (!s.empty()) {
    size_t j = 0;
    utf8_next(s, j);  // the fill may be any one character
    if (j < s.size() && is_align(s[j])) {
      sp.fill = s.substr(0, j);
      sp.align = s[j];
      i = j + 1;
    } else if (is_align(s[0])) {
      sp.align = s[0];
      i = 1;
    }
  }
  if (i < s.size() && (s[i] == '+' || s[i] == '-' || s[i] == ' ')) sp.sign = s[i++];
  if (i < s.size() && s[i] == '#') {
    sp.alternate = true;
    ++i;
  }
  if (i < s.size() && s[i] == '0') {
    sp.zero = true;
    ++i;
  }
  auto number = [&]() {
    int64_t v = 0;
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      v = v * 10 + (s[i++] - '0');
      if (v > 100000000) value_error("Too many decimal digits in format string");
    }
    return i > start ? v : -1;
  };
  sp.width = number();
  if (i < s.size() && (s[i] == ',' || s[i] == '_')) sp.grouping = s[i++];
  if (i < s.size() && s[i] == '.') {
    ++i;
    sp.precision = number();
    if (sp.precision < 0) value_error("Format specifier missing precision");
  }
  if (i < s.size()) sp.type = s[i++];
  if (i < s.size()) value_error("Invalid format specifier");
  return sp;
}

std::string align_text(const std::string& body, const Spec& sp, char default_align,
                       size_t sign_len) {
  int64_t len = static_cast<int64_t>(utf8_count(body));
  if (sp.width <= len) return body;
  check_size(static_cast<size_t>(sp.width) * sp.fill.size());
  char align = sp.align ? sp.align : default_align;
  std::string fill = sp.fill;
  if (!sp.align && sp.zero) {
    align = '=';
    fill = "0";
  }
  int64_t total = sp.width - len;
  int64_t left = align == '>' ? total : align == '^' ? total / 2 : 0;
  std::string out;
  auto fills = [&](int64_t n) {
    for (int64_t k = 0; k < n; ++k) out += fill;
  };
  if (align == '=') {
    out = body.substr(0, sign_len);
    fills(total);
    out += body.substr(sign_len);
    return out;
  }
  fills(left);
  out += body;
  fills(total - left);
  return out;
}

std::string format_number(const Value& v, const Spec& sp) {
  char type = sp.type;
  bool is_int = !v.is_float();
  if (is_int && (type == 0 || type == 'd' || type == 'n' || type == 'b' || type == 'o' ||
                 type == 'x' || type == 'X' || type == 'c')) {
    if (sp.precision >= 0) value_error("Precision not allowed in integer format specifier");
    int64_t x = v.as_int();
    if (type == 'c') {
      if (x < 0 || x > 0x10FFFF) fail(RenderErrorKind::Overflow, "%c arg not in range(0x110000)");
      std::string c;
      utf8_append(c, static_cast<char32_t>(x));
      return align_text(c, sp, '<', 0);
    }
    int base = type == 'b' ? 2 : type == 'o' ? 8 : (type == 'x' || type == 'X') ? 16 : 10;
    std::string digits = int_digits(x, base, type == 'X');
    if (sp.grouping) digits = group_digits(digits, sp.grouping);
    std::string prefix;
    if (sp.alternate && base != 10)
      prefix = base == 2 ? "0b" : base == 8 ? "0o" : type == 'X' ? "0X" : "0x";
    std::string sign = x < 0 ? "-" : sp.sign == '+' ? "+" : sp.sign == ' ' ? " " : "";
    return align_text(sign + prefix + digits, sp, '>', sign.size() + prefix.size());
  }
  if (type != 0 && type != 'e' && type != 'E' && type != 'f' && type != 'F' && type != 'g' &&
      type != 'G' && type != '%' && type != 'n')
    value_error(
        fmt::format("Unknown format code '{}' for object of type '{}'", type, type_name(v)));
  double d = v.as_double();
  std::string body;
  bool negative = std::signbit(d) && !std::isnan(d);
  double a = std::fabs(d);
  int64_t prec = sp.precision;
  if (std::isnan(a) || std::isinf(a)) {
    body = std::isnan(a) ? "nan" : "inf";
    if (type == 'E' || type == 'F' || type == 'G') body = std::isnan(a) ? "NAN" : "INF";
    if (type == '%') body += "%";
  } else if (type == 0 && prec < 0) {
    body = format_float(a);
  } else {
    char t = type == 0 ? 'g' : type == 'n' ? 'g' : type;
    if (t == '%') a *= 100;
    if (prec < 0) prec = 6;
    std::string f = std::string("%") + (sp.alternate ? "#" : "") + "." + std::to_string(prec) +
                    (t == '%' ? 'f' : t);
    body = c_format(f, a);
    if (type == 0 && body.find_first_of(".e") == std::string::npos) body += ".0";
    if (t == '%') body += "%";
    if (sp.grouping) {
      size_t end = body.find_first_of(".e%");
      std::string int_part = body.substr(0, end);
      body =
          group_digits(int_part, sp.grouping) + (end == std::string::npos ? "" : body.substr(end));
    }
  }
  std::string sign = negative ? "-" : sp.sign == '+' ? "+" : sp.sign == ' ' ? " " : "";
  return align_text(sign + body, sp, '>', sign.size());
}

// format(value, spec) for the types templates meet.
std::string format_value(const Value& v, const std::string& spec_text) {
  if (spec_text.empty()) return py_str(v);
  Spec sp = parse_spec(spec_text);
  if (v.is_string()) {
    if (sp.type != 0 && sp.type != 's')
      value_error(fmt::format("Unknown format code '{}' for object of type 'str'", sp.type));
    std::string s = v.as_string();
    if (sp.precision >= 0) {
      std::vector<size_t> offsets = utf8_offsets(s);
      if (static_cast<size_t>(sp.precision) + 1 < offsets.size())
        s = s.substr(0, offsets[static_cast<size_t>(sp.precision)]);
    }
    return align_text(s, sp, '<', 0);
  }
  if (v.is_number()) return format_number(v, sp);
  type_error(fmt::format("unsupported format string passed to {}.__format__", type_name(v)));
}

}  // namespace

std::string percent_format(const std::string& format, const Value& args) {
  std::vector<Value> positional;
  const DictData* mapping = nullptr;
  // Python treats any non-tuple, non-str argument with __getitem__ (dict, list)
  // as a mapping: unused, it is not an error.
  bool mapping_like = false;
  if (args.is_tuple()) {
    positional = args.items();
  } else {
    positional.push_back(args);
    if (args.is_dict()) mapping = &args.dict_data();
    mapping_like = args.is_dict() || args.is_list() || args.is_undefined();
  }
  size_t next_arg = 0;
  bool used_mapping = false;
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c != '%') {
      out.push_back(c);
      continue;
    }
    size_t start = i;
    if (++i >= format.size()) value_error("incomplete format");
    const Value* value = nullptr;
    if (format[i] == '(') {
      size_t close = format.find(')', i);
      if (close == std::string::npos) value_error("incomplete format key");
      if (args.is_undefined()) fail_undefined(args);
      if (!mapping) type_error("format requires a mapping");
      const Value* v = mapping->find(std::string_view(format).substr(i + 1, close - i - 1));
      if (!v)
        fail(RenderErrorKind::Runtime,
             "KeyError: " + repr_string(format.substr(i + 1, close - i - 1)));
      value = v;
      used_mapping = true;
      i = close + 1;
    }
    Spec sp;
    for (; i < format.size(); ++i) {
      char f = format[i];
      if (f == '-')
        sp.align = '<';
      else if (f == '+')
        sp.sign = '+';
      else if (f == ' ') {
        if (sp.sign != '+') sp.sign = ' ';
      } else if (f == '#')
        sp.alternate = true;
      else if (f == '0')
        sp.zero = true;
      else
        break;
    }
    auto take = [&]() -> const Value& {
      if (next_arg >= positional.size()) type_error("not enough arguments for format string");
      return positional[next_arg++];
    };
    auto number = [&](int64_t& out_v) {
      if (i < format.size() && format[i] == '*') {
        out_v = to_index(take(), "*");
        ++i;
        return;
      }
      int64_t v = -1;
      while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
        v = (v < 0 ? 0 : v * 10) + (format[i++] - '0');
        if (v > 100000000) value_error("width too big");
      }
      out_v = v;
    };
    number(sp.width);
    if (sp.width < -1) {
      sp.align = '<';
      sp.width = -sp.width;
    }
    if (i < format.size() && format[i] == '.') {
      ++i;
      number(sp.precision);
      if (sp.precision < 0) sp.precision = 0;
    }
    while (i < format.size() && (format[i] == 'h' || format[i] == 'l' || format[i] == 'L')) ++i;
    if (i >= format.size()) value_error("incomplete format");
    char conv = format[i];
    if (conv == '%') {
      out.push_back('%');
      continue;
    }
    const Value& v = value ? *value : take();
    if (sp.align == '<') sp.zero = false;
    std::string piece;
    switch (conv) {
      case 's':
      case 'r':
      case 'a': {
        std::string s = conv == 's' ? py_str(v) : py_repr(v);
        if (sp.precision >= 0) {
          std::vector<size_t> offsets = utf8_offsets(s);
          if (static_cast<size_t>(sp.precision) + 1 < offsets.size())
            s = s.substr(0, offsets[static_cast<size_t>(sp.precision)]);
        }
        Spec ss = sp;
        ss.zero = false;
        piece = align_text(s, ss, '>', 0);
        break;
      }
      case 'd':
      case 'i':
      case 'u':
      case 'x':
      case 'X':
      case 'o': {
        if (!v.is_number())
          type_error(fmt::format(
              "%{} format: {} is required, not {}", conv,
              conv == 'd' || conv == 'i' || conv == 'u' ? "a real number" : "an integer",
              type_name(v)));
        if (v.is_float() && conv != 'd' && conv != 'i' && conv != 'u')
          type_error(fmt::format("%{} format: an integer is required, not float", conv));
        double d = v.as_double();
        if (v.is_float() && !std::isfinite(d))
          fail(RenderErrorKind::Overflow, "cannot convert float infinity or NaN to integer");
        Value iv = v.is_float() ? Value::integer(static_cast<int64_t>(d)) : v;
        Spec is = sp;
        is.type = conv == 'i' || conv == 'u' ? 'd' : conv;
        int64_t prec = is.precision;
        is.precision = -1;
        std::string s =
            format_number(iv, Spec{" ", 0, is.sign, is.alternate, false, -1, 0, -1, is.type});
        if (prec >= 0) {  // printf precision: minimum digits
          size_t sign_len = (!s.empty() && (s[0] == '-' || s[0] == '+' || s[0] == ' ')) ? 1 : 0;
          std::string digits = s.substr(sign_len);
          if (static_cast<int64_t>(digits.size()) < prec)
            digits.insert(0, static_cast<size_t>(prec) - digits.size(), '0');
          s = s.substr(0, sign_len) + digits;
        }
        Spec as = is;
        as.fill = is.zero ? "0" : " ";
        as.align = is.align == '<' ? '<' : is.zero ? '=' : '>';
        piece = align_text(s, as, '>',
                           (!s.empty() && (s[0] == '-' || s[0] == '+' || s[0] == ' ')) ? 1 : 0);
        break;
      }
      case 'e':
      case 'E':
      case 'f':
      case 'F':
      case 'g':
      case 'G': {
        if (!v.is_number()) type_error(fmt::format("must be real number, not {}", type_name(v)));
        Spec fs = sp;
        fs.type = conv;
        if (fs.precision < 0) fs.precision = 6;
        Spec inner = fs;
        inner.width = -1;
        std::string s = format_number(Value::number(v.as_double()), inner);
        Spec as = fs;
        as.fill = fs.zero ? "0" : " ";
        as.align = fs.align == '<' ? '<' : fs.zero ? '=' : '>';
        piece = align_text(s, as, '>',
                           (!s.empty() && (s[0] == '-' || s[0] == '+' || s[0] == ' ')) ? 1 : 0);
        break;
      }
      case 'c': {
        std::string s;
        if (v.is_string() && utf8_count(v.as_string()) == 1) {
          s = v.as_string();
        } else if (v.is_int() || v.is_bool()) {
          int64_t x = v.as_int();
          if (x < 0 || x > 0x10FFFF)
            fail(RenderErrorKind::Overflow, "%c arg not in range(0x110000)");
          utf8_append(s, static_cast<char32_t>(x));
        } else {
          type_error("%c requires int or char");
        }
        Spec cs = sp;
        cs.zero = false;
        piece = align_text(s, cs, '>', 0);
        break;
      }
      default:
        value_error(fmt::format("unsupported format character '{}' (0x{:x}) at index {}", conv,
                                static_cast<unsigned>(static_cast<unsigned char>(conv)),
                                start + 1));
    }
    out += piece;
    check_size(out.size());
  }
  if (!used_mapping && !mapping_like && next_arg < positional.size())
    type_error("not all arguments converted during string formatting");
  charge_bytes(out.size());
  return out;
}

std::string str_format(Interp& in, const std::string& format, CallArgs& args) {
  // Python allows one level of fields nested in a format spec.
  static thread_local int nesting = 0;
  struct Nesting {
    Nesting() {
      if (++nesting > 2) {
        --nesting;
        value_error("Max string recursion exceeded");
      }
    }
    ~Nesting() { --nesting; }
  } guard;
  std::string out;
  size_t auto_index = 0;
  int numbering = 0;  // 0 unknown, 1 automatic, 2 manual
  auto lookup = [&](const std::string& field) -> Value {
    size_t end = field.find_first_of(".[");
    std::string head = field.substr(0, end);
    Value v;
    if (head.empty()) {
      if (numbering == 2)
        value_error("cannot switch from manual field specification to automatic field numbering");
      numbering = 1;
      if (auto_index >= args.args.size())
        fail(RenderErrorKind::Runtime,
             fmt::format("IndexError: Replacement index {} out of range for positional args tuple",
                         auto_index));
      v = args.args[auto_index++];
    } else if (head.find_first_not_of("0123456789") == std::string::npos) {
      if (numbering == 1)
        value_error("cannot switch from automatic field numbering to manual field specification");
      numbering = 2;
      size_t idx = std::stoul(head.size() > 9 ? std::string("999999999") : head);
      if (idx >= args.args.size())
        fail(RenderErrorKind::Runtime,
             fmt::format("IndexError: Replacement index {} out of range for positional args tuple",
                         idx));
      v = args.args[idx];
    } else {
      const Value* kw = args.kwarg(head);
      if (!kw) fail(RenderErrorKind::Runtime, "KeyError: " + repr_string(head));
      v = *kw;
    }
    // .attr and [key] parts, through the sandbox.
    size_t i = end;
    while (i != std::string::npos && i < field.size()) {
      if (field[i] == '.') {
        size_t next = field.find_first_of(".[", i + 1);
        std::string attr =
            field.substr(i + 1, next == std::string::npos ? std::string::npos : next - i - 1);
        if (!attr.empty() && attr[0] == '_')
          fail(RenderErrorKind::Security,
               fmt::format("access to attribute {} of {} object is unsafe.", repr_string(attr),
                           repr_string(type_name(v))));
        v = get_attr(v, attr);
        i = next;
      } else {
        size_t close = field.find(']', i);
        if (close == std::string::npos) value_error("Missing ']' in format string");
        std::string key = field.substr(i + 1, close - i - 1);
        Value k =
            key.find_first_not_of("0123456789") == std::string::npos && !key.empty()
                ? Value::integer(std::stoll(key.size() > 15 ? std::string("999999999999999") : key))
                : Value::string(key);
        v = get_item(v, k);
        if (v.is_undefined()) fail(RenderErrorKind::Runtime, "KeyError: " + py_repr(k));
        i = close + 1;
      }
    }
    return v;
  };
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c == '}') {
      if (i + 1 < format.size() && format[i + 1] == '}') {
        out.push_back('}');
        ++i;
        continue;
      }
      value_error("Single '}' encountered in format string");
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    // Find the matching '}', allowing one level of nested fields in the spec.
    size_t j = i + 1;
    int depth = 1;
    while (j < format.size() && depth > 0) {
      if (format[j] == '{') ++depth;
      if (format[j] == '}') --depth;
      if (depth > 0) ++j;
    }
    if (j >= format.size()) value_error("expected '}' before end of string");
    std::string field = format.substr(i + 1, j - i - 1);
    i = j;
    std::string spec;
    char conversion = 0;
    size_t colon = std::string::npos;
    for (size_t k = 0, bracket = 0; k < field.size(); ++k) {
      if (field[k] == '[') ++bracket;
      if (field[k] == ']' && bracket) --bracket;
      if (!bracket && (field[k] == ':' || field[k] == '!')) {
        colon = k;
        break;
      }
    }
    std::string name = field.substr(0, colon);
    if (colon != std::string::npos) {
      std::string rest = field.substr(colon);
      if (rest[0] == '!') {
        if (rest.size() < 2) value_error("end of string while looking for conversion specifier");
        conversion = rest[1];
        if (rest.size() > 2 && rest[2] != ':')
          value_error("expected ':' after conversion specifier");
        spec = rest.size() > 3 ? rest.substr(3) : "";
      } else {
        spec = rest.substr(1);
      }
    }
    if (spec.find('{') != std::string::npos) spec = str_format(in, spec, args);
    Value v = lookup(name);
    if (conversion == 'r' || conversion == 'a') {
      v = Value::string(py_repr(v));
    } else if (conversion == 's') {
      v = Value::string(py_str(v));
    } else if (conversion != 0) {
      value_error(fmt::format("Unknown conversion specifier {}", conversion));
    }
    out += format_value(v, spec);
    check_size(out.size());
  }
  charge_bytes(out.size());
  return out;
}

}  // namespace vkcls::templates::detail
