// JSON accessors that turn every malformed tokenizer.json into a
// TokenizerError naming the JSON path, instead of an nlohmann exception.
#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace vkcls::tok {

void json_fail(const std::string& path, const std::string& what) {
  throw TokenizerError("tokenizer.json: " + path + ": " + what);
}

const json& json_at(const json& j, const std::string& key, const std::string& path) {
  if (!j.is_object()) json_fail(path, "expected an object");
  auto it = j.find(key);
  if (it == j.end()) json_fail(path + "." + key, "missing field");
  return *it;
}

static const json* find_opt(const json& j, const std::string& key, const std::string& path) {
  if (!j.is_object()) json_fail(path, "expected an object");
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

bool json_bool(const json& j, const std::string& key, const std::string& path,
               std::optional<bool> dflt) {
  const json* v = find_opt(j, key, path);
  if (!v) {
    if (dflt) return *dflt;
    json_fail(path + "." + key, "missing field");
  }
  if (!v->is_boolean()) json_fail(path + "." + key, "expected a boolean");
  return v->get<bool>();
}

std::string json_string(const json& j, const std::string& key, const std::string& path,
                        std::optional<std::string> dflt) {
  const json* v = find_opt(j, key, path);
  if (!v) {
    if (dflt) return *dflt;
    json_fail(path + "." + key, "missing field");
  }
  if (!v->is_string()) json_fail(path + "." + key, "expected a string");
  return v->get<std::string>();
}

int64_t json_int(const json& j, const std::string& key, const std::string& path,
                 std::optional<int64_t> dflt) {
  const json* v = find_opt(j, key, path);
  if (!v) {
    if (dflt) return *dflt;
    json_fail(path + "." + key, "missing field");
  }
  if (!v->is_number_integer()) json_fail(path + "." + key, "expected an integer");
  return v->get<int64_t>();
}

double json_number(const json& j, const std::string& key, const std::string& path,
                   std::optional<double> dflt) {
  const json* v = find_opt(j, key, path);
  if (!v) {
    if (dflt) return *dflt;
    json_fail(path + "." + key, "missing field");
  }
  if (!v->is_number()) json_fail(path + "." + key, "expected a number");
  return v->get<double>();
}

char32_t json_char(const json& j, const std::string& key, const std::string& path,
                   std::optional<char32_t> dflt) {
  const json* v = find_opt(j, key, path);
  if (!v) {
    if (dflt) return *dflt;
    json_fail(path + "." + key, "missing field");
  }
  if (!v->is_string()) json_fail(path + "." + key, "expected a one-character string");
  std::string s = v->get<std::string>();
  if (s.empty() || utf8_find_invalid(s) != std::string::npos || utf8_count(s) != 1)
    json_fail(path + "." + key, "expected exactly one character");
  size_t i = 0;
  return utf8_next(s, i);
}

std::string json_type(const json& j, const std::string& path) {
  return json_string(j, "type", path);
}

std::string json_pattern(const json& j, const std::string& key, const std::string& path) {
  const json& p = json_at(j, key, path);
  std::string ppath = path + "." + key;
  if (!p.is_object() || p.size() != 1) json_fail(ppath, "expected {\"String\": ...} or {\"Regex\": ...}");
  if (p.contains("String")) {
    if (!p["String"].is_string()) json_fail(ppath + ".String", "expected a string");
    return Regex::escape(p["String"].get<std::string>());
  }
  if (p.contains("Regex")) {
    if (!p["Regex"].is_string()) json_fail(ppath + ".Regex", "expected a string");
    return p["Regex"].get<std::string>();
  }
  json_fail(ppath, "expected {\"String\": ...} or {\"Regex\": ...}");
}

SplitBehavior json_behavior(const json& j, const std::string& key, const std::string& path) {
  std::string b = json_string(j, key, path);
  if (b == "Removed") return SplitBehavior::Removed;
  if (b == "Isolated") return SplitBehavior::Isolated;
  if (b == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (b == "Contiguous") return SplitBehavior::Contiguous;
  json_fail(path + "." + key, "unknown split behavior '" + b + "'");
}

}  // namespace vkcls::tok
