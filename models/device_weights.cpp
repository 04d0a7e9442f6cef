#include "models/device_weights.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "runtime/half.h"

namespace vkcls {

std::vector<float> DeviceWeights::read(const std::string& name, const std::vector<int64_t>& shape) const {
  store_.get(name, shape);  // throws naming the tensor and both shapes on mismatch
  return store_.to_f32(name);
}

Tensor DeviceWeights::from_floats(const std::vector<float>& v, std::vector<int64_t> shape, DType dtype) {
  // alloc_large falls back to alloc when the tensor fits one binding
  Tensor t = arena_.alloc_large(dtype, std::move(shape));
  if (dtype == DType::f16) {
    std::vector<uint16_t> h(v.size());
    for (size_t i = 0; i < v.size(); ++i) h[i] = float_to_half(v[i]);
    ctx_.upload(t, h.data(), h.size() * 2);
  } else {
    ctx_.upload(t, v.data(), v.size() * 4);
  }
  return t;
}

Tensor DeviceWeights::matrix(const std::string& name, int64_t rows, int64_t cols) {
  return from_floats(read(name, {rows, cols}), {rows, cols}, dtype_);
}

Tensor DeviceWeights::stacked_matrix(const std::vector<std::string>& names, int64_t cols) {
  std::vector<float> all;
  int64_t rows = 0;
  for (const auto& n : names) {
    const WeightView& w = store_.get(n, {-1, cols});
    auto v = store_.to_f32(n);
    all.insert(all.end(), v.begin(), v.end());
    rows += w.shape[0];
  }
  return from_floats(all, {rows, cols}, dtype_);
}

Tensor DeviceWeights::vector(const std::vector<std::string>& names, int64_t n) {
  std::vector<float> all;
  for (const auto& name : names) {
    auto v = store_.to_f32(name);
    all.insert(all.end(), v.begin(), v.end());
  }
  if (int64_t(all.size()) != n)
    throw std::invalid_argument(fmt::format("weights {}: {} values, expected {}", fmt::join(names, " + "), all.size(), n));
  return from_floats(all, {n}, DType::f32);
}

Tensor DeviceWeights::f32(const std::string& name, std::vector<int64_t> shape) {
  return from_floats(read(name, shape), shape, DType::f32);
}

}  // namespace vkcls
