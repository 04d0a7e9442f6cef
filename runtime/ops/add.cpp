// ops::add: shaders/add.comp.
#include "runtime/context.h"
#include "runtime/ops.h"
#include "runtime/ops/op_util.h"
#include "runtime/pipeline.h"

namespace vkcls::ops {

using namespace detail;

void add(Context& ctx, Recorder& rec, const Tensor& a, const Tensor& b, const Tensor& y) {
  // a, b, y: f32 of one shape
  const char* op = "add";
  expect_dtype(op, "a", a, DType::f32);
  expect_dtype(op, "b", b, DType::f32);
  expect_dtype(op, "y", y, DType::f32);
  expect_u32_elements(op, "a", a);
  if (b.shape != a.shape || y.shape != a.shape)
    fail(op, fmt::format("a {}, b {} and y {} must have one shape", a.describe(), b.describe(),
                         y.describe()));
  if (a.numel() == 0) return;
  params::AddParams p{};
  p.n = uint32_t(a.numel());
  const Pipeline& pl = ctx.pipelines().get(PipelineDesc{"add", 3, sizeof(p), {}});
  Grid g = grid_for(ctx, div_up(uint64_t(p.n), kWorkgroup));
  rec.dispatch(pl, {in(a), in(b), out(y)}, p, g.x, g.y);
}

}  // namespace vkcls::ops
