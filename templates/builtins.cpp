// Globals of transformers' environment: range (with the sandbox's MAX_RANGE),
// namespace and dict (TemplateNamespace / TemplateDict), raise_exception,
// strftime_now, and jinja2's cycler and joiner.
#include <fmt/format.h>

#include <chrono>
#include <ctime>

#include "templates/runtime.h"

namespace vkcls::templates::detail {
namespace {

constexpr int64_t kMaxRange = 100000;  // jinja2.sandbox.MAX_RANGE

Value range(CallArgs& args) {
  if (!args.kwargs.empty()) fail(RenderErrorKind::Type, "range() takes no keyword arguments");
  size_t n = args.args.size();
  if (n < 1 || n > 3)
    fail(RenderErrorKind::Type, fmt::format("range expected at most 3 arguments, got {}", n));
  int64_t start = 0, stop, step = 1;
  if (n == 1) {
    stop = to_index(args.args[0], "range");
  } else {
    start = to_index(args.args[0], "range");
    stop = to_index(args.args[1], "range");
    if (n == 3) step = to_index(args.args[2], "range");
  }
  if (step == 0) fail(RenderErrorKind::Value, "range() arg 3 must not be zero");
  // Length as Python computes it, in 128 bits so that no argument overflows.
  __int128 len = 0;
  if (step > 0 && start < stop) len = ((__int128)stop - start - 1) / step + 1;
  if (step < 0 && start > stop) len = ((__int128)start - stop - 1) / (-(__int128)step) + 1;
  if (len > kMaxRange)
    fail(RenderErrorKind::Overflow,
         "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  charge(static_cast<uint64_t>(len));
  std::vector<Value> items;
  items.reserve(static_cast<size_t>(len));
  for (int64_t i = 0; i < static_cast<int64_t>(len); ++i)
    items.push_back(Value::integer(start + i * step));
  return Value::list(std::move(items));
}

// dict(*args, **kwargs): a mapping, or an iterable of key / value pairs.
std::shared_ptr<DictData> build_dict(CallArgs& args, const char* function) {
  auto d = std::make_shared<DictData>();
  if (args.args.size() > 1)
    fail(RenderErrorKind::Type,
         fmt::format("{} expected at most 1 argument, got {}", function, args.args.size()));
  if (args.args.size() == 1) {
    const Value& src = args.args[0];
    if (src.is_dict()) {
      for (const auto& [k, v] : src.dict_data().entries) d->insert(k, v);
    } else if (src.is_namespace()) {
      for (const auto& [k, v] : src.namespace_data().attrs) d->insert(Value::string(k), v);
    } else {
      std::vector<Value> pairs = iterate(src);
      for (size_t i = 0; i < pairs.size(); ++i) {
        std::vector<Value> kv;
        if (pairs[i].is_list() || pairs[i].is_string())
          kv = iterate(pairs[i]);
        else
          fail(RenderErrorKind::Type,
               fmt::format("cannot convert dictionary update sequence element #{} to a sequence",
                           i));
        if (kv.size() != 2)
          fail(RenderErrorKind::Value,
               fmt::format("dictionary update sequence element #{} has length {}; 2 is required", i,
                           kv.size()));
        d->insert(kv[0], kv[1]);
      }
    }
  }
  for (auto& [k, v] : args.kwargs) d->insert(Value::string(k), v);
  return d;
}

Value strftime_now(CallArgs& args) {
  const Value* fmt_arg = args.get(0, "format");
  args.finish("strftime_now");
  if (!fmt_arg)
    fail(RenderErrorKind::Type, "strftime_now() missing 1 required positional argument: 'format'");
  if (!fmt_arg->is_string())
    fail(RenderErrorKind::Type,
         fmt::format("strftime() argument 1 must be str, not {}", type_name(*fmt_arg)));
  RenderState* st = render_state();
  auto now = st && st->clock ? (*st->clock)() : std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
      1000000;
  std::tm tm{};
  localtime_r(&t, &tm);
  // Python's datetime.strftime adds %f (microseconds) to the C directives.
  std::string format;
  const std::string& f = fmt_arg->as_string();
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == '%' && i + 1 < f.size() && f[i + 1] == 'f') {
      format += fmt::format("{:06d}", micros);
      ++i;
    } else if (f[i] == '%' && i + 1 < f.size() && f[i + 1] == '%') {
      format += "%%";
      ++i;
    } else {
      format.push_back(f[i]);
    }
  }
  std::string out;
  for (size_t size = 256; size <= (size_t{1} << 20); size *= 4) {
    out.resize(size);
    size_t n = format.empty() ? 0 : std::strftime(out.data(), out.size(), format.c_str(), &tm);
    if (n > 0 || format.empty() || size >= format.size() * 64) {
      out.resize(n);
      break;
    }
  }
  check_size(out.size());
  return Value::string(out);
}

}  // namespace

