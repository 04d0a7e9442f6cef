// Bounded JSON parsing: the one way vkcls reads JSON it did not write itself (request bodies,
// config.json and --hf-overrides, tokenizer.json, tokenizer_config.json, modules.json,
// pooling configs, safetensors headers and indexes, CLI JSON lines).
//
//   auto j = json_parse_bounded<nlohmann::json>(text);               // default limits
//   auto o = json_parse_bounded<nlohmann::ordered_json>(text, {.max_depth = 64});
//
// nlohmann's parser itself is iterative, but a document nested 200,000 levels deep overflows
// the stack later (copying, comparing or dumping the value recurses), and an ordered_json
// object inserts each key with a linear duplicate search (40,000 keys: seconds). This parser
// drives nlohmann's SAX interface and builds the value itself:
//   - nesting deeper than max_depth, or more than max_values values in all, stops the parse;
//   - ordered_json objects keep their key order (chat messages are rendered in it) and take
//     each key in O(1) (a hash of the keys seen, for objects past a few keys); a repeated key
//     keeps its first position and its last value, as nlohmann's own parser does;
//   - every error is a JsonParseError with a kind and the path of the value it concerns
//     ("truncate_prompt_tokens", "input[2]"), e.g. a number that overflows a double (1e400).
// Header-only so that every library (tokenizer, templates, models, poolers, engine, server,
// tools) can use it without a link dependency.
#pragma once
#include <cstddef>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace vkcls {

struct JsonLimits {
  size_t max_depth = 128;  // nested arrays / objects; HF files nest < 10 deep
  // values of every kind in the document; 0 = no limit beyond the text's size. Files set it
  // generously (a 250k-entry tokenizer.json has ~1M values); request bodies are bounded by
  // --max-payload-bytes already.
  size_t max_values = 0;
};

// Config-like files (config.json, modules.json, pooling configs, tokenizer_config.json,
// safetensors headers and indexes): a million values is 100x the largest seen.
inline constexpr JsonLimits kJsonConfigLimits{.max_depth = 128, .max_values = 1'000'000};

// tokenizer.json: a 250k-token vocabulary with its merges is ~1M values.
inline constexpr JsonLimits kTokenizerJsonLimits{.max_depth = 128, .max_values = 50'000'000};

class JsonParseError : public std::runtime_error {
 public:
  enum class Kind { syntax, too_deep, too_many_values, number_out_of_range };
  JsonParseError(Kind kind, std::string path, const std::string& message)
      : std::runtime_error(message), kind_(kind), path_(std::move(path)) {}
  Kind kind() const { return kind_; }
  // where in the document: "a.b[3]"; "" for the top level or a syntax error
  const std::string& path() const { return path_; }

 private:
  Kind kind_;
  std::string path_;
};

namespace json_detail {

template <class J>
class BoundedBuilder {
 public:
  using number_integer_t = typename J::number_integer_t;
  using number_unsigned_t = typename J::number_unsigned_t;
  using number_float_t = typename J::number_float_t;
  using string_t = typename J::string_t;
  using binary_t = typename J::binary_t;
  using object_t = typename J::object_t;
  using array_t = typename J::array_t;
  static constexpr bool kOrdered = !std::is_same_v<J, nlohmann::json>;

  BoundedBuilder(J& root, const JsonLimits& limits) : root_(root), limits_(limits) {}

  bool null() { return add(J(nullptr)) != nullptr; }
  bool boolean(bool v) { return add(J(v)) != nullptr; }
  bool number_integer(number_integer_t v) { return add(J(v)) != nullptr; }
  bool number_unsigned(number_unsigned_t v) { return add(J(v)) != nullptr; }
  bool number_float(number_float_t v, const string_t&) { return add(J(v)) != nullptr; }
  bool string(string_t& v) { return add(J(std::move(v))) != nullptr; }
  bool binary(binary_t& v) { return add(J::binary(std::move(v))) != nullptr; }

