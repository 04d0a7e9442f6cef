// The encoder family (BERT, RoBERTa, XLM-RoBERTa, ERNIE, DistilBERT, ELECTRA):
// post-LayerNorm transformer layers over packed sequences.
//   h = LN(word[ids] + pos[pos_ids] + type[type_ids])          [T, H] (ELECTRA: then a projection E -> H)
//   per layer: a = attention(h Wqkv^T + bqkv)                   q, k, v fused: [T, 3H]
//              h1 = LN(a Wo^T + bo + h)
//              h  = LN(act(h1 W1^T + b1) W2^T + b2 + h1)         [T, I] in between
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models/config.h"
#include "models/device_weights.h"
#include "runtime/ops.h"

namespace vkcls {

enum class EncoderFamily { bert, roberta, ernie, distilbert, electra };

// One packed batch as the device sees it (all i32 [T] except cu_seqlens [S + 1]).
struct PackedBatch {
  Tensor ids, pos_ids, type_ids, cu_seqlens;
  int64_t tokens = 0, seqs = 0, max_seqlen = 0;
};

class EncoderModel {
 public:
  EncoderModel(Context& ctx, const ModelConfig& cfg, const WeightStore& store, DType dtype);

  EncoderFamily family() const { return family_; }
  const std::string& prefix() const { return prefix_; }  // "bert.", "roberta.", "" for base checkpoints
  int64_t hidden() const { return H_; }
  int64_t intermediate() const { return I_; }
  // Longest sequence the position table allows (RoBERTa: max_position_embeddings - padding_idx - 1).
  int64_t max_tokens() const { return max_tokens_; }
  int64_t type_vocab_size() const { return type_vocab_; }
  // Position id of the token at index i of its sequence.
  int32_t position_id(int64_t i) const { return int32_t(i + pos_offset_); }
  // Activations of one token across the whole forward pass, for sizing batches.
  int64_t scratch_floats_per_token() const;

  // Records the forward pass; returns the last hidden state [T, H] in `scratch`.
  // hidden_after_layer1, when non-null, receives a copy of the state after the first layer.
  Tensor forward(Recorder& rec, Arena& scratch, const PackedBatch& batch, Tensor* hidden_after_layer1 = nullptr);

 private:
  struct Layer {
    Tensor qkv_w, qkv_b, o_w, o_b, ln1_g, ln1_b, up_w, up_b, down_w, down_b, ln2_g, ln2_b;
  };
  Context& ctx_;
  EncoderFamily family_;
  std::string prefix_;
  int64_t H_, I_, heads_, layers_n_, type_vocab_, max_tokens_, pos_offset_ = 0, E_;
  float eps_;
  ops::Act act_;
  std::unique_ptr<DeviceWeights> weights_;
  Tensor word_, pos_, type_, emb_ln_g_, emb_ln_b_, proj_w_, proj_b_;
  std::vector<Layer> layers_;
};

EncoderFamily encoder_family(const ModelConfig& cfg);  // throws for unsupported model types
ops::Act activation_from_config(const std::string& hidden_act);  // throws naming unknown ones

}  // namespace vkcls
