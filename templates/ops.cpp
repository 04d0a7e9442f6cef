// Operators with Python's semantics: int / float promotion, floor division and
// modulo rounding toward negative infinity, str and list concatenation and
// repetition, `in`, and ordering that refuses mixed types.
#include <fmt/format.h>

#include <cmath>

#include "templates/runtime.h"

namespace vkcls::templates::detail {
namespace {

const char* op_symbol(Expr::BinOp op) {
  switch (op) {
    case Expr::BinOp::Add:
      return "+";
    case Expr::BinOp::Sub:
      return "-";
    case Expr::BinOp::Mul:
      return "*";
    case Expr::BinOp::Div:
      return "/";
    case Expr::BinOp::FloorDiv:
      return "//";
    case Expr::BinOp::Mod:
      return "%";
    case Expr::BinOp::Pow:
      return "** or pow()";
  }
  return "?";
}

[[noreturn]] void unsupported(Expr::BinOp op, const Value& a, const Value& b) {
  fail(RenderErrorKind::Type, fmt::format("unsupported operand type(s) for {}: '{}' and '{}'",
                                          op_symbol(op), type_name(a), type_name(b)));
}

Value repeat(const Value& seq, int64_t times) {
  if (times < 0) times = 0;
  if (seq.is_string()) {
    const std::string& s = seq.as_string();
    if (s.empty() || times == 0) return Value::string("");
    uint64_t n = static_cast<uint64_t>(times);
    check_size(n > SIZE_MAX / s.size() ? SIZE_MAX : static_cast<size_t>(n) * s.size());
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(times));
    for (int64_t i = 0; i < times; ++i) out += s;
    charge_bytes(out.size());
    return seq.is_markup() ? Value::markup(std::move(out)) : Value::string(std::move(out));
  }
  const auto& items = seq.items();
  if (items.empty() || times == 0) return Value::list({}, seq.is_tuple());
  uint64_t total = static_cast<uint64_t>(items.size()) * static_cast<uint64_t>(times);
  if (times > 0 && total / static_cast<uint64_t>(times) != items.size()) total = UINT64_MAX;
  charge(total);
  std::vector<Value> out;
  out.reserve(static_cast<size_t>(total));
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::list(std::move(out), seq.is_tuple());
}

int64_t floor_div(int64_t a, int64_t b) {
  if (a == INT64_MIN && b == -1)
    fail(RenderErrorKind::Overflow, "integer result does not fit in 64 bits");
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t py_mod(int64_t a, int64_t b) {
  if (b == -1) return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

double py_fmod(double a, double b) {
  double r = std::fmod(a, b);
  if (r != 0) {
    if ((r < 0) != (b < 0)) r += b;
  } else {
    r = std::copysign(0.0, b);
  }
  return r;
}

Value int_pow(int64_t base, int64_t exp) {
  int64_t result = 1;
  while (exp > 0) {
    if (exp & 1) result = checked_mul(result, base);
    exp >>= 1;
    if (exp) base = checked_mul(base, base);
  }
  return Value::integer(result);
}

// -1, 0, 1, or 2 for unordered (NaN); TypeError for types Python cannot order.
int order(const Value& a, const Value& b, const char* symbol) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) {
    if (!a.is_float() && !b.is_float()) {
      int64_t x = a.as_int(), y = b.as_int();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    if (equals(a, b)) return 0;
    if (less_than(a, b)) return -1;
    if (less_than(b, a)) return 1;
    return 2;
  }
  if (a.is_string() && b.is_string()) {
    int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const auto &x = a.items(), &y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals(x[i], y[i])) continue;
      return order(x[i], y[i], symbol);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  fail(RenderErrorKind::Type, fmt::format("'{}' not supported between instances of '{}' and '{}'",
                                          symbol, type_name(a), type_name(b)));
}

}  // namespace

Value binary_op(Expr::BinOp op, const Value& a, const Value& b) {
  // str.__mod__ runs before Undefined.__rmod__ and takes it as a mapping.
  if (op == Expr::BinOp::Mod && a.is_string() && b.is_undefined() && !a.is_markup())
    return Value::string(percent_format(a.as_string(), b));
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  const bool numbers = a.is_number() && b.is_number();
  const bool any_float = a.is_float() || b.is_float();
  switch (op) {
    case Expr::BinOp::Add:
      if (numbers) {
        if (any_float) return Value::number(a.as_double() + b.as_double());
        return Value::integer(checked_add(a.as_int(), b.as_int()));
      }
      if (a.is_string() && b.is_string()) {
        check_size(a.as_string().size() + b.as_string().size());
        charge_bytes(a.as_string().size() + b.as_string().size());
        if (a.is_markup() || b.is_markup()) {  // Markup.__add__ / __radd__ escape the plain side
          std::string x = a.is_markup() ? a.as_string() : html_escape(a.as_string());
          std::string y = b.is_markup() ? b.as_string() : html_escape(b.as_string());
          check_size(x.size() + y.size());
          return Value::markup(x + y);
        }
        return Value::string(a.as_string() + b.as_string());
      }
      if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
        charge(a.items().size() + b.items().size());
        std::vector<Value> items = a.items();
        items.insert(items.end(), b.items().begin(), b.items().end());
        return Value::list(std::move(items), a.is_tuple());
      }
      if (a.is_string() || a.is_list())
        fail(RenderErrorKind::Type, fmt::format("can only concatenate {} (not \"{}\") to {}",
                                                type_name(a), type_name(b), type_name(a)));
      unsupported(op, a, b);
    case Expr::BinOp::Sub:
      if (!numbers) unsupported(op, a, b);
      if (any_float) return Value::number(a.as_double() - b.as_double());
      if (b.as_int() == INT64_MIN)
        fail(RenderErrorKind::Overflow, "integer result does not fit in 64 bits");
      return Value::integer(checked_add(a.as_int(), -b.as_int()));
    case Expr::BinOp::Mul:
      if (numbers) {
        if (any_float) return Value::number(a.as_double() * b.as_double());
        return Value::integer(checked_mul(a.as_int(), b.as_int()));
      }
      if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool()))
        return repeat(a, b.as_int());
      if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool()))
        return repeat(b, a.as_int());
      if ((a.is_string() || a.is_list()) && b.is_float())
        fail(RenderErrorKind::Type,
             fmt::format("can't multiply sequence by non-int of type 'float'"));
      unsupported(op, a, b);
    case Expr::BinOp::Div:
      if (!numbers) unsupported(op, a, b);
      if (b.as_double() == 0) fail(RenderErrorKind::ZeroDivision, "division by zero");
      return Value::number(a.as_double() / b.as_double());
    case Expr::BinOp::FloorDiv:
      if (!numbers) unsupported(op, a, b);
      if (any_float) {
        if (b.as_double() == 0) fail(RenderErrorKind::ZeroDivision, "float floor division by zero");
        double x = a.as_double(), y = b.as_double();
        double mod = py_fmod(x, y);
        double div = (x - mod) / y;
        double floordiv = std::floor(div);
        if (div - floordiv > 0.5) floordiv += 1.0;
        if (div == 0) floordiv = std::copysign(0.0, x / y);
        return Value::number(floordiv);
      }
      if (b.as_int() == 0)
        fail(RenderErrorKind::ZeroDivision, "integer division or modulo by zero");
      return Value::integer(floor_div(a.as_int(), b.as_int()));
    case Expr::BinOp::Mod:
      if (a.is_markup()) {  // Markup.__mod__ escapes the arguments
        auto esc = [](const Value& x) {
          return x.is_string() && !x.is_markup() ? Value::markup(html_escape(x.as_string())) : x;
        };
        Value args = b;
        if (b.is_tuple()) {
          std::vector<Value> items;
          for (const auto& x : b.items()) items.push_back(esc(x));
          args = Value::list(std::move(items), true);
        } else {
          args = esc(b);
        }
        return Value::markup(percent_format(a.as_string(), args));
      }
      if (a.is_string()) return Value::string(percent_format(a.as_string(), b));
      if (!numbers) unsupported(op, a, b);
      if (any_float) {
        if (b.as_double() == 0) fail(RenderErrorKind::ZeroDivision, "float modulo");
        return Value::number(py_fmod(a.as_double(), b.as_double()));
      }
      if (b.as_int() == 0)
        fail(RenderErrorKind::ZeroDivision, "integer division or modulo by zero");
      return Value::integer(py_mod(a.as_int(), b.as_int()));
    case Expr::BinOp::Pow:
      if (!numbers) unsupported(op, a, b);
      if (!any_float && b.as_int() >= 0) return int_pow(a.as_int(), b.as_int());
      if (a.as_double() == 0 && b.as_double() < 0)
        fail(RenderErrorKind::ZeroDivision, "0.0 cannot be raised to a negative power");
      if (a.as_double() < 0 && std::floor(b.as_double()) != b.as_double())
        fail(RenderErrorKind::Value, "a negative number raised to a fractional power is complex");
      return Value::number(std::pow(a.as_double(), b.as_double()));
  }
  unsupported(op, a, b);
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

