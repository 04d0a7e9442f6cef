// JSON in (the render context) and out (transformers' tojson: json.dumps
// with ensure_ascii, indent, separators and sort_keys).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "templates/runtime.h"
#include "templates/unicode.h"
#include "templates/value.h"

namespace vkcls::templates::detail {

namespace {

template <class Json>
Value from_json_impl(const Json& j, int depth) {
  if (depth > 512) fail(RenderErrorKind::Value, "context JSON is nested more than 512 levels");
  switch (j.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      return Value::none();
    case nlohmann::json::value_t::boolean:
      return Value::boolean(j.template get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value::integer(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      uint64_t u = j.template get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value::integer(static_cast<int64_t>(u));
      return Value::number(static_cast<double>(u));
    }
    case nlohmann::json::value_t::number_float:
      return Value::number(j.template get<double>());
    case nlohmann::json::value_t::string:
      return Value::string(utf8_sanitize(j.template get_ref<const std::string&>()));
    case nlohmann::json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& x : j) items.push_back(from_json_impl(x, depth + 1));
      return Value::list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      auto d = std::make_shared<DictData>();
      d->entries.reserve(j.size());
      for (auto it = j.begin(); it != j.end(); ++it)
        d->insert(Value::string(utf8_sanitize(it.key())), from_json_impl(it.value(), depth + 1));
      return Value::dict(std::move(d));
    }
    case nlohmann::json::value_t::binary: {
      std::vector<Value> items;
      for (uint8_t b : j.get_binary()) items.push_back(Value::integer(b));
      return Value::list(std::move(items));
    }
  }
  return Value::none();
}

void append_json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    size_t start = i;
    char32_t c = utf8_next(s, i);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    if (c < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else if (ensure_ascii && c >= 0x7F) {
      if (c < 0x10000) {
        out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
      } else {
        char32_t u = c - 0x10000;
        out += fmt::format("\\u{:04x}\\u{:04x}", static_cast<unsigned>(0xD800 + (u >> 10)),
                           static_cast<unsigned>(0xDC00 + (u & 0x3FF)));
      }
    } else {
      out.append(s.substr(start, i - start));
    }
  }
  out.push_back('"');
}

std::string json_float(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return format_float(d);
}

struct JsonWriter {
  bool ensure_ascii;
  const std::string* indent;  // nullptr: one line
  std::string item_sep, key_sep;
  bool sort_keys;
  std::string out;

  void newline(int level) {
    out.push_back('\n');
    for (int i = 0; i < level; ++i) out += *indent;
  }

  std::string key_string(const Value& k) {
    switch (k.kind()) {
      case Value::Kind::String:
        return k.as_string();
      case Value::Kind::Bool:
        return k.as_bool() ? "true" : "false";
      case Value::Kind::None:
        return "null";
      case Value::Kind::Int:
        return std::to_string(k.as_int());
      case Value::Kind::Float:
        return json_float(k.as_double());
      default:
        fail(RenderErrorKind::Type,
             fmt::format("keys must be str, int, float, bool or None, not {}", type_name(k)));
    }
  }

  void write(const Value& v, int level) {
    DepthGuard guard;
    charge(1);
    check_size(out.size());
    switch (v.kind()) {
      case Value::Kind::None:
        out += "null";
        return;
      case Value::Kind::Bool:
        out += v.as_bool() ? "true" : "false";
        return;
      case Value::Kind::Int:
        out += std::to_string(v.as_int());
        return;
      case Value::Kind::Float:
        out += json_float(v.as_double());
        return;
      case Value::Kind::String:
        append_json_string(out, v.as_string(), ensure_ascii);
        return;
      case Value::Kind::List: {
        const auto& items = v.items();
        if (items.empty()) {
          out += "[]";
          return;
        }
        out.push_back('[');
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += item_sep;
          if (indent) newline(level + 1);
          write(items[i], level + 1);
        }
        if (indent) newline(level);
        out.push_back(']');
        return;
      }
      case Value::Kind::Dict: {
        const auto& entries = v.dict_data().entries;
        if (entries.empty()) {
          out += "{}";
          return;
        }
        std::vector<std::pair<std::string, const Value*>> items;
        items.reserve(entries.size());
        for (const auto& [k, val] : entries) items.emplace_back(key_string(k), &val);
        if (sort_keys)
          std::stable_sort(items.begin(), items.end(),
                           [](const auto& a, const auto& b) { return a.first < b.first; });
        out.push_back('{');
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += item_sep;
          if (indent) newline(level + 1);
          append_json_string(out, items[i].first, ensure_ascii);
          out += key_sep;
          write(*items[i].second, level + 1);
        }
        if (indent) newline(level);
        out.push_back('}');
        return;
      }
      default:
        fail(RenderErrorKind::Type,
             fmt::format("Object of type {} is not JSON serializable", type_name(v)));
    }
  }
};

}  // namespace

Value from_json(const nlohmann::ordered_json& j) {
  return from_json_impl(j, 0);
}
Value from_json(const nlohmann::json& j) {
  return from_json_impl(j, 0);
}

std::string to_json(const Value& v, bool ensure_ascii, const std::string* indent,
                    const std::string* item_sep, const std::string* key_sep, bool sort_keys) {
  JsonWriter w{
      ensure_ascii, indent, item_sep ? *item_sep : (indent ? "," : ", "), key_sep ? *key_sep : ": ",
      sort_keys,    {}};
  w.write(v, 0);
  return std::move(w.out);
}

}  // namespace vkcls::templates::detail
