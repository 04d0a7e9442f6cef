// ops::glu: shaders/glu.comp.
#include "runtime/context.h"
#include "runtime/ops.h"
#include "runtime/ops/op_util.h"
#include "runtime/pipeline.h"

namespace vkcls::ops {

using namespace detail;

// ops::act_name is defined in runtime/ops/gemm.cpp.

void glu(Context& ctx, Recorder& rec, const Tensor& x, const Tensor& y, Act act) {
  // x: [T, 2F] f32, y: [T, F] f32
  const char* op = "glu";
  expect_dtype(op, "x", x, DType::f32);
  expect_rank(op, "x", x, 2);
  expect_u32_elements(op, "x", x);
  if (x.dim(1) % 2 != 0) fail(op, fmt::format("x is {}, expected [tokens, 2 * features] (even)", x.describe()));
  int64_t tokens = x.dim(0), features = x.dim(1) / 2;
  expect_dtype(op, "y", y, DType::f32);
  expect_shape(op, "y", y, {tokens, features}, "[tokens, x.shape[1] / 2]");
  if (overlaps(x, y)) fail(op, fmt::format("y {} overlaps x {}", y.describe(), x.describe()));
  if (uint32_t(act) > ACT_RELU) fail(op, fmt::format("act {} is not an activation", uint32_t(act)));
  if (tokens == 0 || features == 0) return;

  params::GluParams p{};
  p.tokens = uint32_t(tokens);
  p.features = uint32_t(features);
  p.act = uint32_t(act);
  const Pipeline& pl = ctx.pipelines().get(PipelineDesc{"glu", 2, sizeof(p), {}});
  Grid g = grid_for(ctx, div_up(uint64_t(tokens) * features, kWorkgroup));
  rec.dispatch(pl, {in(x), out(y)}, p, g.x, g.y);
}

}  // namespace vkcls::ops
