// Pooling + head on the device, in fp32, as vLLM's poolers do it:
//   sequence: pool (CLS) -> [S, H] -> dense + act (BERT pooler, RoBERTa/ELECTRA head dense,
//             DistilBERT pre_classifier) -> classifier -> logits [S, L]
//   token:    every token -> classifier -> logits [T, L]
//   embed:    pool (CLS | MEAN | LAST) -> [S, H]   (normalisation and Matryoshka cut on the host)
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models/device_weights.h"
#include "models/encoder.h"
#include "runtime/ops.h"

namespace vkcls {

enum class HeadTask { sequence, token, embed };

class Head {
 public:
  // Loads the head weights of `task` for `family` (names as HF's *ForSequenceClassification /
  // *ForTokenClassification save them); embed needs none.
  Head(Context& ctx, const WeightStore& store, EncoderFamily family, const std::string& encoder_prefix,
       HeadTask task, int64_t hidden, ops::Pool pooling);

  HeadTask task() const { return task_; }
  int64_t num_outputs() const { return outputs_; }  // labels, or hidden for embed
  ops::Pool pooling() const { return pooling_; }
  // Records the head; returns [S, L] (sequence), [T, L] (token) or [S, H] (embed) in scratch.
  Tensor run(Recorder& rec, Arena& scratch, const Tensor& hidden, const PackedBatch& batch);

 private:
  struct Linear {
    Tensor w, b;
    ops::Act act;
  };
  Context& ctx_;
  HeadTask task_;
  ops::Pool pooling_;
  int64_t outputs_ = 0;
  std::unique_ptr<DeviceWeights> weights_;
  std::vector<Linear> layers_;
};

}  // namespace vkcls
