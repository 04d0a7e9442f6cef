#include "models/blocks.h"

#include <fmt/format.h>

#include <cmath>

#include "vkcls/types.h"

namespace vkcls {

ops::Act activation_from_config(const std::string& a) {
  if (a == "gelu") return ops::Act::gelu_erf;
  if (a == "gelu_new" || a == "gelu_pytorch_tanh" || a == "gelu_fast") return ops::Act::gelu_tanh;
  if (a == "relu") return ops::Act::relu;
  if (a == "silu" || a == "swish") return ops::Act::silu;
  if (a == "tanh") return ops::Act::tanh;
  throw Error(ErrorKind::model,
              fmt::format("config.json hidden_act '{}' is not supported (gelu, gelu_new, "
                          "gelu_pytorch_tanh, relu, silu, tanh)",
                          a));
}

Tensor linear(Context& ctx, Recorder& rec, Arena& scratch, const Tensor& x, const Linear& l,
              ops::Act act, const Tensor* residual) {
  Tensor y = scratch.alloc(DType::f32, {x.dim(0), l.out()});
  ops::gemm(ctx, rec, x, l.w, y,
            {.bias = l.b.valid() ? &l.b : nullptr, .residual = residual, .act = act});
  return y;
}

std::vector<float> rope_inv_freq(double theta, int64_t dim) {
  std::vector<float> f(size_t(dim / 2));
  const float base = float(theta);
  for (int64_t i = 0; i < dim / 2; ++i) {
    const float e = float(2 * i) / float(dim);
    const float p = float(std::pow(double(base), double(e)));
    f[size_t(i)] = 1.0f / p;
  }
  return f;
}

}  // namespace vkcls
