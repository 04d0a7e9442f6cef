// GTE / mGTE (Alibaba-NLP/new-impl, config model_type "new": gte-multilingual-base,
// gte-multilingual-reranker-base, gte-*-en-v1.5): a post-LayerNorm encoder like BERT, with RoPE
// instead of a position table and a gated GELU MLP.
//   x = LN(word[ids] + type[type_ids])                              [T, H]
//   layer: q | k | v = x Wqkv^T + b; RoPE(q, k); a = attention       scores * d^-0.5
//          x = LN(x + a Wo^T + bo)                                   (attn_ln)
//          [up | gate] = x Wug^T (no bias); x = LN(x + (gelu(gate) * up) Wd^T + bd)   (mlp_ln)
//   no final norm. RoPE theta rope_theta; rope_scaling {"type": "ntk", "factor": F} gives
//   inv_freq_i = (theta F)^(-2i/d) / F^(2/d) at every length (new-impl builds its cache for
//   max_position_embeddings * F positions, which takes the scaled branch).
// Heads: seqcls classifier(tanh(pooler.dense(x[0]))); tokcls classifier(x).
// Weight names and the HF behaviour: tests/data/rope_encoders/README.md.
#include <fmt/format.h>

#include <cmath>

#include "models/blocks.h"
#include "models/heads.h"
#include "models/registry.h"
#include "vkcls/types.h"

namespace vkcls {

namespace {

using nlohmann::json;

// new-impl's RotaryEmbedding / NTKScalingRotaryEmbedding, in HF's float32 steps
std::vector<float> gte_inv_freq(const ModelConfig& cfg, int64_t d) {
  const json& raw = cfg.raw;
  auto sc = raw.find("rope_scaling");
  if (sc == raw.end() || sc->is_null()) return rope_inv_freq(cfg.rope_theta, d);
  std::string kind = sc->value("type", sc->value("rope_type", std::string()));
  if (kind != "ntk")
    throw Error(
        ErrorKind::model,
        fmt::format("config.json: GTE rope_scaling type '{}' is not supported (ntk)", kind));
  if (sc->contains("mixed_b") && !(*sc)["mixed_b"].is_null())
    throw Error(ErrorKind::model, "config.json: GTE rope_scaling mixed_b is not supported");
  double f = sc->value("factor", 1.0);
  if (!(f >= 1.0))
    throw Error(ErrorKind::model,
                fmt::format("config.json: rope_scaling factor {} must be >= 1", f));
  std::vector<float> inv = rope_inv_freq(cfg.rope_theta * f, d);  // theta * F as a double product
  const float div = float(std::pow(f, 2.0 / double(d)));
  for (float& x : inv) x = x / div;
  return inv;
}

class GteRunner final : public ModelRunner {
 public:
  explicit GteRunner(const RunnerArgs& a);
  const RunnerInfo& info() const override { return info_; }
  Tensor forward(Recorder& rec, Arena& scratch, const DeviceBatch& batch) override;
  const HeadSpec* sequence_head() const override {
    return seq_head_.empty() ? nullptr : &seq_head_;
  }
  const HeadSpec* token_head() const override { return tok_head_.empty() ? nullptr : &tok_head_; }

