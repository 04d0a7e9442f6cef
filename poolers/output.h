// The output stage, the one place where head outputs become results (every entry point, text
// or token-id input, goes through it):
//   classify:        logits -> calibration + activation (unless use_activation is false) ->
//                    argmax, label (id2label or LABEL_i), top-k
//   score:           the same, one column
//   embed:           pooled hidden state -> Matryoshka cut -> L2 normalisation
//   token_classify:  per-token logits -> STEP selection, returned_token_ids -> activation;
//                    with an aggregation: the HF NER pipeline's softmax and entity grouping,
//                    windows of a strided text merged.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "poolers/activation.h"
#include "poolers/pooler_config.h"
#include "poolers/token_aggregation.h"
#include "vkcls/types.h"

namespace vkcls {

// What the output stage knows of the model.
struct OutputSpec {
  Activation activation = Activation::softmax;
  ResolvedPooler pooler;
  std::vector<std::string> labels;  // one per classifier column (LABEL_i where id2label has none)
  bool has_labels = false;          // labels come from config.json's id2label
  int64_t hidden_size = 0;
  // token_classify aggregation: how the tokenizer marks subwords, its unknown token, and
  // convert_tokens_to_string (for the entity words)
  SubwordMarking subwords = SubwordMarking::Prefix;
  std::optional<int32_t> unk_id;
  TokensToString tokens_to_string;
};

// One window of one text as token_classify sees it: its tokens and their logits.
struct TokenWindow {
  std::vector<int32_t> ids;
  std::vector<std::string> tokens;
  std::vector<std::pair<int64_t, int64_t>> offsets;  // code points into the text
  std::vector<uint8_t> special;
  std::vector<float> logits;  // [ids.size(), width]
  int64_t width = 0;
};

ClassifyResult classify_output(std::vector<float> logits, const RequestParams& params,
                               const OutputSpec& spec);
ScoreResult score_output(std::vector<float> logits, const RequestParams& params,
                         const OutputSpec& spec);
EmbedResult embed_output(std::vector<float> pooled, const RequestParams& params,
                         const OutputSpec& spec);
TokenClassifyResult token_classify_output(const std::string& text,
                                          const std::vector<TokenWindow>& windows,
                                          const RequestParams& params, const OutputSpec& spec);

// Request-level checks of the shaping parameters (dimensions, top_k, aggregation, stride),
// before anything is queued; throws Error(invalid_input) naming the field.
void check_output_params(Task task, const RequestParams& params, const OutputSpec& spec);

}  // namespace vkcls
