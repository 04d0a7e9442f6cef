// The Llama-like decoder stack shared by models/llama.cpp (Llama, Qwen2, Qwen3, the bidirectional
// Llama) and models/gemma.cpp (Gemma, Gemma 2): what differs between them is data, a variant.
#pragma once
#include <memory>
#include <vector>

#include "models/registry.h"

namespace vkcls {

struct LlamaVariant {
  const char* family = "llama";
  bool gemma_norms = false;      // RMSNorm multiplies by (1 + w)
  float embed_scale = 1.f;       // Gemma: sqrt(hidden), rounded to the checkpoint dtype
  bool qk_norm = false;          // Qwen3: RMSNorm over head_dim of each q / k head, before RoPE
  bool sandwich_norms = false;   // Gemma 2: x += post_attention_norm(attn), x += post_ff_norm(mlp),
                                 // the MLP reads pre_feedforward_layernorm(x)
  bool causal = true;            // false: the bidirectional Llama
  float attn_scale = 0.f;        // 0: head_dim^-0.5 (Gemma 2: query_pre_attn_scalar^-0.5)
  float attn_softcap = 0.f;      // Gemma 2: scores = cap * tanh(scores / cap); 0: none
  std::vector<uint32_t> window;  // per layer: sliding window (Gemma 2), 0 or absent: full
  float score_scale = 1.f;       // multiplies the score head (bidirectional: 1 / temperature)
  SeqPooling pooling = SeqPooling::last;
};

std::unique_ptr<ModelRunner> make_llama_like(const RunnerArgs& a, const LlamaVariant& v);

}  // namespace vkcls
