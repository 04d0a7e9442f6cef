// --pooler-config: parsing vLLM's JSON spelling, and resolving it against the model.
#include "poolers/pooler_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "common/json_bounded.h"

namespace vkcls {

namespace {

using nlohmann::json;

Error bad(const std::string& field, const std::string& message) {
  return Error(ErrorKind::invalid_input, fmt::format("pooler_config.{}: {}", field, message),
               "pooler_config." + field);
}

const char* type_of(const json& j) {
  return j.is_string()    ? "a string"
         : j.is_boolean() ? "a boolean"
         : j.is_number()  ? "a number"
         : j.is_array()   ? "a list"
         : j.is_object()  ? "an object"
                          : "null";
}

std::optional<double> number(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) throw bad(key, fmt::format("expected a number, got {}", type_of(*it)));
  double v = it->get<double>();
  if (!std::isfinite(v)) throw bad(key, "must be a finite number");
  return v;
}

std::optional<int64_t> integer(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer())
    throw bad(key, fmt::format("expected an integer, got {}", type_of(*it)));
  if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t(INT32_MAX))
    throw bad(key, "is out of range");
  int64_t v = it->get<int64_t>();
  if (v < INT32_MIN || v > INT32_MAX) throw bad(key, "is out of range");
  return v;
}

std::optional<std::string> string(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw bad(key, fmt::format("expected a string, got {}", type_of(*it)));
  return it->get<std::string>();
}

}  // namespace

PoolerConfig parse_pooler_config(const std::string& text) {
  json o;
  try {
    o = json_parse_bounded<json>(text, kJsonConfigLimits);
  } catch (const JsonParseError& e) {
    throw Error(ErrorKind::invalid_input, fmt::format("pooler_config: invalid JSON ({})", e.what()),
                "pooler_config");
  }
  if (!o.is_object())
    throw Error(ErrorKind::invalid_input,
                fmt::format("pooler_config: expected a JSON object, got {}", type_of(o)),
                "pooler_config");
  static const char* kKnown[] = {
      "task",           "pooling_type", "seq_pooling_type", "tok_pooling_type",
      "use_activation", "dimensions",   "logit_mean",       "logit_sigma",
      "logit_bias",     "logit_scale",  "step_tag_id",      "returned_token_ids"};
  for (const auto& [key, value] : o.items())
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown))
      throw bad(key, fmt::format("unknown field (known: {})", fmt::join(kKnown, ", ")));

  PoolerConfig c;
  if (auto t = string(o, "task")) {
    c.task = task_from_name(*t);
    if (!c.task)
      throw bad("task",
                fmt::format("'{}' is not one of classify, token_classify, score, embed", *t));
  }
  auto seq = string(o, "seq_pooling_type"), tok = string(o, "tok_pooling_type");
  if (auto p = string(o, "pooling_type")) {
    // vLLM: pooling_type fills seq_ or tok_pooling_type, whichever kind it names
    if (seq) throw bad("pooling_type", "Cannot set both `pooling_type` and `seq_pooling_type`");
    if (tok) throw bad("pooling_type", "Cannot set both `pooling_type` and `tok_pooling_type`");
    if (seq_pooling_from_name(*p))
      seq = p;
    else if (tok_pooling_from_name(*p))
      tok = p;
    else
      throw bad("pooling_type", fmt::format("'{}' is not one of CLS, MEAN, LAST, ALL, STEP", *p));
  }
  if (seq) {
    auto p = seq_pooling_from_name(*seq);
    if (!p) throw bad("seq_pooling_type", fmt::format("'{}' is not one of CLS, MEAN, LAST", *seq));
    c.seq_pooling_type = seq_pooling_name(*p);
  }
  if (tok) {
    auto p = tok_pooling_from_name(*tok);
    if (!p) throw bad("tok_pooling_type", fmt::format("'{}' is not one of ALL, STEP", *tok));
    c.tok_pooling_type = tok_pooling_name(*p);
  }
  if (auto it = o.find("use_activation"); it != o.end() && !it->is_null()) {
    if (!it->is_boolean())
      throw bad("use_activation", fmt::format("expected a boolean, got {}", type_of(*it)));
    c.use_activation = it->get<bool>();
  }
  if (auto d = integer(o, "dimensions")) {
    if (*d < 1)
      throw bad("dimensions", fmt::format("{} must be a positive number of dimensions", *d));
    c.dimensions = *d;
  }
  c.logit_mean = number(o, "logit_mean");
  c.logit_sigma = number(o, "logit_sigma");
  // deprecated aliases, as vLLM resolves them: logit_bias -> logit_mean, logit_scale -> 1 /
  // logit_sigma
  if (auto b = number(o, "logit_bias")) {
    if (c.logit_mean)
      throw bad("logit_bias",
                "Cannot set both `logit_bias` and `logit_mean`. `logit_bias` is deprecated, use "
                "`logit_mean` instead.");
    c.logit_mean = b;
  }
  if (auto s = number(o, "logit_scale")) {
    if (c.logit_sigma)
      throw bad("logit_scale",
                "Cannot set both `logit_scale` and `logit_sigma`. `logit_scale` is deprecated, use "
                "`logit_sigma` instead.");
    if (*s == 0) throw bad("logit_scale", "logit_scale cannot be 0 (division by zero)");
    c.logit_sigma = 1.0 / *s;
  }
  if (c.logit_sigma && *c.logit_sigma == 0)
    throw bad("logit_sigma", "logit_sigma cannot be 0 (division by zero)");
  if (auto s = integer(o, "step_tag_id")) {
    if (*s < 0) throw bad("step_tag_id", fmt::format("{} is not a token id", *s));
    c.step_tag_id = int32_t(*s);
  }
  if (auto it = o.find("returned_token_ids"); it != o.end() && !it->is_null()) {
    if (!it->is_array())
      throw bad("returned_token_ids",
                fmt::format("expected a list of integers, got {}", type_of(*it)));
    std::vector<int32_t> ids;
    for (const json& v : *it) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
        throw bad("returned_token_ids", fmt::format("{} is not a non-negative integer", v.dump()));
      ids.push_back(int32_t(v.get<int64_t>()));
    }
    c.returned_token_ids = std::move(ids);
  }
  return c;
}

