// Heads from weight names: a family lists its head layers as data (names, activations), and
// this loads them onto the device in fp32 as poolers/head.h's HeadSpec. A bias that the
// checkpoint does not have is simply absent (decoders' score heads, ModernBERT without
// classifier_bias).
#pragma once
#include <string>
#include <vector>

#include "models/device_weights.h"
#include "poolers/head.h"

namespace vkcls {

struct HeadLayerName {
  HeadLayer::Kind kind = HeadLayer::Kind::linear;
  std::string name;  // "classifier" -> classifier.weight (+ classifier.bias)
  ops::Act act = ops::Act::none;
  float eps = 1e-5f;
};

// Loads `layers` in order; checks that each layer's input matches the previous output
// (the first one's: `in_features`).
HeadSpec load_head(DeviceWeights& w, const std::vector<HeadLayerName>& layers, int64_t in_features);

}  // namespace vkcls
