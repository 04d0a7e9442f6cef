// The last step of classify: logits -> scores, with vLLM's rules.
//   problem_type regression          -> identity
//   problem_type multi_label_...     -> sigmoid per label
//   single_label_... or unset        -> softmax, or sigmoid when num_labels == 1
// A sentence-transformers cross-encoder's activation_fn overrides (Sigmoid, Identity, ...).
// Calibration (per engine): activation((logit - mean) / sigma).
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace vkcls {

enum class Activation { softmax, sigmoid, identity };

Activation activation_for(const std::string& problem_type, int64_t num_labels, const std::string& st_activation_fn);
const char* activation_name(Activation a);

struct Calibration {
  float logit_mean = 0.f;
  float logit_sigma = 1.f;
};

// Applies calibration then the activation, in place, to one row of logits (fp32 in, fp32 out,
// computed in double so a softmax over large logits loses nothing).
void apply_activation(Activation a, std::vector<float>& row, const std::optional<Calibration>& cal = std::nullopt);

}  // namespace vkcls
