// ops::pool: shaders/pool.comp.
#include "runtime/context.h"
#include "runtime/ops.h"
#include "runtime/ops/op_util.h"
#include "runtime/pipeline.h"

namespace vkcls::ops {

using namespace detail;

void pool(Context& ctx, Recorder& rec, const Tensor& hidden, const Tensor& ranges, const Tensor& y,
          Pool mode) {
  // hidden: [T, H] f32; ranges: [S, 2] i32 (begin, end rows); y: [S, H] f32
  const char* op = "pool";
  expect_dtype(op, "hidden", hidden, DType::f32);
  expect_rank(op, "hidden", hidden, 2);
  expect_u32_elements(op, "hidden", hidden);
  expect_dtype(op, "ranges", ranges, DType::i32);
  expect_rank(op, "ranges", ranges, 2);
  if (ranges.dim(1) != 2)
    fail(op, fmt::format("ranges is {}, expected [num_outputs, 2]", ranges.describe()));
  int64_t seqs = ranges.dim(0), h = hidden.dim(1);
  expect_dtype(op, "y", y, DType::f32);
  expect_shape(op, "y", y, {seqs, h}, "[num_outputs, hidden] (ranges.shape[0], hidden.shape[1])");
  if (uint32_t(mode) > POOL_LAST)
    fail(op, fmt::format("mode {} is not a pooling mode", uint32_t(mode)));
  if (seqs == 0 || h == 0) return;
  if (hidden.dim(0) == 0) {  // nothing to read: every sequence is empty
    rec.fill_zero(y);
    return;
  }

  params::PoolParams p{};
  p.num_seqs = uint32_t(seqs);
  p.hidden = uint32_t(h);
  p.mode = uint32_t(mode);
  const Pipeline& pl = ctx.pipelines().get(PipelineDesc{"pool", 3, sizeof(p), {}});
  Grid g = grid_for(ctx, div_up(uint64_t(seqs) * h, kWorkgroup));
  rec.dispatch(pl, {in(hidden), in(ranges), out(y)}, p, g.x, g.y);
}

}  // namespace vkcls::ops