 private:
  struct Layer {
    Linear qkv, o, gate_up,
        down;  // gate_up rows reordered to [gate | up]: ops::glu activates the first half
    Tensor ln1_g, ln1_b, ln2_g, ln2_b;
  };
  Context& ctx_;
  RunnerInfo info_;
  int64_t H_, I_, heads_, D_;
  float eps_;
  ops::Act act_;
  DeviceWeights weights_;
  Tensor word_, type_, emb_ln_g_, emb_ln_b_, inv_freq_;
  std::vector<Layer> layers_;
  HeadSpec seq_head_, tok_head_;
};

GteRunner::GteRunner(const RunnerArgs& a) : ctx_(a.ctx), weights_(a.ctx, a.store, a.dtype) {
  const ModelConfig& cfg = a.cfg;
  const json& raw = cfg.raw;
  H_ = cfg.hidden_size;
  I_ = cfg.intermediate_size;
  heads_ = cfg.num_attention_heads;
  D_ = H_ / heads_;
  if (H_ % heads_ != 0 || D_ > 256 || D_ % 2 != 0)
    throw Error(
        ErrorKind::model,
        fmt::format("config.json: hidden_size {} / num_attention_heads {} must give an even "
                    "head dim of at most 256",
                    H_, heads_));
  if (raw.value("position_embedding_type", std::string("rope")) != "rope")
    throw Error(ErrorKind::model,
                "config.json: GTE position_embedding_type other than rope is not supported");
  if (raw.value("layer_norm_type", std::string("layer_norm")) != "layer_norm")
    throw Error(ErrorKind::model,
                "config.json: GTE layer_norm_type other than layer_norm is not supported");
  if (raw.value("logn_attention_scale", false))
    throw Error(ErrorKind::model, "config.json: GTE logn_attention_scale is not supported");
  if (!raw.value("pack_qkv", true))
    throw Error(ErrorKind::model, "config.json: GTE pack_qkv false is not supported");
  eps_ = float(cfg.layer_norm_eps);
  act_ = activation_from_config(cfg.hidden_act);

  info_.family = "gte";
  info_.hidden = H_;
  info_.vocab_size = cfg.vocab_size;
  info_.max_tokens = cfg.max_position_embeddings;
  info_.type_vocab_size = cfg.type_vocab_size;
  // x, qkv, attn, tmp, gate_up (2I), act (I)
  info_.scratch_bytes_per_token = 4 * (H_ + 3 * H_ + H_ + H_ + 2 * I_ + I_);
  info_.widest_row_bytes = 4 * std::max(3 * H_, 2 * I_);

  DeviceWeights& w = weights_;
  const WeightStore& s = a.store;
  std::string p = s.has("new.embeddings.word_embeddings.weight") ? "new." : "";
  if (!s.has(p + "embeddings.word_embeddings.weight"))
    throw Error(ErrorKind::model,
                "no GTE embeddings: expected 'new.embeddings.word_embeddings.weight'");
  auto bias = [&](const std::string& name, int64_t n) {
    return s.has(name) ? w.vector({name}, n) : Tensor{};
  };
  word_ = w.matrix(p + "embeddings.word_embeddings.weight", cfg.vocab_size, H_);
  if (cfg.type_vocab_size > 0)
    type_ = w.matrix(p + "embeddings.token_type_embeddings.weight", cfg.type_vocab_size, H_);
  emb_ln_g_ = w.vector({p + "embeddings.LayerNorm.weight"}, H_);
  emb_ln_b_ = w.vector({p + "embeddings.LayerNorm.bias"}, H_);
  inv_freq_ = w.from_floats(gte_inv_freq(cfg, D_), {D_ / 2}, DType::f32);
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
    const std::string l = fmt::format("{}encoder.layer.{}.", p, i);
    Layer L;
    L.qkv = {w.matrix(l + "attention.qkv_proj.weight", 3 * H_, H_),
             bias(l + "attention.qkv_proj.bias", 3 * H_)};
    L.o = {w.matrix(l + "attention.o_proj.weight", H_, H_), bias(l + "attention.o_proj.bias", H_)};
    s.get(l + "mlp.up_gate_proj.weight", {2 * I_, H_});
    std::vector<float> ug = s.to_f32(l + "mlp.up_gate_proj.weight");
    std::rotate(ug.begin(), ug.begin() + I_ * H_, ug.end());  // [up | gate] -> [gate | up]
    L.gate_up = {w.from_floats(ug, {2 * I_, H_}, a.dtype),
                 bias(l + "mlp.up_gate_proj.bias", 2 * I_)};
    if (L.gate_up.b.valid())
      throw Error(ErrorKind::model, "GTE up_gate_proj with a bias is not supported");
    L.down = {w.matrix(l + "mlp.down_proj.weight", H_, I_), bias(l + "mlp.down_proj.bias", H_)};
    L.ln1_g = w.vector({l + "attn_ln.weight"}, H_);
    L.ln1_b = w.vector({l + "attn_ln.bias"}, H_);
    L.ln2_g = w.vector({l + "mlp_ln.weight"}, H_);
    L.ln2_b = w.vector({l + "mlp_ln.bias"}, H_);
    layers_.push_back(std::move(L));
  }
  using K = HeadLayer::Kind;
  const std::string arch = cfg.architectures.empty() ? "" : cfg.architectures[0];
  if (arch.ends_with("ForSequenceClassification"))
    seq_head_ = load_head(
        w, {{K::linear, p + "pooler.dense", ops::Act::tanh}, {K::linear, "classifier"}}, H_);
  if (arch.ends_with("ForTokenClassification"))
    tok_head_ = load_head(w, {{K::linear, "classifier"}}, H_);
  info_.weight_bytes = w.bytes();
}

Tensor GteRunner::forward(Recorder& rec, Arena& scratch, const DeviceBatch& b) {
  const int64_t T = b.tokens;
  Tensor emb = scratch.alloc(DType::f32, {T, H_});
  ops::EmbedArgs ea;
  if (type_.valid()) {
    ea.type_ids = &b.type_ids;
    ea.type_table = &type_;
  }
  ops::embed(ctx_, rec, b.ids, word_, emb, ea);
  Tensor x = scratch.alloc(DType::f32, {T, H_});
  ops::layer_norm(ctx_, rec, emb, nullptr, emb_ln_g_, &emb_ln_b_, x, eps_);
  Tensor qkv = scratch.alloc(DType::f32, {T, 3 * H_});
  Tensor attn = scratch.alloc(DType::f32, {T, H_});
  Tensor tmp = scratch.alloc(DType::f32, {T, H_});
  Tensor gu = scratch.alloc(DType::f32, {T, 2 * I_});
  Tensor act = scratch.alloc(DType::f32, {T, I_});
  ops::AttentionArgs aa{.num_heads = uint32_t(heads_),
                        .num_kv_heads = uint32_t(heads_),
                        .head_dim = uint32_t(D_),
                        .q_offset = 0,
                        .k_offset = uint32_t(H_),
                        .v_offset = uint32_t(2 * H_),
                        .q_row_stride = uint32_t(3 * H_),
                        .kv_row_stride = uint32_t(3 * H_),
                        .max_seqlen = uint32_t(b.max_seqlen)};
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& L = layers_[i];
    ops::gemm(ctx_, rec, x, L.qkv.w, qkv, {.bias = L.qkv.b.valid() ? &L.qkv.b : nullptr});
    ops::rope(ctx_, rec, qkv, b.positions,
              {.num_heads = uint32_t(2 * heads_),
               .head_dim = uint32_t(D_),
               .row_stride = uint32_t(3 * H_),
               .inv_freq = &inv_freq_});
    ops::attention(ctx_, rec, qkv, qkv, qkv, b.cu_seqlens, attn, aa);
    ops::gemm(ctx_, rec, attn, L.o.w, tmp,
              {.bias = L.o.b.valid() ? &L.o.b : nullptr, .residual = &x});
    ops::layer_norm(ctx_, rec, tmp, nullptr, L.ln1_g, &L.ln1_b, x, eps_);
    ops::gemm(ctx_, rec, x, L.gate_up.w, gu);
    ops::glu(ctx_, rec, gu, act, act_);
    ops::gemm(ctx_, rec, act, L.down.w, tmp,
              {.bias = L.down.b.valid() ? &L.down.b : nullptr, .residual = &x});
    ops::layer_norm(ctx_, rec, tmp, nullptr, L.ln2_g, &L.ln2_b, x, eps_);
    if (i == 0 && b.capture_layer1) {
      *b.capture_layer1 = scratch.alloc(DType::f32, {T, H_});
      ops::layer_norm(ctx_, rec, tmp, nullptr, L.ln2_g, &L.ln2_b, *b.capture_layer1, eps_);
    }
  }
  return x;
}

}  // namespace

std::unique_ptr<ModelRunner> make_gte(const RunnerArgs& a) {
  return std::make_unique<GteRunner>(a);
}

}  // namespace vkcls
