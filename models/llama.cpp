// Llama-like decoders: Llama (and Llama 3's rope_scaling), Qwen2 (q/k/v biases), Qwen3 (q_norm /
// k_norm), the bidirectional Llama of nvidia/llama-nemotron-rerank (model_type llama_bidirec), and
// through a variant (models/llama.h) Gemma and Gemma 2 (models/gemma.cpp).
//   x = embed_tokens[ids] * embed_scale                                        [T, D]
//   layer: h = norm(x); q = h Wq^T (+b) [T, Hq*d], k, v = h Wk^T, h Wv^T [T, K*d]  (GQA)
//          Qwen3: q, k = RMSNorm_d(q), RMSNorm_d(k) per head; RoPE(q, k)      (rope_scaling.h)
//          a = attention(q, k, v)  causal (bidirec: none), scale, soft-cap, sliding window
//          x += a Wo^T (+b)                               (Gemma 2: x += norm(a Wo^T))
//          h = norm(x); x += (act(h Wg^T) * h Wu^T) Wd^T   (Gemma 2: pre/post feed-forward norms)
//   last_hidden = norm(x); norm = RMSNorm (Gemma: * (1 + w))
// Heads: models/decoder_heads.h. Weight names, HF behaviour: tests/data/decoders/README.md.
//
// Causal variants run attention through the paged KV cache when the batch has one (DeviceBatch.kv:
// the engine's chunked prefill and prefix cache): k and v go to their slots, then each query
// reads every earlier key of its sequence through the block table.
#include "models/llama.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "models/blocks.h"
#include "models/decoder_heads.h"
#include "models/rope_scaling.h"
#include "vkcls/types.h"

namespace vkcls {

namespace {

using nlohmann::json;

class LlamaRunner final : public ModelRunner {
 public:
  LlamaRunner(const RunnerArgs& a, const LlamaVariant& v);
  const RunnerInfo& info() const override { return info_; }
  Tensor forward(Recorder& rec, Arena& scratch, const DeviceBatch& batch) override;
  const HeadSpec* sequence_head() const override {
    return heads_.seq.empty() ? nullptr : &heads_.seq;
  }
  const HeadSpec* token_head() const override { return heads_.tok.empty() ? nullptr : &heads_.tok; }

 private:
  struct Layer {
    Tensor in_norm, post_attn_norm, pre_ff_norm, post_ff_norm;  // the last two: Gemma 2
    Linear qkv;               // fused [q | k | v] rows (no q/k norm)
    Linear q, k, v;           // separate (Qwen3: the norms act on q and k alone)
    Tensor q_norm, k_norm;    // [d]
    Linear o, gate_up, down;  // gate_up rows [gate | up]: ops::glu activates the first half
    uint32_t window = 0;
  };
  void norm(Recorder& rec, const Tensor& x, const Tensor& g, const Tensor& y) const {
    ops::rms_norm(ctx_, rec, x, nullptr, g, y, eps_, v_.gemma_norms ? 1.f : 0.f);
  }
  // one forward pass's intermediates, shared by every layer
  struct Work {
    Tensor h, qkv, q, k, v, qn, kn, attn, t, gu, act;  // [T, *]
    Tensor freq, freq_rows;  // RoPE frequencies (a table and per-token rows: dynamic NTK)
  };
  void project(Recorder& rec, const Tensor& x, const Linear& l, const Tensor& y,
               const Tensor* residual = nullptr) const;
  void run_layer(Recorder& rec, const DeviceBatch& b, size_t index, const Work& w, const Tensor& in,
                 const Tensor& out) const;

