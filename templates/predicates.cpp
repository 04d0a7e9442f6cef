// jinja2's builtin tests (jinja2/tests.py): `x is defined`, `x is string`, ...
#include <fmt/format.h>

#include "templates/runtime.h"
#include "templates/unicode.h"

namespace vkcls::templates::detail {

enum class TestId : int {
  Defined,
  Undefined,
  None,
  Boolean,
  False,
  True,
  Integer,
  Float,
  Number,
  String,
  Mapping,
  Iterable,
  Sequence,
  Callable,
  Sameas,
  Escaped,
  In,
  Lower,
  Upper,
  Odd,
  Even,
  Divisibleby,
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
  Filter,
  Test,
};

namespace {

struct TestName {
  const char* name;
  TestId id;
};
const TestName kTests[] = {
    {"defined", TestId::Defined},
    {"undefined", TestId::Undefined},
    {"none", TestId::None},
    {"boolean", TestId::Boolean},
    {"false", TestId::False},
    {"true", TestId::True},
    {"integer", TestId::Integer},
    {"float", TestId::Float},
    {"number", TestId::Number},
    {"string", TestId::String},
    {"mapping", TestId::Mapping},
    {"iterable", TestId::Iterable},
    {"sequence", TestId::Sequence},
    {"callable", TestId::Callable},
    {"sameas", TestId::Sameas},
    {"escaped", TestId::Escaped},
    {"in", TestId::In},
    {"lower", TestId::Lower},
    {"upper", TestId::Upper},
    {"odd", TestId::Odd},
    {"even", TestId::Even},
    {"divisibleby", TestId::Divisibleby},
    {"eq", TestId::Eq},
    {"equalto", TestId::Eq},
    {"==", TestId::Eq},
    {"ne", TestId::Ne},
    {"!=", TestId::Ne},
    {"lt", TestId::Lt},
    {"lessthan", TestId::Lt},
    {"<", TestId::Lt},
    {"le", TestId::Le},
    {"<=", TestId::Le},
    {"gt", TestId::Gt},
    {"greaterthan", TestId::Gt},
    {">", TestId::Gt},
    {"ge", TestId::Ge},
    {">=", TestId::Ge},
    {"filter", TestId::Filter},
    {"test", TestId::Test},
};

const Value& one_arg(CallArgs& a, const std::string& test) {
  if (a.args.size() != 1 || !a.kwargs.empty())
    fail(RenderErrorKind::Type,
         fmt::format("test '{}' takes exactly one argument ({} given)", test, a.args.size()));
  return a.args[0];
}

bool case_test(const std::string& s, bool upper) {
  bool cased = false;
  for (size_t i = 0; i < s.size();) {
    char32_t c = utf8_next(s, i);
    if (upper ? py_islower_char(c) : py_isupper_char(c)) return false;
    if (upper ? py_isupper_char(c) : py_islower_char(c)) cased = true;
  }
  return cased;
}

// `is` for the values Python interns or shares: None, bools, small ints,
// and containers by identity.
bool same_object(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::None:
      return true;
    case Value::Kind::Bool:
      return a.as_bool() == b.as_bool();
    case Value::Kind::Int:
      return a.as_int() == b.as_int() && a.as_int() >= -5 && a.as_int() <= 256;
    case Value::Kind::String:
      return a.string_ptr() == b.string_ptr();
    case Value::Kind::List:
      return &a.list_data() == &b.list_data();
    case Value::Kind::Dict:
      return &a.dict_data() == &b.dict_data();
    default:
      return equals(a, b);
  }
}

}  // namespace

bool lookup_test(const std::string& name, TestId& id) {
  for (const auto& t : kTests) {
    if (name == t.name) {
      id = t.id;
      return true;
    }
  }
  return false;
}

bool run_test(Interp& in, TestId id, const std::string& name, const Value& v, CallArgs& a) {
  (void)in;
  charge(1);
  auto no_args = [&]() {
    if (!a.args.empty() || !a.kwargs.empty())
      fail(RenderErrorKind::Type, fmt::format("test '{}' takes no arguments", name));
  };
  switch (id) {
    case TestId::Defined:
      no_args();
      return !v.is_undefined();
    case TestId::Undefined:
      no_args();
      return v.is_undefined();
    case TestId::None:
      no_args();
      return v.is_none();
    case TestId::Boolean:
      no_args();
      return v.is_bool();
    case TestId::False:
      no_args();
      return v.is_bool() && !v.as_bool();
    case TestId::True:
      no_args();
      return v.is_bool() && v.as_bool();
    case TestId::Integer:
      no_args();
      return v.is_int();
    case TestId::Float:
      no_args();
      return v.is_float();
    case TestId::Number:
      no_args();
      return v.is_number();
    case TestId::String:
      no_args();
      return v.is_string();
    case TestId::Mapping:
      no_args();
      return v.is_dict();
    case TestId::Iterable:
      no_args();
      return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined() || v.is_loop() ||
             v.is_iterator();
    case TestId::Sequence:
      no_args();
      return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
    case TestId::Callable:
      no_args();
      if (v.is_undefined()) return true;  // Undefined defines __call__ (to raise)
      return v.is_callable() && !(v.callable_data().kind == CallableData::Kind::CyclerNext &&
                                  v.callable_data().name == "Cycler");
    case TestId::Escaped:
      no_args();
      return v.is_markup();
    case TestId::Sameas:
      return same_object(v, one_arg(a, name));
    case TestId::In:
      return contains(one_arg(a, name), v);
    case TestId::Lower:
      no_args();
      return case_test(py_str(v), false);
    case TestId::Upper:
      no_args();
      return case_test(py_str(v), true);
    case TestId::Odd:
    case TestId::Even: {
      no_args();
      Value r = binary_op(Expr::BinOp::Mod, v, Value::integer(2));
      return equals(r, Value::integer(id == TestId::Odd ? 1 : 0));
    }
    case TestId::Divisibleby: {
      Value r = binary_op(Expr::BinOp::Mod, v, one_arg(a, name));
      return equals(r, Value::integer(0));
    }
    case TestId::Eq:
      return compare_op(Expr::CmpOp::Eq, v, one_arg(a, name));
    case TestId::Ne:
      return compare_op(Expr::CmpOp::Ne, v, one_arg(a, name));
    case TestId::Lt:
      return compare_op(Expr::CmpOp::Lt, v, one_arg(a, name));
    case TestId::Le:
      return compare_op(Expr::CmpOp::LtEq, v, one_arg(a, name));
    case TestId::Gt:
      return compare_op(Expr::CmpOp::Gt, v, one_arg(a, name));
    case TestId::Ge:
      return compare_op(Expr::CmpOp::GtEq, v, one_arg(a, name));
    case TestId::Filter: {
      no_args();
      FilterId f;
      return v.is_string() && lookup_filter(v.as_string(), f);
    }
    case TestId::Test: {
      no_args();
      TestId t;
      return v.is_string() && lookup_test(v.as_string(), t);
    }
  }
  return false;
}

}  // namespace vkcls::templates::detail