Value call_builtin(Interp& in, const CallableData& c, CallArgs& args) {
  (void)in;
  switch (c.builtin) {
    case Builtin::Range:
      return range(args);
    case Builtin::Namespace: {
      auto d = build_dict(args, "namespace");
      auto ns = new_namespace();
      for (auto& [k, v] : d->entries) {
        if (!k.is_string())
          fail(RenderErrorKind::Type, "namespace attribute names must be strings");
        if (!k.as_string().empty() && k.as_string()[0] == '_')
          fail(RenderErrorKind::Security,
               fmt::format("Chat templates cannot store underscore-prefixed attributes on a "
                           "namespace, but got {}. Please rename the attribute.",
                           repr_string(k.as_string())));
        ns->set(k.as_string(), v);
      }
      return Value::ns(std::move(ns));
    }
    case Builtin::Dict:
      return Value::dict(build_dict(args, "dict"));
    case Builtin::RaiseException: {
      const Value* msg = args.get(0, "message");
      args.finish("raise_exception");
      throw RaisedFailure{msg ? py_str(*msg) : std::string("None")};
    }
    case Builtin::StrftimeNow:
      return strftime_now(args);
    case Builtin::Cycler: {
      if (args.args.empty()) fail(RenderErrorKind::Runtime, "at least one item has to be provided");
      auto obj = std::make_shared<CallableData>();
      obj->kind = CallableData::Kind::CyclerNext;
      obj->name = "Cycler";
      obj->receiver = Value::list(args.args);
      obj->state = new_namespace();
      obj->state->set("pos", Value::integer(0));
      return Value::callable(std::move(obj));
    }
    case Builtin::Joiner: {
      const Value* sep = args.get(0, "sep");
      args.finish("joiner");
      auto obj = std::make_shared<CallableData>();
      obj->kind = CallableData::Kind::JoinerCall;
      obj->name = "Joiner";
      obj->receiver = Value::string(sep ? py_str(*sep) : ", ");
      obj->state = new_namespace();
      obj->state->set("used", Value::boolean(false));
      return Value::callable(std::move(obj));
    }
    case Builtin::Lipsum:
      fail(RenderErrorKind::Runtime, "lipsum() is not supported (its text is random)");
  }
  fail(RenderErrorKind::Runtime, "unknown builtin");
}

Value call_helper(const CallableData& c, CallArgs& args) {
  switch (c.kind) {
    case CallableData::Kind::CyclerNext: {
      if (c.name == "Cycler") fail(RenderErrorKind::Type, "'Cycler' object is not callable");
      const auto& items = c.receiver.items();
      int64_t pos = c.state->find("pos")->as_int();
      Value v = items[static_cast<size_t>(pos)];
      c.state->set("pos", Value::integer((pos + 1) % static_cast<int64_t>(items.size())));
      return v;
    }
    case CallableData::Kind::CyclerReset:
      c.state->set("pos", Value::integer(0));
      return Value::none();
    case CallableData::Kind::JoinerCall: {
      if (!c.state->find("used")->as_bool()) {
        c.state->set("used", Value::boolean(true));
        return Value::string("");
      }
      return c.receiver;
    }
    case CallableData::Kind::LoopCycle: {
      const LoopData& l = c.receiver.loop_data();
      if (args.args.empty()) fail(RenderErrorKind::Type, "no items for cycling given");
      return args.args[l.index0 % args.args.size()];
    }
    case CallableData::Kind::LoopChanged: {
      LoopData& l = c.receiver.loop_data();
      Value current = Value::list(args.args);
      if (l.has_changed && equals(current, l.last_changed)) return Value::boolean(false);
      l.last_changed = std::move(current);
      l.has_changed = true;
      return Value::boolean(true);
    }
    default:
      fail(RenderErrorKind::Type, "object is not callable");
  }
}

}  // namespace vkcls::templates::detail