Value negate(const Value& v, bool minus) {
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_float()) return Value::number(minus ? -v.as_double() : v.as_double());
  if (v.is_int() || v.is_bool()) {
    if (!minus) return Value::integer(v.as_int());
    if (v.as_int() == INT64_MIN)
      fail(RenderErrorKind::Overflow, "integer result does not fit in 64 bits");
    return Value::integer(-v.as_int());
  }
  fail(RenderErrorKind::Type,
       fmt::format("bad operand type for unary {}: '{}'", minus ? '-' : '+', type_name(v)));
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::Undefined:
      return false;
    case Value::Kind::String:
      if (!item.is_string())
        fail(RenderErrorKind::Type,
             fmt::format("'in <string>' requires string as left operand, not {}", type_name(item)));
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::List:
      charge(container.items().size());
      for (const auto& x : container.items())
        if (equals(x, item)) return true;
      return false;
    case Value::Kind::Dict:
      if ((item.is_list() && !item.is_tuple()) || item.is_dict())
        fail(RenderErrorKind::Type, fmt::format("unhashable type: '{}'", type_name(item)));
      return container.dict_data().find(item) != nullptr;
    case Value::Kind::Loop:
      for (const auto& x : container.loop_data().items)
        if (equals(x, item)) return true;
      return false;
    default:
      fail(RenderErrorKind::Type,
           fmt::format("argument of type '{}' is not iterable", type_name(container)));
  }
}

bool compare_op(Expr::CmpOp op, const Value& a, const Value& b) {
  switch (op) {
    case Expr::CmpOp::Eq:
      return equals(a, b);
    case Expr::CmpOp::Ne:
      return !equals(a, b);
    case Expr::CmpOp::Lt:
      return order(a, b, "<") == -1;
    case Expr::CmpOp::LtEq: {
      int o = order(a, b, "<=");
      return o == -1 || o == 0;
    }
    case Expr::CmpOp::Gt:
      return order(a, b, ">") == 1;
    case Expr::CmpOp::GtEq: {
      int o = order(a, b, ">=");
      return o == 1 || o == 0;
    }
    case Expr::CmpOp::In:
      return contains(b, a);
    case Expr::CmpOp::NotIn:
      return !contains(b, a);
  }
  return false;
}

}  // namespace vkcls::templates::detail
