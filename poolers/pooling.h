// Pooling methods, as vLLM names them: which rows of a sequence's hidden states a head sees.
//   sequence pooling (classify, score, embed): CLS (first token), MEAN (all tokens), LAST
//     (decoders: the rightmost token whose id is not the pad token, as transformers'
//     *ForSequenceClassification pools: an input that ends in pad tokens pools before them)
//   token pooling (token_classify): ALL (every token) or STEP (only tokens whose id is
//     step_tag_id: process reward models)
// The rows are chosen on the host; ops::pool reduces them on the device.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace vkcls {

enum class SeqPooling { cls, mean, last };
enum class TokPooling { all, step };

const char* seq_pooling_name(SeqPooling p);  // "CLS" | "MEAN" | "LAST"
const char* tok_pooling_name(TokPooling p);  // "ALL" | "STEP"
// vLLM's spelling (case-insensitive); nullopt for anything else.
std::optional<SeqPooling> seq_pooling_from_name(const std::string& name);
std::optional<TokPooling> tok_pooling_from_name(const std::string& name);

// Rows [begin, end) of a sequence (relative to its first token) that `p` pools.
// pad_id: the model's pad_token_id (LAST only; nullopt: the last token).
std::pair<int32_t, int32_t> pooled_rows(SeqPooling p, const std::vector<int32_t>& ids,
                                        std::optional<int32_t> pad_id);

// Token positions that token pooling keeps, in order.
std::vector<size_t> token_rows(TokPooling p, const std::vector<int32_t>& ids,
                               std::optional<int32_t> step_tag_id);

}  // namespace vkcls
