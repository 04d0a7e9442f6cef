// Gemma and Gemma 2: Llama-like decoders (models/llama.h) with
//   embeddings * sqrt(hidden) (the factor rounded to the checkpoint dtype, as HF's normalizer),
//   RMSNorm * (1 + w), GeGLU with the tanh GELU, head_dim 256 (Gemma), and for Gemma 2
//   x += post_attention_layernorm(attn(input_layernorm(x)))
//   x += post_feedforward_layernorm(mlp(pre_feedforward_layernorm(x)))
//   scores * query_pre_attn_scalar^-0.5, then attn_logit_softcapping c * tanh(s / c), then the
//   mask; layer_types sliding_attention: a query sees the last sliding_window keys, itself
//   included.
// final_logit_softcapping belongs to Gemma2ForCausalLM's lm_head output only: neither
// Gemma2ForSequenceClassification nor vLLM's pooler of a converted model applies it, so no head
// here does. Weight names, HF behaviour: tests/data/decoders/README.md.
#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "models/llama.h"
#include "runtime/half.h"
#include "vkcls/types.h"

namespace vkcls {

namespace {

using nlohmann::json;

// sqrt(hidden) as torch.tensor(hidden ** 0.5, dtype=<model dtype>) rounds it
float embed_normalizer(const ModelConfig& cfg) {
  const float f = float(std::sqrt(double(cfg.hidden_size)));
  if (cfg.torch_dtype == "bfloat16") {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000u;  // round to nearest even
    float r;
    std::memcpy(&r, &bits, 4);
    return r;
  }
  if (cfg.torch_dtype == "float16") return half_to_float(float_to_half(f));
  return f;
}

double positive(const json& raw, const char* key, double fallback) {
  auto it = raw.find(key);
  if (it == raw.end() || it->is_null()) return fallback;
  if (!it->is_number() || !(it->get<double>() > 0))
    throw Error(ErrorKind::model, fmt::format("config.json: {} must be a positive number", key));
  return it->get<double>();
}

}  // namespace

std::unique_ptr<ModelRunner> make_gemma(const RunnerArgs& a) {
  const ModelConfig& cfg = a.cfg;
  const json& raw = cfg.raw;
  LlamaVariant v;
  v.family = "gemma";
  v.gemma_norms = true;
  v.embed_scale = embed_normalizer(cfg);
  if (cfg.model_type == "gemma2") {
    v.family = "gemma2";
    v.sandwich_norms = true;
    v.attn_scale =
        float(std::pow(positive(raw, "query_pre_attn_scalar", double(cfg.head_dim)), -0.5));
    v.attn_softcap = float(positive(raw, "attn_logit_softcapping", 0.0));
    const int64_t window = int64_t(positive(raw, "sliding_window", 4096));
    std::vector<std::string> types;
    if (auto lt = raw.find("layer_types"); lt != raw.end() && lt->is_array()) {
      for (const json& t : *lt) types.push_back(t.is_string() ? t.get<std::string>() : "");
    } else {
      for (int64_t i = 0; i < cfg.num_hidden_layers;
           ++i)  // transformers' default: even layers slide
        types.push_back((i + 1) % 2 ? "sliding_attention" : "full_attention");
    }
    if (int64_t(types.size()) != cfg.num_hidden_layers)
      throw Error(ErrorKind::model,
                  fmt::format("config.json: layer_types has {} entries for {} layers", types.size(),
                              cfg.num_hidden_layers));
    for (const std::string& t : types) {
      if (t != "sliding_attention" && t != "full_attention")
        throw Error(ErrorKind::model,
                    fmt::format("config.json: layer_types entry '{}' is not sliding_attention or "
                                "full_attention",
                                t));
      v.window.push_back(t == "sliding_attention" ? uint32_t(window) : 0u);
    }
  }
  return make_llama_like(a, v);
}

}  // namespace vkcls
