#include "poolers/activation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace vkcls {

Activation activation_for(const std::string& problem_type, int64_t num_labels, const std::string& st_fn) {
  if (!st_fn.empty()) {
    // sentence-transformers names a torch module: torch.nn.modules.activation.Sigmoid, ...Identity, ...Tanh
    auto ends = [&](const char* s) { return st_fn.size() >= std::strlen(s) && st_fn.ends_with(s); };
    if (ends("Sigmoid")) return Activation::sigmoid;
    if (ends("Identity")) return Activation::identity;
    if (ends("Softmax")) return Activation::softmax;
    throw std::invalid_argument(fmt::format("sentence-transformers activation_fn '{}' is not supported "
                                            "(Sigmoid, Identity, Softmax)", st_fn));
  }
  if (problem_type == "regression") return Activation::identity;
  if (problem_type == "multi_label_classification") return Activation::sigmoid;
  if (problem_type.empty() || problem_type == "single_label_classification")
    return num_labels == 1 ? Activation::sigmoid : Activation::softmax;
  throw std::invalid_argument(fmt::format("config.json problem_type '{}' is not one of regression, "
                                          "single_label_classification, multi_label_classification", problem_type));
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::softmax: return "softmax";
    case Activation::sigmoid: return "sigmoid";
    case Activation::identity: return "identity";
  }
  return "?";
}

void apply_activation(Activation a, std::vector<float>& row, const std::optional<Calibration>& cal) {
  std::vector<double> x(row.begin(), row.end());
  if (cal)
    for (double& v : x) v = (v - cal->logit_mean) / cal->logit_sigma;
  if (a == Activation::softmax && !x.empty()) {
    double mx = *std::max_element(x.begin(), x.end()), sum = 0;
    for (double& v : x) sum += (v = std::exp(v - mx));
    for (double& v : x) v /= sum;
  } else if (a == Activation::sigmoid) {
    for (double& v : x) v = v >= 0 ? 1.0 / (1.0 + std::exp(-v)) : std::exp(v) / (1.0 + std::exp(v));
  }
  for (size_t i = 0; i < row.size(); ++i) row[i] = float(x[i]);
}

}  // namespace vkcls
