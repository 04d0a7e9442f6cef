// GPT-2 (GPT2ForSequenceClassification, or a converted GPT2LMHeadModel): learned positions,
// pre-LayerNorm, causal attention, Conv1D weights stored [in, out] (y = x W + b), gelu_new.
//   x = wte[ids] + wpe[positions]                                              [T, D]
//   layer: q | k | v = LN1(x) c_attn + b     [T, 3D];  x += attention(q, k, v) c_proj + b
//          x += gelu_new(LN2(x) c_fc + b) c_proj + b
//   last_hidden = ln_f(x)
// The Conv1D matrices are transposed at load into the [out, in] layout ops::gemm takes.
// Heads: models/decoder_heads.h (score without bias; pad_token_id usually = eos).
#include <fmt/format.h>

#include "models/blocks.h"
#include "models/decoder_heads.h"
#include "models/registry.h"
#include "vkcls/types.h"

namespace vkcls {

namespace {

class Gpt2Runner final : public ModelRunner {
 public:
  explicit Gpt2Runner(const RunnerArgs& a);
  const RunnerInfo& info() const override { return info_; }
  Tensor forward(Recorder& rec, Arena& scratch, const DeviceBatch& batch) override;
  const HeadSpec* sequence_head() const override {
    return heads_.seq.empty() ? nullptr : &heads_.seq;
  }
  const HeadSpec* token_head() const override { return heads_.tok.empty() ? nullptr : &heads_.tok; }

 private:
  struct Layer {
    Tensor ln1_g, ln1_b, ln2_g, ln2_b;
    Linear qkv, proj, fc, fc_proj;
    float scale = 0;
  };
  // Conv1D "name" [in, out] -> Linear with w [out, in]
  Linear conv1d(const std::string& name, int64_t in, int64_t out, DType dtype);
  // one forward pass's intermediates, shared by every layer: [T, D], [T, 3D], [T, D], [T, I]
  struct Work {
    Tensor h, qkv, attn, mlp;
  };
  void run_layer(Recorder& rec, const DeviceBatch& b, size_t index, const Work& w, const Tensor& in,
                 const Tensor& out) const;

