// ops::rope: shaders/rope.comp. In place on x.
#include "runtime/context.h"
#include "runtime/ops.h"
#include "runtime/ops/op_util.h"
#include "runtime/pipeline.h"

namespace vkcls::ops {

using namespace detail;

void rope(Context& ctx, Recorder& rec, const Tensor& x, const Tensor& positions, const RopeArgs& args) {
  // x: [T, row] f32, row t at t * row_stride (default row); heads at offset + h * head_dim; positions: [T] i32
  const char* op = "rope";
  expect_dtype(op, "x", x, DType::f32);
  expect_rank(op, "x", x, 2);
  expect_u32_elements(op, "x", x);
  int64_t tokens = x.dim(0), row = x.dim(1);
  expect_dtype(op, "positions", positions, DType::i32);
  expect_shape(op, "positions", positions, {tokens}, "[tokens] (x.shape[0])");
  uint32_t rotary = args.rotary_dim ? args.rotary_dim : args.head_dim;
  if (args.num_heads == 0 || args.head_dim == 0)
    fail(op, fmt::format("num_heads {} and head_dim {} must be positive", args.num_heads, args.head_dim));
  if (rotary % 2 != 0 || rotary > args.head_dim)
    fail(op, fmt::format("rotary_dim {} must be even and at most head_dim {}", rotary, args.head_dim));
  uint64_t stride = args.row_stride ? args.row_stride : uint64_t(row);
  uint64_t span = uint64_t(args.offset) + uint64_t(args.num_heads) * args.head_dim;  // end of the last head
  if (span > stride || (tokens > 0 && (uint64_t(tokens) - 1) * stride + span > uint64_t(x.numel())))
    fail(op, fmt::format("x is {}: heads end at element {} of a row (offset {} + {} heads * head_dim {}) with "
                         "row_stride {}; expected them within each row and within x",
                         x.describe(), span, args.offset, args.num_heads, args.head_dim, stride));
  if (!args.inv_freq) fail(op, "inv_freq is missing (f32 [rotary_dim / 2])");
  expect_dtype(op, "inv_freq", *args.inv_freq, DType::f32);
  expect_shape(op, "inv_freq", *args.inv_freq, {int64_t(rotary / 2)}, "[rotary_dim / 2]");
  if (tokens == 0 || rotary == 0) return;

  params::RopeParams p{};
  p.tokens = uint32_t(tokens);
  p.num_heads = args.num_heads;
  p.head_dim = args.head_dim;
  p.rotary_dim = rotary;
  p.offset = args.offset;
  p.row_stride = uint32_t(stride);
  p.neox = args.neox ? 1 : 0;
  p.scale = args.scale;
  const Pipeline& pl = ctx.pipelines().get(PipelineDesc{"rope", 3, sizeof(p), {}});
  Grid g = grid_for(ctx, div_up(uint64_t(tokens) * args.num_heads * (rotary / 2), kWorkgroup));
  rec.dispatch(pl, {in(positions), inout(x), in(*args.inv_freq)}, p, g.x, g.y);
}

}  // namespace vkcls::ops
