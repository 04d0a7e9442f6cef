// Token-classification post-processing, as the Hugging Face "token-classification"
// pipeline does it (transformers 5.23, pipelines/token_classification.py):
//
//   per-token probabilities -> gather_pre_entities (drop specials, word + is_subword)
//     -> none:    one entity per token  {entity, score, index, word, start, end}
//     -> simple:  argmax per token, then group_entities (B-/I- tags)
//     -> first | average | max: aggregate_words (one label per word), then group_entities
//   grouped entities: {entity_group, score, word, start, end}; then ignore_labels ("O").
//
// Long texts run as overlapping windows; merge_overlapping_entities is the pipeline's
// aggregate_overlapping_entities (sort by start, keep the longer, then the higher score).
// Offsets are Unicode code points, like Python str indices.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "vkcls/types.h"

namespace vkcls {

// Aggregation (none | simple | first | average | max) is in vkcls/types.h.
// "none" | "simple" | "first" | "average" | "max"; throws std::invalid_argument naming the choices.
Aggregation aggregation_from_string(std::string_view name);

// How the tokenizer shows that a token continues a word.
//   Prefix:  the tokenizer model has a continuing_subword_prefix ("##"): a token is a
//            subword when its string is not as long as the text it covers.
//   Offsets: no prefix (byte-level BPE, Unigram): a token is a subword when it starts
//            after position 0 and neither it nor the character before it is a space
//            (the pipeline's "fallback heuristic").
enum class SubwordMarking { Prefix, Offsets };

struct TokenRow {
  std::vector<float> probs;  // [num_labels], softmax already applied
  std::string token;         // the tokenizer's token string (convert_ids_to_tokens)
  int64_t start = 0, end = 0;
  bool special = false;  // dropped, as the pipeline drops special tokens
  bool unk = false;      // the unknown token: its word is the text it covers, never a subword
};

// One token (aggregation none) or one entity group: vkcls/types.h's EntitySpan.
using Entity = EntitySpan;

struct AggregationOptions {
  Aggregation strategy = Aggregation::simple;
  std::vector<std::string> ignore_labels = {"O"};
  SubwordMarking subwords = SubwordMarking::Prefix;
};

// tokenizer.convert_tokens_to_string: joins token strings the way the tokenizer's decoder does.
using TokensToString = std::function<std::string(const std::vector<std::string>& tokens)>;

// text: the original UTF-8 text. labels: id2label (index order), one per probability column.
std::vector<Entity> aggregate_tokens(std::string_view text, const std::vector<TokenRow>& tokens,
                                     const std::vector<std::string>& labels,
                                     const AggregationOptions& options,
                                     const TokensToString& tokens_to_string);

// Entities of overlapping windows of one text -> one list, as the pipeline does with stride.
std::vector<Entity> merge_overlapping_entities(std::vector<Entity> entities);

}  // namespace vkcls