  Context& ctx_;
  RunnerInfo info_;
  int64_t D_, I_, H_;
  float eps_;
  ops::Act act_;
  DeviceWeights weights_;
  Tensor wte_, wpe_, lnf_g_, lnf_b_;
  std::vector<Layer> layers_;
  DecoderHeads heads_;
};

Linear Gpt2Runner::conv1d(const std::string& name, int64_t in, int64_t out, DType dtype) {
  const WeightStore& s = weights_.store();
  s.get(name + ".weight", {in, out});
  std::vector<float> w = s.to_f32(name + ".weight"), t(w.size());
  for (int64_t i = 0; i < in; ++i)
    for (int64_t o = 0; o < out; ++o) t[size_t(o * in + i)] = w[size_t(i * out + o)];
  Linear l;
  l.w = weights_.from_floats(t, {out, in}, dtype);
  if (s.has(name + ".bias")) l.b = weights_.vector({name + ".bias"}, out);
  return l;
}

Gpt2Runner::Gpt2Runner(const RunnerArgs& a) : ctx_(a.ctx), weights_(a.ctx, a.store, a.dtype) {
  const ModelConfig& cfg = a.cfg;
  const nlohmann::json& raw = cfg.raw;
  D_ = cfg.hidden_size;
  I_ = cfg.intermediate_size;
  H_ = cfg.num_attention_heads;
  if (H_ <= 0 || D_ % H_ != 0 || D_ / H_ > 256 || (D_ / H_) % 2 != 0)
    throw Error(ErrorKind::model,
                fmt::format("config.json: n_embd {} / n_head {} must give an even head dim of at "
                            "most 256",
                            D_, H_));
  eps_ = float(cfg.layer_norm_eps);
  act_ = activation_from_config(cfg.hidden_act);
  if (raw.value("reorder_and_upcast_attn", false))
    throw Error(ErrorKind::model, "config.json: GPT-2 reorder_and_upcast_attn is not supported");
  const bool scale_weights = raw.value("scale_attn_weights", true);
  const bool by_layer = raw.value("scale_attn_by_inverse_layer_idx", false);

  info_.family = "gpt2";
  info_.hidden = D_;
  info_.vocab_size = cfg.vocab_size;
  info_.max_tokens = cfg.max_position_embeddings;  // n_positions
  // x, capture, final, h, qkv, attn, mlp
  info_.scratch_bytes_per_token = 4 * (4 * D_ + 3 * D_ + D_ + I_);
  info_.widest_row_bytes = 4 * std::max(3 * D_, I_);

  DeviceWeights& w = weights_;
  const WeightStore& s = a.store;
  const std::string p = s.has("transformer.wte.weight") ? "transformer." : "";
  if (!s.has(p + "wte.weight"))
    throw Error(ErrorKind::model, "no GPT-2 embeddings: expected 'transformer.wte.weight'");
  wte_ = w.matrix(p + "wte.weight", cfg.vocab_size, D_);
  wpe_ = w.matrix(p + "wpe.weight", cfg.max_position_embeddings, D_);
  lnf_g_ = w.vector({p + "ln_f.weight"}, D_);
  lnf_b_ = w.vector({p + "ln_f.bias"}, D_);
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
    const std::string l = fmt::format("{}h.{}.", p, i);
    Layer L;
    L.ln1_g = w.vector({l + "ln_1.weight"}, D_);
    L.ln1_b = w.vector({l + "ln_1.bias"}, D_);
    L.ln2_g = w.vector({l + "ln_2.weight"}, D_);
    L.ln2_b = w.vector({l + "ln_2.bias"}, D_);
    L.qkv = conv1d(l + "attn.c_attn", D_, 3 * D_, a.dtype);
    L.proj = conv1d(l + "attn.c_proj", D_, D_, a.dtype);
    L.fc = conv1d(l + "mlp.c_fc", D_, I_, a.dtype);
    L.fc_proj = conv1d(l + "mlp.c_proj", I_, D_, a.dtype);
    L.scale =
        (scale_weights ? 1.f / std::sqrt(float(D_ / H_)) : 1.f) / (by_layer ? float(i + 1) : 1.f);
    layers_.push_back(std::move(L));
  }
  heads_ = load_decoder_heads(w, a, D_, p + "wte.weight");
  info_.pad_token_id = heads_.pad_token_id;
  info_.seq_pooling = info_.embed_pooling = heads_.pooling;
  info_.weight_bytes = w.bytes();
  info_.causal = true;
  info_.kv_layers = cfg.num_hidden_layers;
  info_.kv_row_width = D_;
}

void Gpt2Runner::run_layer(Recorder& rec, const DeviceBatch& b, size_t index, const Work& w,
                           const Tensor& in, const Tensor& out) const {
  const Layer& L = layers_[index];
  ops::layer_norm(ctx_, rec, in, nullptr, L.ln1_g, &L.ln1_b, w.h, eps_);
  ops::gemm(ctx_, rec, w.h, L.qkv.w, w.qkv, {.bias = L.qkv.b.valid() ? &L.qkv.b : nullptr});
  const ops::AttentionArgs aa{.num_heads = uint32_t(H_),
                              .num_kv_heads = uint32_t(H_),
                              .head_dim = uint32_t(D_ / H_),
                              .q_offset = 0,
                              .k_offset = uint32_t(D_),
                              .v_offset = uint32_t(2 * D_),
                              .q_row_stride = uint32_t(3 * D_),
                              .kv_row_stride = uint32_t(3 * D_),
                              .causal = true,
                              .scale = L.scale,
                              .max_seqlen = uint32_t(b.max_seqlen)};
  if (b.kv)  // the engine's paged KV cache (chunked prefill, prefix cache)
    attention_paged(ctx_, rec, b, index, w.qkv, w.qkv, w.qkv, aa, w.attn);
  else
    ops::attention(ctx_, rec, w.qkv, w.qkv, w.qkv, b.cu_seqlens, w.attn, aa);
  ops::gemm(ctx_, rec, w.attn, L.proj.w, out,
            {.bias = L.proj.b.valid() ? &L.proj.b : nullptr, .residual = &in});
  ops::layer_norm(ctx_, rec, out, nullptr, L.ln2_g, &L.ln2_b, w.h, eps_);
  ops::gemm(ctx_, rec, w.h, L.fc.w, w.mlp,
            {.bias = L.fc.b.valid() ? &L.fc.b : nullptr, .act = act_});
  ops::gemm(ctx_, rec, w.mlp, L.fc_proj.w, out,
            {.bias = L.fc_proj.b.valid() ? &L.fc_proj.b : nullptr, .residual = &out});
}

Tensor Gpt2Runner::forward(Recorder& rec, Arena& scratch, const DeviceBatch& b) {
  const int64_t T = b.tokens;
  Tensor x = scratch.alloc(DType::f32, {T, D_});
  ops::embed(ctx_, rec, b.ids, wte_, x, {.pos_ids = &b.positions, .pos_table = &wpe_});
  const Work w{scratch.alloc(DType::f32, {T, D_}), scratch.alloc(DType::f32, {T, 3 * D_}),
               scratch.alloc(DType::f32, {T, D_}), scratch.alloc(DType::f32, {T, I_})};
  // layer 0 writes a tensor of its own when the caller captures it; layer 1 reads it back
  Tensor captured;
  if (b.capture_layer1) captured = scratch.alloc(DType::f32, {T, D_});
  for (size_t i = 0; i < layers_.size(); ++i) {
    const bool cap0 = i == 0 && b.capture_layer1, cap1 = i == 1 && b.capture_layer1;
    run_layer(rec, b, i, w, cap1 ? captured : x, cap0 ? captured : x);
  }
  if (b.capture_layer1) *b.capture_layer1 = captured;
  const Tensor& last = layers_.size() == 1 && b.capture_layer1 ? captured : x;
  Tensor y = scratch.alloc(DType::f32, {T, D_});
  ops::layer_norm(ctx_, rec, last, nullptr, lnf_g_, &lnf_b_, y, eps_);
  return y;
}

}  // namespace

std::unique_ptr<ModelRunner> make_gpt2(const RunnerArgs& a) {
  return std::make_unique<Gpt2Runner>(a);
}

}  // namespace vkcls