  bool start_object(size_t) { return open(J(nlohmann::json::value_t::object)); }
  bool start_array(size_t) { return open(J(nlohmann::json::value_t::array)); }
  bool key(string_t& k) {
    open_.back().key = std::move(k);
    return true;
  }
  bool end_object() {
    open_.pop_back();
    return true;
  }
  bool end_array() {
    open_.pop_back();
    return true;
  }

  bool parse_error(size_t position, const std::string& token, const nlohmann::json::exception& e) {
    if (e.id == 406)  // out_of_range.406: "number overflow parsing '1e400'"
      throw JsonParseError(JsonParseError::Kind::number_out_of_range, path(),
                           where() + "the number " + token + " is out of range");
    throw JsonParseError(JsonParseError::Kind::syntax, "",
                         std::string(e.what()) + " (at byte " + std::to_string(position) + ")");
  }

 private:
  struct Open {
    J* node;
    string_t key;                                // objects: the key of the value that comes next
    std::unordered_map<string_t, size_t> index;  // ordered objects past kLinear keys
  };
  static constexpr size_t kLinear = 16;

  std::string path() const {
    std::string p;
    for (size_t i = 0; i < open_.size(); ++i) {
      const Open& o = open_[i];
      if (o.node->is_object()) {
        p += (p.empty() ? "" : ".") + o.key;
      } else {  // the innermost array is about to take element size(); outer ones hold one open
        size_t n = o.node->size();
        p += "[" + std::to_string(i + 1 == open_.size() ? n : n - 1) + "]";
      }
      if (p.size() > 80) return p + "...";
    }
    return p;
  }
  std::string where() const {
    std::string p = path();
    return p.empty() ? std::string() : p + ": ";
  }

  bool open(J&& v) {
    if (open_.size() + 1 > limits_.max_depth)
      throw JsonParseError(JsonParseError::Kind::too_deep, path(),
                           "JSON nested deeper than the limit of " +
                               std::to_string(limits_.max_depth) + " levels (at " + path() + ")");
    J* slot = add(std::move(v));
    open_.push_back(Open{slot, {}, {}});
    return true;
  }

  // Places v in the innermost open container (or as the root); returns where it now lives.
  J* add(J&& v) {
    if (limits_.max_values && ++values_ > limits_.max_values)
      throw JsonParseError(
          JsonParseError::Kind::too_many_values, path(),
          "JSON has more values than the limit of " + std::to_string(limits_.max_values));
    if (open_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Open& top = open_.back();
    if (top.node->is_array()) {
      auto& a = top.node->template get_ref<array_t&>();
      a.push_back(std::move(v));
      return &a.back();
    }
    auto& obj = top.node->template get_ref<object_t&>();
    if constexpr (!kOrdered) {
      return &(obj[top.key] = std::move(v));
    } else {
      using Container = typename object_t::Container;
      Container& items = obj;
      if (items.size() < kLinear) {
        for (auto& [k, value] : items)
          if (k == top.key) return &(value = std::move(v));
      } else {
        if (top.index.empty())
          for (size_t i = 0; i < items.size(); ++i) top.index.emplace(items[i].first, i);
        auto [it, fresh] = top.index.emplace(top.key, items.size());
        if (!fresh) return &(items[it->second].second = std::move(v));
      }
      items.emplace_back(top.key, std::move(v));  // the key stays: paths name it
      return &items.back().second;
    }
  }

  J& root_;
  JsonLimits limits_;
  std::vector<Open> open_;
  size_t values_ = 0;
};

}  // namespace json_detail

// Parses `text` as one JSON document within `limits`; throws JsonParseError.
template <class J = nlohmann::json>
J json_parse_bounded(std::string_view text, const JsonLimits& limits = {}) {
  J root;
  json_detail::BoundedBuilder<J> builder(root, limits);
  J::sax_parse(text.begin(), text.end(), &builder);
  return root;
}

}  // namespace vkcls
