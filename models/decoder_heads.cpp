#include "models/decoder_heads.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>

#include "models/heads.h"
#include "runtime/half.h"
#include "vkcls/types.h"

namespace vkcls {

namespace {

using nlohmann::json;

struct Conversion {
  std::vector<std::string> tokens;
  std::string method;  // from_2_way_softmax | no_post_processing
};

std::optional<Conversion> conversion_of(const json& raw) {
  auto t = raw.find("classifier_from_token");
  auto q = raw.find("is_original_qwen3_reranker");
  const bool qwen3 = q != raw.end() && q->is_boolean() && q->get<bool>();
  if (t == raw.end() || t->is_null()) {
    if (qwen3)  // as vLLM's Qwen3ForSequenceClassificationConfig asserts
      throw Error(ErrorKind::model,
                  "config.json: is_original_qwen3_reranker needs classifier_from_token "
                  "[\"no\", \"yes\"] (vLLM's --hf-overrides for Qwen3-Reranker)");
    return std::nullopt;
  }
  Conversion c;
  if (!t->is_array() || t->empty())
    throw Error(ErrorKind::model,
                "config.json: classifier_from_token must be a non-empty list of token strings");
  for (const json& s : *t) {
    if (!s.is_string())
      throw Error(ErrorKind::model, "config.json: classifier_from_token entries must be strings");
    c.tokens.push_back(s.get<std::string>());
  }
  auto m = raw.find("method");
  if (m != raw.end() && m->is_string()) c.method = m->get<std::string>();
  if (qwen3) {
    if (c.tokens.size() != 2)
      throw Error(
          ErrorKind::model,
          fmt::format("config.json: is_original_qwen3_reranker needs 2 classifier_from_token "
                      "entries (false, true), got {}",
                      c.tokens.size()));
    c.method = "from_2_way_softmax";
  }
  if (c.method != "from_2_way_softmax" && c.method != "no_post_processing")
    throw Error(ErrorKind::model,
                fmt::format("config.json: method '{}' for classifier_from_token is not one of "
                            "from_2_way_softmax, no_post_processing",
                            c.method));
  if (c.method == "from_2_way_softmax" && c.tokens.size() != 2)
    throw Error(ErrorKind::model,
                fmt::format("config.json: method from_2_way_softmax needs 2 classifier_from_token "
                            "entries (false, true), got {}",
                            c.tokens.size()));
  return c;
}

// rows `ids` of a [rows, cols] f32 / f16 / bf16 tensor, as floats
std::vector<float> read_rows(const WeightView& v, const std::vector<int32_t>& ids) {
  const int64_t rows = v.shape[0], cols = v.shape[1];
  std::vector<float> out;
  out.reserve(ids.size() * size_t(cols));
  for (int32_t id : ids) {
    if (id < 0 || id >= rows)
      throw Error(ErrorKind::model,
                  fmt::format("token id {} is outside {} ({} rows)", id, v.name, rows));
    for (int64_t c = 0; c < cols; ++c) {
      const size_t i = size_t(id) * size_t(cols) + size_t(c);
      if (v.dtype == WeightDType::f32) {
        float f;
        std::memcpy(&f, v.data + 4 * i, 4);
        out.push_back(f);
      } else if (v.dtype == WeightDType::f16 || v.dtype == WeightDType::bf16) {
        uint16_t h;
        std::memcpy(&h, v.data + 2 * i, 2);
        out.push_back(v.dtype == WeightDType::f16 ? half_to_float(h) : bf16_to_float(h));
      } else {
        throw Error(ErrorKind::model, fmt::format("{} has dtype {}; expected F32, F16 or BF16",
                                                  v.name, v.dtype_name));
      }
    }
  }
  return out;
}

HeadSpec one_linear(DeviceWeights& w, std::vector<float> rows, int64_t out, int64_t hidden) {
  HeadSpec h;
  HeadLayer l;
  l.w = w.from_floats(rows, {out, hidden}, DType::f32);
  h.layers.push_back(std::move(l));
  h.in_features = hidden;
  h.out_features = out;
  return h;
}

HeadSpec converted_head(DeviceWeights& w, const RunnerArgs& a, const Conversion& c, int64_t hidden,
                        const std::string& embed_name) {
  const WeightStore& s = w.store();
  const bool tied = a.cfg.raw.value("tie_word_embeddings", !s.has("lm_head.weight"));
  const std::string lm = tied ? embed_name : "lm_head.weight";
  if (!s.has(lm))
    throw Error(ErrorKind::model,
                fmt::format("classifier_from_token needs the lm_head: the checkpoint has no '{}' "
                            "(tie_word_embeddings is {})",
                            lm, tied));
  if (!a.token_to_id)
    throw Error(ErrorKind::model,
                "classifier_from_token needs the model's tokenizer to resolve its tokens");
  std::vector<int32_t> ids;
  for (const std::string& t : c.tokens) {
    std::optional<int32_t> id = a.token_to_id(t);
    if (!id)
      throw Error(ErrorKind::model,
                  fmt::format("classifier_from_token '{}' is not a token of the tokenizer", t));
    ids.push_back(*id);
  }
  std::vector<float> rows = read_rows(s.get(lm, {-1, hidden}), ids);
  if (c.method == "no_post_processing") return one_linear(w, rows, int64_t(ids.size()), hidden);
  std::vector<float> diff(static_cast<size_t>(hidden));  // lm_head[true] - lm_head[false]
  for (int64_t i = 0; i < hidden; ++i) diff[size_t(i)] = rows[size_t(hidden + i)] - rows[size_t(i)];
  return one_linear(w, diff, 1, hidden);
}

}  // namespace

bool apply_classifier_conversion(ModelConfig& cfg) {
  std::optional<Conversion> c = conversion_of(cfg.raw);
  if (!c) return false;
  cfg.num_labels = c->method == "from_2_way_softmax" ? 1 : int64_t(c->tokens.size());
  cfg.id2label.clear();
  cfg.has_id2label = false;
  return true;
}

DecoderHeads load_decoder_heads(DeviceWeights& w, const RunnerArgs& a, int64_t hidden,
                                const std::string& embed_name, float score_scale) {
  const ModelConfig& cfg = a.cfg;
  const WeightStore& s = w.store();
  const std::string arch = cfg.architectures.empty() ? cfg.model_type : cfg.architectures[0];
  DecoderHeads h;
  if (std::optional<Conversion> c = conversion_of(cfg.raw)) {
    h.seq = converted_head(w, a, *c, hidden, embed_name);  // vLLM pools token n - 1: no pad rule
    return h;
  }
  if (!s.has("score.weight"))
    throw Error(
        ErrorKind::model,
        fmt::format(
            "{}: the checkpoint has no 'score.weight' and config.json no classifier_from_token; a "
            "*ForCausalLM reranker needs --hf-overrides with architectures, classifier_from_token "
            "and "
            "method (vLLM's --convert classify)",
            arch));
  if (arch.ends_with("ForTokenClassification")) {
    h.tok = load_head(w, {{HeadLayer::Kind::linear, "score"}}, hidden);
    return h;
  }
  if (!arch.ends_with("ForSequenceClassification"))
    throw Error(ErrorKind::model,
                fmt::format("architecture '{}' is not a classifier (*ForSequenceClassification, "
                            "*ForTokenClassification, or classifier_from_token)",
                            arch));
  h.seq = load_head(w, {{HeadLayer::Kind::linear, "score"}}, hidden);
  if (score_scale != 1.f) {
    std::vector<float> sw = s.to_f32("score.weight");
    for (float& x : sw) x *= score_scale;
    h.seq.layers[0].w = w.from_floats(sw, h.seq.layers[0].w.shape, DType::f32);
    if (h.seq.layers[0].b.valid()) {
      std::vector<float> sb = s.to_f32("score.bias");
      for (float& x : sb) x *= score_scale;
      h.seq.layers[0].b = w.from_floats(sb, h.seq.layers[0].b.shape, DType::f32);
    }
  }
  if (cfg.pad_token_id >= 0) h.pad_token_id = int32_t(cfg.pad_token_id);
  return h;
}

}  // namespace vkcls
