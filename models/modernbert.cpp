// ModernBERT (answerdotai/ModernBERT-*): a pre-LayerNorm encoder with RoPE, alternating global
// and sliding-window attention, and a GeGLU MLP; heads dense + act + norm -> classifier.
//   x = LN(tok_embeddings[ids])                                  [T, H]; no positions, no token
//   types layer i: h = i == 0 ? x : LN(x)                               (layer 0 has no attn_norm)
//            qkv = h Wqkv^T (+ b)                                 [T, 3H]: q | k | v
//            RoPE(q, k), theta global or local                    layer i is global iff i % every_n
//            == 0 x += attention(q, k, v) Wo^T (+ b)                   local: |i - j| <=
//            local_attention / 2 x += (gelu(u1) * u2) Wo2^T (+ b), [u1 | u2] = LN(x) Wi^T (+ b) [T,
//            2I]
//   out = LN(x) (final_norm)
// Biases: attention_bias (Wqkv, Wo), mlp_bias (Wi, Wo), norm_bias (every LayerNorm, head.norm
// too), classifier_bias (head.dense only; classifier always has one).
// Weight names, config keys and the HF behaviour: tests/data/rope_encoders/README.md.
#include <fmt/format.h>

#include "models/blocks.h"
#include "models/heads.h"
#include "models/registry.h"
#include "vkcls/types.h"

namespace vkcls {

namespace {

using nlohmann::json;

template <class T>
T value_or(const json& j, const char* key, T fallback) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? fallback : it->get<T>();
}

class ModernBertRunner final : public ModelRunner {
 public:
  explicit ModernBertRunner(const RunnerArgs& a);
  const RunnerInfo& info() const override { return info_; }
  Tensor forward(Recorder& rec, Arena& scratch, const DeviceBatch& batch) override;
  const HeadSpec* sequence_head() const override {
    return seq_head_.empty() ? nullptr : &seq_head_;
  }
  const HeadSpec* token_head() const override { return tok_head_.empty() ? nullptr : &tok_head_; }

 private:
  struct Layer {
    Tensor attn_norm_g, attn_norm_b;  // invalid on layer 0
    Linear qkv, o, wi, wo;
    Tensor mlp_norm_g, mlp_norm_b;
    bool global = true;
  };
  void layer_norm(Recorder& rec, const Tensor& x, const Tensor& g, const Tensor& b,
                  const Tensor& y) const {
    ops::layer_norm(ctx_, rec, x, nullptr, g, b.valid() ? &b : nullptr, y, eps_);
  }

  Context& ctx_;
  RunnerInfo info_;
  int64_t H_, I_, heads_, D_;
  int64_t local_attention_ = 128;
  float eps_;
  ops::Act act_;
  DeviceWeights weights_;
  Tensor tok_, emb_norm_g_, emb_norm_b_, final_norm_g_, final_norm_b_;
  Tensor inv_freq_global_, inv_freq_local_;
  std::vector<Layer> layers_;
  HeadSpec seq_head_, tok_head_;
};

ModernBertRunner::ModernBertRunner(const RunnerArgs& a)
    : ctx_(a.ctx), weights_(a.ctx, a.store, a.dtype) {
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
  eps_ = float(cfg.layer_norm_eps);  // norm_eps
  act_ = activation_from_config(cfg.hidden_act);
  local_attention_ = value_or<int64_t>(raw, "local_attention", 128);

  // layer types and thetas: transformers 5 writes layer_types + rope_parameters, the hub's
  // checkpoints global_attn_every_n_layers + global_rope_theta / local_rope_theta
  const int64_t every = value_or<int64_t>(raw, "global_attn_every_n_layers", 3);
  double global_theta = value_or<double>(raw, "global_rope_theta", 160000.0);
  double local_theta = value_or<double>(raw, "local_rope_theta", 10000.0);
  if (auto rp = raw.find("rope_parameters"); rp != raw.end() && rp->is_object()) {
    if (rp->contains("full_attention"))
      global_theta = value_or<double>((*rp)["full_attention"], "rope_theta", global_theta);
    if (rp->contains("sliding_attention"))
      local_theta = value_or<double>((*rp)["sliding_attention"], "rope_theta", local_theta);
  }
  std::vector<std::string> types;
  if (auto lt = raw.find("layer_types"); lt != raw.end() && lt->is_array())
    types = lt->get<std::vector<std::string>>();
  if (!types.empty() && int64_t(types.size()) != cfg.num_hidden_layers)
    throw Error(ErrorKind::model,
                fmt::format("config.json: layer_types has {} entries for {} layers", types.size(),
                            cfg.num_hidden_layers));

  info_.family = "modernbert";
  info_.hidden = H_;
  info_.vocab_size = cfg.vocab_size;
  info_.max_tokens = cfg.max_position_embeddings;
  info_.seq_pooling = value_or<std::string>(raw, "classifier_pooling", "cls") == "mean"
                          ? SeqPooling::mean
                          : SeqPooling::cls;
  // x, normed, qkv, attn, mlp (2I), act (I)
  info_.scratch_bytes_per_token = 4 * (H_ + H_ + 3 * H_ + H_ + 2 * I_ + I_);
  info_.widest_row_bytes = 4 * std::max(3 * H_, 2 * I_);

  DeviceWeights& w = weights_;
  const WeightStore& s = a.store;
  std::string p = s.has("model.embeddings.tok_embeddings.weight") ? "model." : "";
  if (!s.has(p + "embeddings.tok_embeddings.weight"))
    throw Error(ErrorKind::model,
                "no ModernBERT embeddings: expected 'model.embeddings.tok_embeddings.weight'");
  auto bias = [&](const std::string& name, int64_t n) {
    return s.has(name) ? w.vector({name}, n) : Tensor{};
  };
  tok_ = w.matrix(p + "embeddings.tok_embeddings.weight", cfg.vocab_size, H_);
  emb_norm_g_ = w.vector({p + "embeddings.norm.weight"}, H_);
  emb_norm_b_ = bias(p + "embeddings.norm.bias", H_);
  final_norm_g_ = w.vector({p + "final_norm.weight"}, H_);
  final_norm_b_ = bias(p + "final_norm.bias", H_);
  inv_freq_global_ = w.from_floats(rope_inv_freq(global_theta, D_), {D_ / 2}, DType::f32);
  inv_freq_local_ = w.from_floats(rope_inv_freq(local_theta, D_), {D_ / 2}, DType::f32);
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
    const std::string l = fmt::format("{}layers.{}.", p, i);
    Layer L;
    if (i > 0) {
      L.attn_norm_g = w.vector({l + "attn_norm.weight"}, H_);
      L.attn_norm_b = bias(l + "attn_norm.bias", H_);
    }
    L.qkv = {w.matrix(l + "attn.Wqkv.weight", 3 * H_, H_), bias(l + "attn.Wqkv.bias", 3 * H_)};
    L.o = {w.matrix(l + "attn.Wo.weight", H_, H_), bias(l + "attn.Wo.bias", H_)};
    L.mlp_norm_g = w.vector({l + "mlp_norm.weight"}, H_);
    L.mlp_norm_b = bias(l + "mlp_norm.bias", H_);
    L.wi = {w.matrix(l + "mlp.Wi.weight", 2 * I_, H_), bias(l + "mlp.Wi.bias", 2 * I_)};
    L.wo = {w.matrix(l + "mlp.Wo.weight", H_, I_), bias(l + "mlp.Wo.bias", H_)};
    L.global = types.empty() ? i % every == 0 : types[size_t(i)] == "full_attention";
    layers_.push_back(std::move(L));
  }