  Context& ctx_;
  LlamaVariant v_;
  RunnerInfo info_;
  int64_t D_, I_, Hq_, K_, d_;
  float eps_;
  ops::Act act_;
  RopeScaling rope_;
  DeviceWeights weights_;
  Tensor embed_, final_norm_, inv_freq_;
  std::vector<Layer> layers_;
  DecoderHeads heads_;
};

LlamaRunner::LlamaRunner(const RunnerArgs& a, const LlamaVariant& v)
    : ctx_(a.ctx), v_(v), weights_(a.ctx, a.store, a.dtype) {
  const ModelConfig& cfg = a.cfg;
  D_ = cfg.hidden_size;
  I_ = cfg.intermediate_size;
  Hq_ = cfg.num_attention_heads;
  K_ = cfg.num_key_value_heads > 0 ? cfg.num_key_value_heads : Hq_;
  d_ = cfg.head_dim > 0 ? cfg.head_dim : D_ / std::max<int64_t>(1, Hq_);
  if (Hq_ <= 0 || K_ <= 0 || Hq_ % K_ != 0)
    throw Error(ErrorKind::model,
                fmt::format("config.json: num_attention_heads {} must be a positive multiple of "
                            "num_key_value_heads {}",
                            Hq_, K_));
  if (d_ > 256 || d_ % 2 != 0 || d_ <= 2)
    throw Error(ErrorKind::model,
                fmt::format("config.json: head_dim {} must be even, above 2 and at most 256", d_));
  if (D_ <= 0 || I_ <= 0 || cfg.num_hidden_layers <= 0)
    throw Error(
        ErrorKind::model,
        "config.json: hidden_size, intermediate_size and num_hidden_layers must be positive");
  eps_ = float(cfg.rms_norm_eps);
  act_ = activation_from_config(cfg.hidden_act);
  rope_ = rope_scaling_from_config(cfg, d_);
  if (!v_.window.empty() && int64_t(v_.window.size()) != cfg.num_hidden_layers)
    throw Error(ErrorKind::model, fmt::format("{} sliding windows for {} layers", v_.window.size(),
                                              cfg.num_hidden_layers));

  info_.family = v_.family;
  info_.hidden = D_;
  info_.vocab_size = cfg.vocab_size;
  info_.max_tokens = cfg.max_position_embeddings;
  // dynamic NTK exists to run past max_position_embeddings (frequencies for the input's own
  // length; transformers sets no limit): allow 32 times it, a bound for sizing batches
  if (rope_.per_length()) info_.max_tokens = 32 * cfg.max_position_embeddings;
  const int64_t qkv_w = (Hq_ + 2 * K_) * d_;
  // x, capture, final, h, t; qkv (or q, k, v and normed q, k); attn; gate_up, act
  info_.scratch_bytes_per_token = 4 * (5 * D_ + 2 * qkv_w + Hq_ * d_ + 3 * I_);
  info_.widest_row_bytes = 4 * std::max({qkv_w, 2 * I_, D_});
  info_.causal = v_.causal;
  info_.kv_layers = cfg.num_hidden_layers;
  info_.kv_row_width = K_ * d_;
  info_.prefix_cacheable = !rope_.per_length();

  DeviceWeights& w = weights_;
  const WeightStore& s = a.store;
  const std::string p = s.has("model.embed_tokens.weight") ? "model." : "";
  if (!s.has(p + "embed_tokens.weight"))
    throw Error(ErrorKind::model,
                fmt::format("no {} embeddings: expected 'model.embed_tokens.weight'", v_.family));
  auto bias = [&](const std::string& name, int64_t n) {
    return s.has(name) ? w.vector({name}, n) : Tensor{};
  };
  embed_ = w.matrix(p + "embed_tokens.weight", cfg.vocab_size, D_);
  final_norm_ = w.vector({p + "norm.weight"}, D_);
  inv_freq_ = w.from_floats(rope_.inv_freq, {d_ / 2}, DType::f32);
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
    const std::string l = fmt::format("{}layers.{}.", p, i), at = l + "self_attn.",
                      mlp = l + "mlp.";
    Layer L;
    L.in_norm = w.vector({l + "input_layernorm.weight"}, D_);
    L.post_attn_norm = w.vector({l + "post_attention_layernorm.weight"}, D_);
    if (v_.sandwich_norms) {
      L.pre_ff_norm = w.vector({l + "pre_feedforward_layernorm.weight"}, D_);
      L.post_ff_norm = w.vector({l + "post_feedforward_layernorm.weight"}, D_);
    }
    s.get(at + "q_proj.weight", {Hq_ * d_, D_});
    s.get(at + "k_proj.weight", {K_ * d_, D_});
    s.get(at + "v_proj.weight", {K_ * d_, D_});
    const bool qkv_bias = s.has(at + "q_proj.bias");
    if (qkv_bias != s.has(at + "k_proj.bias") || qkv_bias != s.has(at + "v_proj.bias"))
      throw Error(ErrorKind::model,
                  fmt::format("{}: q_proj, k_proj and v_proj must all have a bias or none", at));
    if (v_.qk_norm) {
      L.q = {w.matrix(at + "q_proj.weight", Hq_ * d_, D_), bias(at + "q_proj.bias", Hq_ * d_)};
      L.k = {w.matrix(at + "k_proj.weight", K_ * d_, D_), bias(at + "k_proj.bias", K_ * d_)};
      L.v = {w.matrix(at + "v_proj.weight", K_ * d_, D_), bias(at + "v_proj.bias", K_ * d_)};
      L.q_norm = w.vector({at + "q_norm.weight"}, d_);
      L.k_norm = w.vector({at + "k_norm.weight"}, d_);
    } else {
      L.qkv.w =
          w.stacked_matrix({at + "q_proj.weight", at + "k_proj.weight", at + "v_proj.weight"}, D_);
      if (qkv_bias)
        L.qkv.b = w.vector({at + "q_proj.bias", at + "k_proj.bias", at + "v_proj.bias"}, qkv_w);
    }
    L.o = {w.matrix(at + "o_proj.weight", D_, Hq_ * d_), bias(at + "o_proj.bias", D_)};
    s.get(mlp + "gate_proj.weight", {I_, D_});
    s.get(mlp + "up_proj.weight", {I_, D_});
    L.gate_up.w = w.stacked_matrix({mlp + "gate_proj.weight", mlp + "up_proj.weight"}, D_);
    if (s.has(mlp + "gate_proj.bias"))
      L.gate_up.b = w.vector({mlp + "gate_proj.bias", mlp + "up_proj.bias"}, 2 * I_);
    L.down = {w.matrix(mlp + "down_proj.weight", D_, I_), bias(mlp + "down_proj.bias", D_)};
    L.window = v_.window.empty() ? 0 : v_.window[size_t(i)];
    layers_.push_back(std::move(L));
  }
  heads_ = load_decoder_heads(w, a, D_, p + "embed_tokens.weight", v_.score_scale);
  info_.pad_token_id = heads_.pad_token_id;
  info_.seq_pooling = v_.pooling == SeqPooling::last ? heads_.pooling : v_.pooling;
  info_.embed_pooling = info_.seq_pooling;
  info_.weight_bytes = w.bytes();
}

// y = x l.w^T + l.b (+ residual)
void LlamaRunner::project(Recorder& rec, const Tensor& x, const Linear& l, const Tensor& y,
                          const Tensor* residual) const {
  ops::gemm(ctx_, rec, x, l.w, y, {.bias = l.b.valid() ? &l.b : nullptr, .residual = residual});
}

// in -> out (out may be in): one decoder layer, its intermediates in w
void LlamaRunner::run_layer(Recorder& rec, const DeviceBatch& b, size_t index, const Work& w,
                            const Tensor& in, const Tensor& out) const {
  const Layer& L = layers_[index];
  const bool paged = b.kv && v_.causal;
  norm(rec, in, L.in_norm, w.h);
  ops::RopeArgs ra{.head_dim = uint32_t(d_),
                   .inv_freq = &w.freq,
                   .scale = rope_.attention_scale,
                   .freq_rows = w.freq_rows.valid() ? &w.freq_rows : nullptr};
  ops::AttentionArgs aa{.num_heads = uint32_t(Hq_),
                        .num_kv_heads = uint32_t(K_),
                        .head_dim = uint32_t(d_),
                        .causal = v_.causal,
                        .window = L.window,
                        .scale = v_.attn_scale,
                        .softcap = v_.attn_softcap,
                        .max_seqlen = uint32_t(b.max_seqlen)};
  if (!v_.qk_norm) {
    const uint32_t row = uint32_t((Hq_ + 2 * K_) * d_);
    project(rec, w.h, L.qkv, w.qkv);
    ra.num_heads = uint32_t(Hq_ + K_);  // q and k heads are contiguous
    ra.row_stride = row;
    ops::rope(ctx_, rec, w.qkv, b.positions, ra);
    aa.k_offset = uint32_t(Hq_ * d_);
    aa.v_offset = uint32_t((Hq_ + K_) * d_);
    aa.q_row_stride = aa.kv_row_stride = row;
    if (paged)
      attention_paged(ctx_, rec, b, index, w.qkv, w.qkv, w.qkv, aa, w.attn);
    else
      ops::attention(ctx_, rec, w.qkv, w.qkv, w.qkv, b.cu_seqlens, w.attn, aa);
  } else {
    const int64_t T = b.tokens;
    project(rec, w.h, L.q, w.q);
    project(rec, w.h, L.k, w.k);
    project(rec, w.h, L.v, w.v);
    norm(rec, w.q.reshaped({T * Hq_, d_}), L.q_norm, w.qn.reshaped({T * Hq_, d_}));
    norm(rec, w.k.reshaped({T * K_, d_}), L.k_norm, w.kn.reshaped({T * K_, d_}));
    ra.num_heads = uint32_t(Hq_);
    ops::rope(ctx_, rec, w.qn, b.positions, ra);
    ra.num_heads = uint32_t(K_);
    ops::rope(ctx_, rec, w.kn, b.positions, ra);
    if (paged)
      attention_paged(ctx_, rec, b, index, w.qn, w.kn, w.v, aa, w.attn);
    else
      ops::attention(ctx_, rec, w.qn, w.kn, w.v, b.cu_seqlens, w.attn, aa);
  }
  if (v_.sandwich_norms) {  // Gemma 2: x += norm(branch)
    project(rec, w.attn, L.o, w.t);
    norm(rec, w.t, L.post_attn_norm, w.h);
    ops::add(ctx_, rec, in, w.h, out);
    norm(rec, out, L.pre_ff_norm, w.h);
    project(rec, w.h, L.gate_up, w.gu);
    ops::glu(ctx_, rec, w.gu, w.act, act_);
    project(rec, w.act, L.down, w.t);
    norm(rec, w.t, L.post_ff_norm, w.h);
    ops::add(ctx_, rec, out, w.h, out);
    return;
  }
  project(rec, w.attn, L.o, out, &in);
  norm(rec, out, L.post_attn_norm, w.h);
  project(rec, w.h, L.gate_up, w.gu);
  ops::glu(ctx_, rec, w.gu, w.act, act_);
  project(rec, w.act, L.down, out, &out);
}

Tensor LlamaRunner::forward(Recorder& rec, Arena& scratch, const DeviceBatch& b) {
  const int64_t T = b.tokens;
  Tensor x = scratch.alloc(DType::f32, {T, D_});
  ops::embed(ctx_, rec, b.ids, embed_, x, {.word_scale = v_.embed_scale});

  Work w;
  w.h = scratch.alloc(DType::f32, {T, D_});
  w.attn = scratch.alloc(DType::f32, {T, Hq_ * d_});
  if (v_.qk_norm) {
    w.q = scratch.alloc(DType::f32, {T, Hq_ * d_});
    w.k = scratch.alloc(DType::f32, {T, K_ * d_});
    w.v = scratch.alloc(DType::f32, {T, K_ * d_});
    w.qn = scratch.alloc(DType::f32, {T, Hq_ * d_});
    w.kn = scratch.alloc(DType::f32, {T, K_ * d_});
  } else {
    w.qkv = scratch.alloc(DType::f32, {T, (Hq_ + 2 * K_) * d_});
  }
  if (v_.sandwich_norms) w.t = scratch.alloc(DType::f32, {T, D_});
  w.gu = scratch.alloc(DType::f32, {T, 2 * I_});
  w.act = scratch.alloc(DType::f32, {T, I_});

  // dynamic NTK RoPE: one frequency row per distinct sequence length above max_position_embeddings
  w.freq = inv_freq_;
  if (rope_.per_length()) {
    if (int64_t(b.seq_lengths.size()) != b.seqs || int64_t(b.host_cu_seqlens.size()) != b.seqs + 1)
      throw Error(ErrorKind::internal,
                  "dynamic RoPE needs DeviceBatch.seq_lengths and host_cu_seqlens");
    std::vector<float> table = rope_.inv_freq;
    std::vector<int64_t> lengths = {0};  // row 0: the default frequencies
    std::vector<int32_t> rows;
    for (int64_t sq = 0; sq < b.seqs; ++sq) {
      const int64_t n = b.seq_lengths[size_t(sq)];
      int32_t r = 0;
      if (n > rope_.max_positions) {
        auto it = std::find(lengths.begin(), lengths.end(), n);
        r = int32_t(it - lengths.begin());
        if (it == lengths.end()) {
          lengths.push_back(n);
          std::vector<float> f = rope_.inv_freq_for_length(n);
          table.insert(table.end(), f.begin(), f.end());
        }
      }
      rows.insert(rows.end(),
                  size_t(b.host_cu_seqlens[size_t(sq) + 1] - b.host_cu_seqlens[size_t(sq)]), r);
    }
    w.freq = scratch.alloc(DType::f32, {int64_t(lengths.size()), d_ / 2});
    ctx_.upload(w.freq, table.data(), table.size() * 4);
    w.freq_rows = scratch.alloc(DType::i32, {T});
    ctx_.upload(w.freq_rows, rows.data(), rows.size() * 4);
  }

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
  norm(rec, last, final_norm_, y);
  return y;
}

LlamaVariant variant_for(const ModelConfig& cfg) {
  LlamaVariant v;
  v.family = cfg.model_type == "qwen2" ? "qwen2" : cfg.model_type == "qwen3" ? "qwen3" : "llama";
  v.qk_norm = cfg.model_type == "qwen3";
  const json& raw = cfg.raw;
  if (cfg.model_type == "llama_bidirec" ||
      (raw.contains("is_causal") && raw["is_causal"] == false)) {
    // nemotron-rerank's LlamaBidirectionalConfig: pooling avg | cls | last, logits / temperature
    v.family = "llama_bidirec";
    v.causal = false;
    const std::string pooling = raw.value("pooling", std::string("avg"));
    if (pooling == "avg" || pooling == "mean")
      v.pooling = SeqPooling::mean;
    else if (pooling == "cls")
      v.pooling = SeqPooling::cls;
    else if (pooling == "last")
      v.pooling = SeqPooling::last;
    else
      throw Error(ErrorKind::model,
                  fmt::format("config.json: pooling '{}' is not one of avg, cls, last", pooling));
    const double t = raw.value("temperature", 1.0);
    if (!(t > 0))
      throw Error(ErrorKind::model, fmt::format("config.json: temperature {} must be positive", t));
    v.score_scale = float(1.0 / t);
  }
  if (raw.value("use_sliding_window", false))
    throw Error(ErrorKind::model,
                "config.json: use_sliding_window true is not supported for this family");
  return v;
}

}  // namespace

std::unique_ptr<ModelRunner> make_llama_like(const RunnerArgs& a, const LlamaVariant& v) {
  return std::make_unique<LlamaRunner>(a, v);
}

std::unique_ptr<ModelRunner> make_llama(const RunnerArgs& a) {
  return make_llama_like(a, variant_for(a.cfg));
}

}  // namespace vkcls
