// Heads of the decoder families (GPT-2, Llama, Qwen2/3, Gemma, Gemma 2), and vLLM's
// `--convert classify` of a *ForCausalLM (vllm/model_executor/models/adapters.py):
//   *ForSequenceClassification   score (bias optional) on the rightmost non-pad token (LAST with
//                                pad_token_id: transformers' rule)
//   *ForTokenClassification      score (+ bias) on every token
//   classifier_from_token T + method (config.json or --hf-overrides), pooled at token n - 1:
//     from_2_way_softmax   one row: lm_head[T[1]] - lm_head[T[0]]   (num_labels 1)
//     no_post_processing   rows lm_head[T[i]]                        (num_labels len(T))
//     is_original_qwen3_reranker: true sets method from_2_way_softmax (T must be 2 tokens)
//   The lm_head is lm_head.weight, or the input embedding when the weights are tied. Tokens are
//   vocabulary strings, resolved through the tokenizer (convert_tokens_to_ids).
//   A *ForCausalLM / *Model with neither classifier_from_token nor score.weight: Error(model).
#pragma once
#include <optional>
#include <string>

#include "models/device_weights.h"
#include "models/registry.h"
#include "poolers/head.h"
#include "poolers/pooling.h"

namespace vkcls {

// What the conversion makes of config.json before a runner is built (num_labels, labels);
// nothing for a config without classifier_from_token. Returns whether it converts (then vLLM's
// use_pad_token is false: pairs are scored as query + document, one text). Throws Error(model)
// naming the field.
bool apply_classifier_conversion(ModelConfig& cfg);

struct DecoderHeads {
  HeadSpec seq, tok;
  SeqPooling pooling = SeqPooling::last;
  std::optional<int32_t> pad_token_id;  // LAST skips trailing pad tokens (seqcls only)
};

// hidden: width of the final hidden states; embed_name: the input embedding [vocab, hidden]
// (the lm_head when tied). score_scale multiplies the score weights (the bidirectional
// Llama's 1 / temperature).
DecoderHeads load_decoder_heads(DeviceWeights& w, const RunnerArgs& a, int64_t hidden,
                                const std::string& embed_name, float score_scale = 1.f);

}  // namespace vkcls
