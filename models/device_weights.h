// Weights from a WeightStore onto the device, converted to the device dtype.
// Matrices (GEMM weights, embedding tables) follow the model's dtype (f32 or f16);
// vectors (biases, norm scales) and classifier heads stay f32.
#pragma once
#include <string>
#include <vector>

#include "models/safetensors.h"
#include "runtime/context.h"
#include "runtime/memory.h"

namespace vkcls {

class DeviceWeights {
 public:
  DeviceWeights(Context& ctx, const WeightStore& store, DType matrix_dtype)
      : ctx_(ctx), store_(store), dtype_(matrix_dtype), arena_(ctx, "weights", 64ull << 20) {}

  // [rows, cols] matrix in the model dtype; shape checked against the file. One larger than
  // a binding (a word embedding table) gets a buffer of its own (Arena::alloc_large).
  Tensor matrix(const std::string& name, int64_t rows, int64_t cols);
  // Rows of several matrices stacked into one (fused q/k/v): each [rows_i, cols].
  Tensor stacked_matrix(const std::vector<std::string>& names, int64_t cols);
  // f32 vector of n (bias, norm); several names concatenate.
  Tensor vector(const std::vector<std::string>& names, int64_t n);
  // f32 copy of anything, whatever the model dtype (heads are computed in fp32).
  Tensor f32(const std::string& name, std::vector<int64_t> shape);
  // A tensor from host floats (derived weights, e.g. folded embeddings).
  Tensor from_floats(const std::vector<float>& v, std::vector<int64_t> shape, DType dtype);

  const WeightStore& store() const { return store_; }
  DType matrix_dtype() const { return dtype_; }
  uint64_t bytes() const { return arena_.bytes_in_use(); }

 private:
  std::vector<float> read(const std::string& name, const std::vector<int64_t>& shape) const;
  Context& ctx_;
  const WeightStore& store_;
  DType dtype_;
  Arena arena_;
};

}  // namespace vkcls
