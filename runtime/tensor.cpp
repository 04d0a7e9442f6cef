#include "runtime/tensor.h"

#include <fmt/format.h>

#include <stdexcept>

namespace vkcls {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::i32: return "i32";
    case DType::u32: return "u32";
  }
  return "?";
}

std::string Tensor::describe() const {
  std::string s = std::string(dtype_name(dtype)) + "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Tensor Tensor::reshaped(std::vector<int64_t> new_shape) const {
  Tensor t = *this;
  t.shape = std::move(new_shape);
  if (t.numel() != numel())
    throw std::invalid_argument(fmt::format("reshape {} to {}: element counts differ", describe(), t.describe()));
  return t;
}

}  // namespace vkcls
