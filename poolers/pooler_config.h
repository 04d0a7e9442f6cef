// --pooler-config resolved against the model: vLLM's precedence is the user's PoolerConfig,
// then the sentence-transformers files (modules.json pooling for embed), then the model's own
// default (its head's pooling; LAST for decoders). The result is what the pooler and the
// output stage run with; every field is checked here, with errors naming the field.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "poolers/activation.h"
#include "poolers/pooling.h"
#include "vkcls/types.h"

namespace vkcls {

struct PoolerDefaults {
  std::vector<Task> tasks;  // what the checkpoint's heads allow, in preference order for /pooling
  SeqPooling seq_pooling = SeqPooling::cls;  // the classification head's pooling
  SeqPooling embed_pooling = SeqPooling::cls;
  std::string st_pooling_mode;  // sentence-transformers 1_Pooling mode ("" when none)
  int64_t num_labels = 0;       // columns of the classifier (0: no classifier)
  int64_t hidden_size = 0;
};

struct ResolvedPooler {
  std::vector<Task> tasks;
  Task default_task = Task::embed;
  SeqPooling seq_pooling = SeqPooling::cls;
  SeqPooling embed_pooling = SeqPooling::cls;
  TokPooling tok_pooling = TokPooling::all;
  bool use_activation = true;
  std::optional<int64_t> dimensions;
  std::optional<Calibration> calibration;
  std::optional<int32_t> step_tag_id;
  std::vector<int32_t> returned_token_ids;
};

ResolvedPooler resolve_pooler(const PoolerConfig& user, const PoolerDefaults& model);

}  // namespace vkcls
