// The BERT family (BERT, RoBERTa, XLM-RoBERTa, CamemBERT, ERNIE, DistilBERT, ELECTRA):
// post-LayerNorm transformer layers over packed sequences.
//   h = LN(word[ids] + pos[pos_ids] + type[type_ids])          [T, H] (ELECTRA: then a projection E
//   -> H) per layer: a = attention(h Wqkv^T + bqkv)                   q, k, v fused: [T, 3H]
//              h1 = LN(a Wo^T + bo + h)
//              h  = LN(act(h1 W1^T + b1) W2^T + b2 + h1)         [T, I] in between
// Heads pool the first token (CLS / <s>); their layers per family are the table kHeads.
#include <fmt/format.h>

#include "models/blocks.h"
#include "models/heads.h"
#include "models/registry.h"
#include "vkcls/types.h"

namespace vkcls {

namespace {

enum class Flavor { bert, roberta, ernie, distilbert, electra };

Flavor flavor_of(const std::string& t) {
  if (t == "roberta" || t == "xlm-roberta" || t == "camembert") return Flavor::roberta;
  if (t == "ernie") return Flavor::ernie;
  if (t == "distilbert") return Flavor::distilbert;
  if (t == "electra") return Flavor::electra;
  return Flavor::bert;
}

// Where each layer weight lives, relative to "<prefix><layers>.<i>.": BERT's names (BERT,
// RoBERTa, XLM-R, ERNIE, ELECTRA) and DistilBERT's.
struct LayerNames {
  const char *layers, *q, *k, *v, *o, *ln1, *up, *down, *ln2;
};
const LayerNames kBertNames{
    "encoder.layer",        "attention.self.query",   "attention.self.key",
    "attention.self.value", "attention.output.dense", "attention.output.LayerNorm",
    "intermediate.dense",   "output.dense",           "output.LayerNorm"};
const LayerNames kDistilBertNames{"transformer.layer", "attention.q_lin",   "attention.k_lin",
                                  "attention.v_lin",   "attention.out_lin", "sa_layer_norm",
                                  "ffn.lin1",          "ffn.lin2",          "output_layer_norm"};

// The sequence-classification head of each flavor, as HF's *ForSequenceClassification saves it.
// "{p}" is the encoder prefix ("bert.", "ernie.").
std::vector<HeadLayerName> sequence_head_names(Flavor f, const std::string& prefix) {
  using K = HeadLayer::Kind;
  switch (f) {
    case Flavor::bert:
    case Flavor::ernie:
      return {{K::linear, prefix + "pooler.dense", ops::Act::tanh}, {K::linear, "classifier"}};
    case Flavor::roberta:
      return {{K::linear, "classifier.dense", ops::Act::tanh}, {K::linear, "classifier.out_proj"}};
    case Flavor::electra:  // ElectraClassificationHead uses exact GELU whatever hidden_act says
      return {{K::linear, "classifier.dense", ops::Act::gelu_erf},
              {K::linear, "classifier.out_proj"}};
    case Flavor::distilbert:
      return {{K::linear, "pre_classifier", ops::Act::relu}, {K::linear, "classifier"}};
  }
  return {};
}

// Checkpoints name the encoder with the family's prefix ("bert.") when saved from a
// task model, and without it when saved from the base model.
std::string find_prefix(const WeightStore& s, const std::string& family_prefix) {
  for (const std::string& p :
       {family_prefix, std::string(""), std::string("model."), std::string("encoder.")})
    if (s.has(p + "embeddings.word_embeddings.weight")) return p;
  throw Error(
      ErrorKind::model,
      fmt::format("no word embeddings found: expected '{0}embeddings.word_embeddings.weight' or "
                  "'embeddings.word_embeddings.weight'",
                  family_prefix));
}

class BertRunner final : public ModelRunner {
 public:
  explicit BertRunner(const RunnerArgs& a);
  const RunnerInfo& info() const override { return info_; }
  Tensor forward(Recorder& rec, Arena& scratch, const DeviceBatch& batch) override;
  const HeadSpec* sequence_head() const override {
    return seq_head_.empty() ? nullptr : &seq_head_;
  }
  const HeadSpec* token_head() const override { return tok_head_.empty() ? nullptr : &tok_head_; }

