// RoPE frequencies of the decoder families from config.json, as transformers 5.23's
// modeling_rope_utils.py computes them, in its float32 steps (see rope_inv_freq in blocks.h):
//   default   inv_freq_i = theta^(-2i/d)
//   linear    inv_freq / factor
//   dynamic   (NTK by length) an input of n > max_position_embeddings (L) tokens gets the default
//             formula with base theta * ((factor * n / L) - (factor - 1))^(d / (d - 2)), for its
//             own n (transformers resets its stateful module per input in our references); n <= L:
//             default
//   llama3    per wavelength: long ones / factor, short ones unchanged, a smooth ramp in between
//   yarn      a ramp between interpolated and extrapolated frequencies, and an attention factor
//             that multiplies cos and sin (RopeArgs.scale)
// Both spellings are read: the hub's rope_theta + rope_scaling {type | rope_type, ...} and
// transformers 5's rope_parameters {rope_type, rope_theta, ...}.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/config.h"

namespace vkcls {

struct RopeScaling {
  std::string kind = "default";  // default | linear | dynamic | llama3 | yarn
  double theta = 10000.0;
  int64_t dim = 0;               // rotary dims (head_dim)
  int64_t max_positions = 0;     // dynamic: L (max_position_embeddings)
  double factor = 1.0;           // dynamic
  std::vector<float> inv_freq;   // [dim / 2] for inputs of at most max_positions tokens
  float attention_scale = 1.0f;  // yarn: multiplies cos and sin

  bool per_length() const { return kind == "dynamic"; }
  // The frequencies for an input of n tokens (differs from inv_freq only for dynamic, n > L).
  std::vector<float> inv_freq_for_length(int64_t n) const;
};

// Throws Error(model) naming the field for unknown types or missing / bad parameters.
RopeScaling rope_scaling_from_config(const ModelConfig& cfg, int64_t dim);

}  // namespace vkcls
