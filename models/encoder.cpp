#include "models/encoder.h"

#include <fmt/format.h>

#include <stdexcept>

namespace vkcls {

EncoderFamily encoder_family(const ModelConfig& cfg) {
  const std::string& t = cfg.model_type;
  if (t == "bert") return EncoderFamily::bert;
  if (t == "roberta" || t == "xlm-roberta" || t == "camembert") return EncoderFamily::roberta;
  if (t == "ernie") return EncoderFamily::ernie;
  if (t == "distilbert") return EncoderFamily::distilbert;
  if (t == "electra") return EncoderFamily::electra;
  throw std::invalid_argument(fmt::format(
      "config.json model_type '{}' is not an encoder vkcls runs (bert, roberta, xlm-roberta, ernie, distilbert, electra)", t));
}

ops::Act activation_from_config(const std::string& a) {
  if (a == "gelu") return ops::Act::gelu_erf;
  if (a == "gelu_new" || a == "gelu_pytorch_tanh" || a == "gelu_fast") return ops::Act::gelu_tanh;
  if (a == "relu") return ops::Act::relu;
  if (a == "silu" || a == "swish") return ops::Act::silu;
  if (a == "tanh") return ops::Act::tanh;
  throw std::invalid_argument(fmt::format("config.json hidden_act '{}' is not supported (gelu, gelu_new, "
                                          "gelu_pytorch_tanh, relu, silu, tanh)", a));
}

// Checkpoints name the encoder with the family's prefix ("bert.") when saved from a
// task model, and without it when saved from the base model.
static std::string find_prefix(const WeightStore& s, const std::string& family_prefix) {
  for (const std::string& p : {family_prefix, std::string(""), std::string("model."), std::string("encoder.")})
    if (s.has(p + "embeddings.word_embeddings.weight")) return p;
  throw std::invalid_argument(fmt::format(
      "no word embeddings found: expected '{0}embeddings.word_embeddings.weight' or 'embeddings.word_embeddings.weight'",
      family_prefix));
}

EncoderModel::EncoderModel(Context& ctx, const ModelConfig& cfg, const WeightStore& store, DType dtype)
    : ctx_(ctx), family_(encoder_family(cfg)) {
  H_ = cfg.hidden_size;
  I_ = cfg.intermediate_size;
  heads_ = cfg.num_attention_heads;
  layers_n_ = cfg.num_hidden_layers;
  eps_ = float(cfg.layer_norm_eps);
  act_ = activation_from_config(cfg.hidden_act);
  type_vocab_ = family_ == EncoderFamily::distilbert ? 0 : cfg.type_vocab_size;
  E_ = family_ == EncoderFamily::electra && cfg.embedding_size > 0 ? cfg.embedding_size : H_;
  if (H_ <= 0 || heads_ <= 0 || H_ % heads_ != 0)
    throw std::invalid_argument(fmt::format("config.json: hidden_size {} must be a positive multiple of num_attention_heads {}", H_, heads_));
  if (H_ / heads_ > 128)
    throw std::invalid_argument(fmt::format("config.json: head dim {} is over the supported 128", H_ / heads_));
  if (cfg.position_embedding_type != "absolute" && !cfg.position_embedding_type.empty())
    throw std::invalid_argument(fmt::format("config.json: position_embedding_type '{}' is not supported (absolute)",
                                            cfg.position_embedding_type));
  max_tokens_ = cfg.max_position_embeddings;
  if (family_ == EncoderFamily::roberta) {
    // RoBERTa counts positions from padding_idx + 1 (create_position_ids_from_input_ids)
    pos_offset_ = cfg.pad_token_id + 1;
    max_tokens_ = cfg.max_position_embeddings - pos_offset_;
  }

  const char* fam = family_ == EncoderFamily::bert ? "bert." : family_ == EncoderFamily::roberta ? "roberta."
                  : family_ == EncoderFamily::ernie ? "ernie." : family_ == EncoderFamily::distilbert ? "distilbert."
                  : "electra.";
  std::string fam_prefix = fam;
  if (cfg.model_type == "xlm-roberta" && !store.has("roberta.embeddings.word_embeddings.weight")) fam_prefix = "roberta.";
  prefix_ = find_prefix(store, fam_prefix);
  weights_ = std::make_unique<DeviceWeights>(ctx, store, dtype);
  DeviceWeights& w = *weights_;
  const std::string e = prefix_ + "embeddings.";

  word_ = w.matrix(e + "word_embeddings.weight", cfg.vocab_size, E_);
  pos_ = w.matrix(e + "position_embeddings.weight", cfg.max_position_embeddings, E_);
  if (type_vocab_ > 0) {
    auto types = store.to_f32(e + "token_type_embeddings.weight");
    store.get(e + "token_type_embeddings.weight", {type_vocab_, E_});
    if (family_ == EncoderFamily::ernie && cfg.use_task_id) {
      // ERNIE adds task_type_embeddings[task_type_id]; HF defaults task_type_ids to 0,
      // so row 0 folds into every token-type row once, at load.
      store.get(e + "task_type_embeddings.weight", {cfg.task_type_vocab_size, E_});
      auto task = store.to_f32(e + "task_type_embeddings.weight");
      for (int64_t t = 0; t < type_vocab_; ++t)
        for (int64_t d = 0; d < E_; ++d) types[t * E_ + d] += task[d];
    }
    type_ = w.from_floats(types, {type_vocab_, E_}, dtype);
  }
  emb_ln_g_ = w.vector({e + "LayerNorm.weight"}, E_);
  emb_ln_b_ = w.vector({e + "LayerNorm.bias"}, E_);
  if (E_ != H_) {
    proj_w_ = w.matrix(prefix_ + "embeddings_project.weight", H_, E_);
    proj_b_ = w.vector({prefix_ + "embeddings_project.bias"}, H_);
  }

  // Where each layer weight lives, relative to "<prefix><layers>.<i>.": BERT's names (BERT,
  // RoBERTa, XLM-R, ERNIE, ELECTRA) and DistilBERT's.
  struct LayerNames {
    const char *layers, *q, *k, *v, *o, *ln1, *up, *down, *ln2;
  };
  static const LayerNames kBert{"encoder.layer", "attention.self.query", "attention.self.key",
                                "attention.self.value", "attention.output.dense", "attention.output.LayerNorm",
                                "intermediate.dense", "output.dense", "output.LayerNorm"};
  static const LayerNames kDistilBert{"transformer.layer", "attention.q_lin", "attention.k_lin", "attention.v_lin",
                                      "attention.out_lin", "sa_layer_norm", "ffn.lin1", "ffn.lin2", "output_layer_norm"};
  const LayerNames& n = family_ == EncoderFamily::distilbert ? kDistilBert : kBert;
  for (int64_t i = 0; i < layers_n_; ++i) {
    const std::string l = fmt::format("{}{}.{}.", prefix_, n.layers, i);
    auto weight = [&](const char* m) { return l + m + ".weight"; };
    auto bias = [&](const char* m) { return l + m + ".bias"; };
    Layer L;
    L.qkv_w = w.stacked_matrix({weight(n.q), weight(n.k), weight(n.v)}, H_);
    L.qkv_b = w.vector({bias(n.q), bias(n.k), bias(n.v)}, 3 * H_);
    L.o_w = w.matrix(weight(n.o), H_, H_);
    L.o_b = w.vector({bias(n.o)}, H_);
    L.ln1_g = w.vector({weight(n.ln1)}, H_);
    L.ln1_b = w.vector({bias(n.ln1)}, H_);
    L.up_w = w.matrix(weight(n.up), I_, H_);
    L.up_b = w.vector({bias(n.up)}, I_);
    L.down_w = w.matrix(weight(n.down), H_, I_);
    L.down_b = w.vector({bias(n.down)}, H_);
    L.ln2_g = w.vector({weight(n.ln2)}, H_);
    L.ln2_b = w.vector({bias(n.ln2)}, H_);
    layers_.push_back(std::move(L));
  }
}

int64_t EncoderModel::scratch_floats_per_token() const {
  // h, qkv, attn, h1, ffn, plus the embedding-width buffer
  return H_ + 3 * H_ + H_ + H_ + I_ + 2 * E_;
}

Tensor EncoderModel::forward(Recorder& rec, Arena& scratch, const PackedBatch& b, Tensor* after_layer1) {
  const int64_t T = b.tokens;
  Tensor emb = scratch.alloc(DType::f32, {T, E_});
  ops::EmbedArgs ea;
  ea.pos_ids = &b.pos_ids;
  ea.pos_table = &pos_;
  if (type_vocab_ > 0) {
    ea.type_ids = &b.type_ids;
    ea.type_table = &type_;
  }
  ops::embed(ctx_, rec, b.ids, word_, emb, ea);
  Tensor emb_n = scratch.alloc(DType::f32, {T, E_});
  ops::layer_norm(ctx_, rec, emb, nullptr, emb_ln_g_, &emb_ln_b_, emb_n, eps_);
  Tensor h = emb_n;
  if (E_ != H_) {
    h = scratch.alloc(DType::f32, {T, H_});
    ops::gemm(ctx_, rec, emb_n, proj_w_, h, {.bias = &proj_b_});
  }
  Tensor qkv = scratch.alloc(DType::f32, {T, 3 * H_});
  Tensor attn = scratch.alloc(DType::f32, {T, H_});
  Tensor h1 = scratch.alloc(DType::f32, {T, H_});
  Tensor ffn = scratch.alloc(DType::f32, {T, I_});
  Tensor tmp = scratch.alloc(DType::f32, {T, H_});
  const uint32_t D = uint32_t(H_ / heads_);
  ops::AttentionArgs aa{.num_heads = uint32_t(heads_), .num_kv_heads = uint32_t(heads_), .head_dim = D,
                        .q_offset = 0, .k_offset = uint32_t(H_), .v_offset = uint32_t(2 * H_),
                        .q_row_stride = uint32_t(3 * H_), .kv_row_stride = uint32_t(3 * H_),
                        .max_seqlen = uint32_t(b.max_seqlen)};
  // each layer reads h and writes the next state into `state`, after its last read of h
  Tensor state = scratch.alloc(DType::f32, {T, H_});
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& L = layers_[i];
    ops::gemm(ctx_, rec, h, L.qkv_w, qkv, {.bias = &L.qkv_b});
    ops::attention(ctx_, rec, qkv, qkv, qkv, b.cu_seqlens, attn, aa);
    ops::gemm(ctx_, rec, attn, L.o_w, tmp, {.bias = &L.o_b, .residual = &h});
    ops::layer_norm(ctx_, rec, tmp, nullptr, L.ln1_g, &L.ln1_b, h1, eps_);
    ops::gemm(ctx_, rec, h1, L.up_w, ffn, {.bias = &L.up_b, .act = act_});
    ops::gemm(ctx_, rec, ffn, L.down_w, tmp, {.bias = &L.down_b, .residual = &h1});
    ops::layer_norm(ctx_, rec, tmp, nullptr, L.ln2_g, &L.ln2_b, state, eps_);
    h = state;
    if (i == 0 && after_layer1) {
      *after_layer1 = scratch.alloc(DType::f32, {T, H_});
      ops::layer_norm(ctx_, rec, tmp, nullptr, L.ln2_g, &L.ln2_b, *after_layer1, eps_);
    }
  }
  return h;
}

}  // namespace vkcls