 private:
  struct Layer {
    Tensor qkv_w, qkv_b, o_w, o_b, ln1_g, ln1_b, up_w, up_b, down_w, down_b, ln2_g, ln2_b;
  };
  Context& ctx_;
  Flavor flavor_;
  RunnerInfo info_;
  int64_t H_, I_, heads_, E_;
  float eps_;
  ops::Act act_;
  DeviceWeights weights_;
  Tensor word_, pos_, type_, emb_ln_g_, emb_ln_b_, proj_w_, proj_b_;
  std::vector<Layer> layers_;
  HeadSpec seq_head_, tok_head_;
};

BertRunner::BertRunner(const RunnerArgs& a)
    : ctx_(a.ctx), flavor_(flavor_of(a.cfg.model_type)), weights_(a.ctx, a.store, a.dtype) {
  const ModelConfig& cfg = a.cfg;
  const WeightStore& store = a.store;
  H_ = cfg.hidden_size;
  I_ = cfg.intermediate_size;
  heads_ = cfg.num_attention_heads;
  eps_ = float(cfg.layer_norm_eps);
  act_ = activation_from_config(cfg.hidden_act);
  E_ = flavor_ == Flavor::electra && cfg.embedding_size > 0 ? cfg.embedding_size : H_;
  if (H_ <= 0 || heads_ <= 0 || H_ % heads_ != 0)
    throw Error(ErrorKind::model,
                fmt::format("config.json: hidden_size {} must be a positive multiple of "
                            "num_attention_heads {}",
                            H_, heads_));
  if (H_ / heads_ > 256)
    throw Error(ErrorKind::model,
                fmt::format("config.json: head dim {} is over the supported 256", H_ / heads_));
  if (cfg.position_embedding_type != "absolute" && !cfg.position_embedding_type.empty())
    throw Error(ErrorKind::model,
                fmt::format("config.json: position_embedding_type '{}' is not supported (absolute)",
                            cfg.position_embedding_type));
  info_.family = "bert";
  info_.hidden = H_;
  info_.vocab_size = cfg.vocab_size;
  info_.type_vocab_size = flavor_ == Flavor::distilbert ? 0 : cfg.type_vocab_size;
  info_.max_tokens = cfg.max_position_embeddings;
  if (flavor_ == Flavor::roberta) {
    // RoBERTa counts positions from padding_idx + 1 (create_position_ids_from_input_ids)
    info_.position_offset = int32_t(cfg.pad_token_id + 1);
    info_.max_tokens = cfg.max_position_embeddings - info_.position_offset;
  }
  // h, qkv, attn, h1, ffn, tmp, state plus the embedding-width buffers
  info_.scratch_bytes_per_token = 4 * (H_ + 3 * H_ + H_ + H_ + I_ + H_ + H_ + 2 * E_);
  info_.widest_row_bytes = 4 * std::max(3 * H_, I_);

  const char* fam = flavor_ == Flavor::bert         ? "bert."
                    : flavor_ == Flavor::roberta    ? "roberta."
                    : flavor_ == Flavor::ernie      ? "ernie."
                    : flavor_ == Flavor::distilbert ? "distilbert."
                                                    : "electra.";
  const std::string prefix = find_prefix(store, fam);
  DeviceWeights& w = weights_;
  const std::string e = prefix + "embeddings.";
  const int64_t types = info_.type_vocab_size;

  word_ = w.matrix(e + "word_embeddings.weight", cfg.vocab_size, E_);
  pos_ = w.matrix(e + "position_embeddings.weight", cfg.max_position_embeddings, E_);
  if (types > 0) {
    store.get(e + "token_type_embeddings.weight", {types, E_});
    auto table = store.to_f32(e + "token_type_embeddings.weight");
    if (flavor_ == Flavor::ernie && cfg.use_task_id) {
      // ERNIE adds task_type_embeddings[task_type_id]; HF defaults task_type_ids to 0,
      // so row 0 folds into every token-type row once, at load.
      store.get(e + "task_type_embeddings.weight", {cfg.task_type_vocab_size, E_});
      auto task = store.to_f32(e + "task_type_embeddings.weight");
      for (int64_t t = 0; t < types; ++t)
        for (int64_t d = 0; d < E_; ++d) table[t * E_ + d] += task[d];
    }
    type_ = w.from_floats(table, {types, E_}, a.dtype);
  }
  emb_ln_g_ = w.vector({e + "LayerNorm.weight"}, E_);
  emb_ln_b_ = w.vector({e + "LayerNorm.bias"}, E_);
  if (E_ != H_) {
    proj_w_ = w.matrix(prefix + "embeddings_project.weight", H_, E_);
    proj_b_ = w.vector({prefix + "embeddings_project.bias"}, H_);
  }

  const LayerNames& n = flavor_ == Flavor::distilbert ? kDistilBertNames : kBertNames;
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
    const std::string l = fmt::format("{}{}.{}.", prefix, n.layers, i);
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

  // Which heads the checkpoint carries.
  const std::string arch = cfg.architectures.empty() ? "" : cfg.architectures[0];
  if (arch.ends_with("ForSequenceClassification"))
    seq_head_ = load_head(w, sequence_head_names(flavor_, prefix), H_);
  if (arch.ends_with("ForTokenClassification"))
    tok_head_ = load_head(w, {{HeadLayer::Kind::linear, "classifier"}}, H_);
  info_.weight_bytes = w.bytes();
}

Tensor BertRunner::forward(Recorder& rec, Arena& scratch, const DeviceBatch& b) {
  const int64_t T = b.tokens;
  Tensor emb = scratch.alloc(DType::f32, {T, E_});
  ops::EmbedArgs ea;
  ea.pos_ids = &b.positions;
  ea.pos_table = &pos_;
  if (type_.valid()) {
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
  ops::AttentionArgs aa{.num_heads = uint32_t(heads_),
                        .num_kv_heads = uint32_t(heads_),
                        .head_dim = D,
                        .q_offset = 0,
                        .k_offset = uint32_t(H_),
                        .v_offset = uint32_t(2 * H_),
                        .q_row_stride = uint32_t(3 * H_),
                        .kv_row_stride = uint32_t(3 * H_),
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
    if (i == 0 && b.capture_layer1) {
      *b.capture_layer1 = scratch.alloc(DType::f32, {T, H_});
      ops::layer_norm(ctx_, rec, tmp, nullptr, L.ln2_g, &L.ln2_b, *b.capture_layer1, eps_);
    }
  }
  return h;
}

}  // namespace

std::unique_ptr<ModelRunner> make_bert(const RunnerArgs& a) {
  return std::make_unique<BertRunner>(a);
}

}  // namespace vkcls
