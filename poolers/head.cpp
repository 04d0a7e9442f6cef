#include "poolers/head.h"

#include <fmt/format.h>

#include <stdexcept>

namespace vkcls {

Tensor run_head(Context& ctx, Recorder& rec, Arena& scratch, const HeadSpec& head,
                const Tensor& x) {
  if (x.dim(1) != head.in_features)
    throw std::invalid_argument(fmt::format("head: input {} does not match the head's {} features",
                                            x.describe(), head.in_features));
  Tensor cur = x;
  for (const HeadLayer& l : head.layers) {
    if (l.kind == HeadLayer::Kind::layer_norm) {
      Tensor y = scratch.alloc(DType::f32, {cur.dim(0), cur.dim(1)});
      ops::layer_norm(ctx, rec, cur, nullptr, l.w, l.b.valid() ? &l.b : nullptr, y, l.eps);
      cur = y;
      continue;
    }
    Tensor y = scratch.alloc(DType::f32, {cur.dim(0), l.w.dim(0)});
    ops::gemm(ctx, rec, cur, l.w, y, {.bias = l.b.valid() ? &l.b : nullptr, .act = l.act});
    cur = y;
  }
  return cur;
}

}  // namespace vkcls