ResolvedPooler resolve_pooler(const PoolerConfig& user, const PoolerDefaults& model) {
  ResolvedPooler r;
  r.tasks = model.tasks;
  auto supports = [&](Task t) {
    return std::find(r.tasks.begin(), r.tasks.end(), t) != r.tasks.end();
  };
  std::vector<std::string> names;
  for (Task t : r.tasks) names.push_back(task_name(t));
  if (user.task) {
    if (!supports(*user.task))
      throw bad("task", fmt::format("the model does not support {} (it supports {})",
                                    task_name(*user.task), fmt::join(names, ", ")));
    r.default_task = *user.task;
  } else if (!r.tasks.empty()) {
    r.default_task = r.tasks.front();
  }

  r.seq_pooling = model.seq_pooling;
  r.embed_pooling = model.embed_pooling;
  if (!model.st_pooling_mode.empty()) {
    const std::string& m = model.st_pooling_mode;
    if (m == "cls")
      r.embed_pooling = SeqPooling::cls;
    else if (m == "mean")
      r.embed_pooling = SeqPooling::mean;
    else if (m == "lasttoken")
      r.embed_pooling = SeqPooling::last;
    else if (!user.seq_pooling_type)
      throw Error(
          ErrorKind::model,
          fmt::format("sentence-transformers pooling '{}' is not supported (cls, mean, lasttoken); "
                      "choose one with --pooler-config '{{\"pooling_type\": \"MEAN\"}}'",
                      m));
  }
  if (user.seq_pooling_type)
    r.seq_pooling = r.embed_pooling = *seq_pooling_from_name(*user.seq_pooling_type);
  if (user.tok_pooling_type) r.tok_pooling = *tok_pooling_from_name(*user.tok_pooling_type);
  r.step_tag_id = user.step_tag_id;
  if (user.step_tag_id && !user.tok_pooling_type) r.tok_pooling = TokPooling::step;
  r.use_activation = user.use_activation.value_or(true);
  if (user.dimensions) {
    if (*user.dimensions > model.hidden_size)
      throw bad("dimensions", fmt::format("{} is more than the model's hidden size {}",
                                          *user.dimensions, model.hidden_size));
    r.dimensions = user.dimensions;
  }
  if (user.logit_mean || user.logit_sigma)
    r.calibration =
        Calibration{float(user.logit_mean.value_or(0.0)), float(user.logit_sigma.value_or(1.0))};
  if (user.returned_token_ids) {
    for (int32_t k : *user.returned_token_ids)
      if (k >= model.num_labels)
        throw bad("returned_token_ids",
                  fmt::format("{} is outside the model's {} output columns", k, model.num_labels));
    r.returned_token_ids = *user.returned_token_ids;
  }
  return r;
}

}  // namespace vkcls
