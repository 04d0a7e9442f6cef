// ops::softmax (row softmax) and ops::sigmoid (elementwise): shaders/softmax.comp, sigmoid.comp.
#include "runtime/context.h"
#include "runtime/ops.h"
#include "runtime/ops/op_util.h"
#include "runtime/pipeline.h"

namespace vkcls::ops {

using namespace detail;

namespace {
// x, y: [rows, cols] f32 of the same shape (any rank: rows = product of leading dims).
params::SoftmaxParams softmax_params(const char* op, const Tensor& x, const Tensor& y, float scale,
                                     float bias) {
  expect_dtype(op, "x", x, DType::f32);
  expect_dtype(op, "y", y, DType::f32);
  if (x.shape.empty()) fail(op, fmt::format("x is {}, expected at least 1 dimension", x.describe()));
  expect_shape(op, "y", y, x.shape, "x.shape");
  expect_u32_elements(op, "x", x);
  if (overlaps(x, y) && (x.buffer != y.buffer || x.offset != y.offset))
    fail(op, fmt::format("y {} partly overlaps x {}; it must be x itself or separate", y.describe(), x.describe()));
  params::SoftmaxParams p{};
  p.cols = uint32_t(x.dim(-1));
  p.rows = p.cols ? uint32_t(x.numel() / p.cols) : 0;
  p.scale = scale;
  p.bias = bias;
  return p;
}

void record(Context& ctx, Recorder& rec, const char* shader, const Tensor& x, const Tensor& y,
            const params::SoftmaxParams& p, uint64_t groups) {
  if (groups == 0 || p.cols == 0) return;
  const Pipeline& pl = ctx.pipelines().get(PipelineDesc{shader, 2, sizeof(p), {}});
  Grid g = grid_for(ctx, groups);
  if (overlaps(x, y))
    rec.dispatch(pl, {inout(x), inout(y)}, p, g.x, g.y);  // in place
  else
    rec.dispatch(pl, {in(x), out(y)}, p, g.x, g.y);
}
}  // namespace

void softmax(Context& ctx, Recorder& rec, const Tensor& x, const Tensor& y, float scale, float bias) {
  auto p = softmax_params("softmax", x, y, scale, bias);
  record(ctx, rec, "softmax", x, y, p, p.rows);  // one workgroup per row
}

void sigmoid(Context& ctx, Recorder& rec, const Tensor& x, const Tensor& y, float scale, float bias) {
  auto p = softmax_params("sigmoid", x, y, scale, bias);
  record(ctx, rec, "sigmoid", x, y, p, div_up(x.numel(), kWorkgroup));
}

}  // namespace vkcls::ops
