// A classification head as data: the layers that follow pooling (sequence heads) or run on
// every token (token heads), in order, as a model family lays them out (models/heads.cpp
// names the weights). Everything in fp32, as vLLM and transformers compute heads.
//   BERT:        dense + tanh -> classifier
//   RoBERTa:     dense + tanh -> out_proj
//   ModernBERT:  dense + act -> LayerNorm -> classifier
//   decoders:    score (one linear, usually without bias)
#pragma once
#include <vector>

#include "runtime/memory.h"
#include "runtime/ops.h"

namespace vkcls {

struct HeadLayer {
  enum class Kind { linear, layer_norm };
  Kind kind = Kind::linear;
  // linear: w [out, in], b [out] (invalid when the layer has no bias);
  // layer_norm: w = gamma [n], b = beta [n] (invalid when the norm has no bias)
  Tensor w, b;
  ops::Act act = ops::Act::none;  // after a linear
  float eps = 1e-5f;              // layer_norm
};

struct HeadSpec {
  std::vector<HeadLayer> layers;
  int64_t in_features = 0, out_features = 0;
  bool empty() const { return layers.empty(); }
};

// Records the head over rows x [N, in_features] f32; returns [N, out_features] f32 in scratch.
Tensor run_head(Context& ctx, Recorder& rec, Arena& scratch, const HeadSpec& head, const Tensor& x);

}  // namespace vkcls