  // heads: dense (+ classifier_activation) -> norm -> classifier
  using K = HeadLayer::Kind;
  const ops::Act head_act =
      activation_from_config(value_or<std::string>(raw, "classifier_activation", "gelu"));
  const std::vector<HeadLayerName> head = {{K::linear, "head.dense", head_act},
                                           {K::layer_norm, "head.norm", ops::Act::none, eps_},
                                           {K::linear, "classifier"}};
  const std::string arch = cfg.architectures.empty() ? "" : cfg.architectures[0];
  if (arch.ends_with("ForSequenceClassification")) seq_head_ = load_head(w, head, H_);
  if (arch.ends_with("ForTokenClassification")) tok_head_ = load_head(w, head, H_);
  info_.weight_bytes = w.bytes();
}

Tensor ModernBertRunner::forward(Recorder& rec, Arena& scratch, const DeviceBatch& b) {
  const int64_t T = b.tokens;
  Tensor emb = scratch.alloc(DType::f32, {T, H_});
  ops::embed(ctx_, rec, b.ids, tok_, emb);
  Tensor x = scratch.alloc(DType::f32, {T, H_});
  layer_norm(rec, emb, emb_norm_g_, emb_norm_b_, x);
  Tensor normed = scratch.alloc(DType::f32, {T, H_});
  Tensor qkv = scratch.alloc(DType::f32, {T, 3 * H_});
  Tensor attn = scratch.alloc(DType::f32, {T, H_});
  Tensor mlp = scratch.alloc(DType::f32, {T, 2 * I_});
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
    const Tensor* h = &x;
    if (L.attn_norm_g.valid()) {
      layer_norm(rec, x, L.attn_norm_g, L.attn_norm_b, normed);
      h = &normed;
    }
    ops::gemm(ctx_, rec, *h, L.qkv.w, qkv, {.bias = L.qkv.b.valid() ? &L.qkv.b : nullptr});
    // q and k heads are adjacent in a row: one rotation over 2 * heads
    ops::rope(ctx_, rec, qkv, b.positions,
              {.num_heads = uint32_t(2 * heads_),
               .head_dim = uint32_t(D_),
               .row_stride = uint32_t(3 * H_),
               .inv_freq = L.global ? &inv_freq_global_ : &inv_freq_local_});
    aa.window =
        L.global ? 0 : uint32_t(local_attention_ / 2 + 1);  // the op's window: |q - k| < window
    ops::attention(ctx_, rec, qkv, qkv, qkv, b.cu_seqlens, attn, aa);
    ops::gemm(ctx_, rec, attn, L.o.w, x,
              {.bias = L.o.b.valid() ? &L.o.b : nullptr, .residual = &x});
    layer_norm(rec, x, L.mlp_norm_g, L.mlp_norm_b, normed);
    ops::gemm(ctx_, rec, normed, L.wi.w, mlp, {.bias = L.wi.b.valid() ? &L.wi.b : nullptr});
    ops::glu(ctx_, rec, mlp, act, act_);
    if (i == 0 && b.capture_layer1) {  // before x is updated in place: the same sum, kept
      *b.capture_layer1 = scratch.alloc(DType::f32, {T, H_});
      ops::gemm(ctx_, rec, act, L.wo.w, *b.capture_layer1,
                {.bias = L.wo.b.valid() ? &L.wo.b : nullptr, .residual = &x});
    }
    ops::gemm(ctx_, rec, act, L.wo.w, x,
              {.bias = L.wo.b.valid() ? &L.wo.b : nullptr, .residual = &x});
  }
  Tensor out = scratch.alloc(DType::f32, {T, H_});
  layer_norm(rec, x, final_norm_g_, final_norm_b_, out);
  return out;
}

}  // namespace

std::unique_ptr<ModelRunner> make_modernbert(const RunnerArgs& a) {
  return std::make_unique<ModernBertRunner>(a);
}

}  // namespace vkcls
