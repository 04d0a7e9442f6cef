// ops::layer_norm and ops::rms_norm: shaders/norm.comp (-DLAYER_NORM / -DRMS_NORM).
#include <cstdlib>
#include <initializer_list>
#include <string>

#include "runtime/context.h"
#include "runtime/ops.h"
#include "runtime/ops/op_util.h"
#include "runtime/pipeline.h"

namespace vkcls::ops {

using namespace detail;

namespace {
// x, residual, y: [rows, cols] f32 (any rank: cols is the last axis); gamma, beta: [cols] f32.
params::NormParams norm_params(const char* op, const Tensor& x, const Tensor* residual,
                               const Tensor& gamma, const Tensor* beta, const Tensor& y,
                               float eps) {
  expect_dtype(op, "x", x, DType::f32);
  if (x.shape.empty()) fail(op, fmt::format("x is {}, expected [rows, cols]", x.describe()));
  expect_u32_elements(op, "x", x);
  int64_t cols = x.dim(-1);
  if (residual) {
    expect_dtype(op, "residual", *residual, DType::f32);
    expect_shape(op, "residual", *residual, x.shape, "x.shape");
  }
  expect_dtype(op, "gamma", gamma, DType::f32);
  expect_shape(op, "gamma", gamma, {cols}, "[cols]");
  if (beta) {
    expect_dtype(op, "beta", *beta, DType::f32);
    expect_shape(op, "beta", *beta, {cols}, "[cols]");
  }
  expect_dtype(op, "y", y, DType::f32);
  expect_shape(op, "y", y, x.shape, "x.shape");
  if (!(eps >= 0)) fail(op, fmt::format("eps is {}, expected >= 0", eps));
  params::NormParams p{};
  p.cols = uint32_t(cols);
  p.rows = cols ? uint32_t(x.numel() / cols) : 0;
  p.eps = eps;
  p.has_residual = residual != nullptr;
  p.has_beta = beta != nullptr;
  return p;
}

// Texel width of norm_cpu.comp (CPU drivers: a row per invocation, texel fetches, no
// barriers) for these tensors: 4 (vec4 rows), 1 (scalar texels) or 0 (the workgroup kernel,
// norm.comp). VKCLS_NORM=tiled|cpu overrides (tests run both).
uint32_t cpu_kernel_width(Context& ctx, const params::NormParams& p,
                          std::initializer_list<const Tensor*> inputs) {
  const char* force = std::getenv("VKCLS_NORM");
  const std::string f = force ? force : "";
  if (f == "tiled") return 0;
  if (f != "cpu" && ctx.info().type != VK_PHYSICAL_DEVICE_TYPE_CPU) return 0;
  const DeviceInfo& d = ctx.info();
  const uint32_t width = p.cols % 4 == 0 && d.texel_buffer_f32x4 ? 4 : d.texel_buffer_f32 ? 1 : 0;
  for (const Tensor* t : inputs)
    if (t && (t->offset % 16 != 0 || uint64_t(t->numel() / width) > d.max_texel_buffer_elements))
      return 0;
  return width;
}
}  // namespace

void layer_norm(Context& ctx, Recorder& rec, const Tensor& x, const Tensor* residual,
                const Tensor& gamma, const Tensor* beta, const Tensor& y, float eps) {
  auto p = norm_params("layer_norm", x, residual, gamma, beta, y, eps);
  if (p.rows == 0 || p.cols == 0) return;
  const Tensor& r = residual ? *residual : x;
  const Tensor& b = beta ? *beta : gamma;
  if (uint32_t width = cpu_kernel_width(ctx, p, {&x, residual, &gamma, beta})) {
    PipelineDesc desc{width == 4 ? "layer_norm_cpu_x4" : "layer_norm_cpu_x1", 5, sizeof(p), {}};
    desc.texel_bindings = 0b1111;  // x, residual, gamma, beta
    auto tex = width == 4 ? in_vec4 : in_scalars;
    Grid g = grid_for(ctx, div_up(p.rows, 8));  // 8 rows per workgroup
    rec.dispatch(ctx.pipelines().get(desc), {tex(x), tex(r), tex(gamma), tex(b), out(y)}, p, g.x,
                 g.y);
    return;
  }
  const Pipeline& pl = ctx.pipelines().get(PipelineDesc{"layer_norm", 5, sizeof(p), {}});
  Grid g = grid_for(ctx, p.rows);  // one workgroup per row
  rec.dispatch(pl, {in(x), in(r), in(gamma), in(b), out(y)}, p, g.x, g.y);
}

void rms_norm(Context& ctx, Recorder& rec, const Tensor& x, const Tensor* residual,
              const Tensor& gamma, const Tensor& y, float eps, float gamma_offset) {
  auto p = norm_params("rms_norm", x, residual, gamma, nullptr, y, eps);
  p.gamma_offset = gamma_offset;
  if (p.rows == 0 || p.cols == 0) return;
  if (uint32_t width = cpu_kernel_width(ctx, p, {&x, residual, &gamma})) {
    PipelineDesc desc{width == 4 ? "rms_norm_cpu_x4" : "rms_norm_cpu_x1", 4, sizeof(p), {}};
    desc.texel_bindings = 0b111;  // x, residual, gamma
    auto tex = width == 4 ? in_vec4 : in_scalars;
    Grid g = grid_for(ctx, div_up(p.rows, 8));
    rec.dispatch(ctx.pipelines().get(desc),
                 {tex(x), tex(residual ? *residual : x), tex(gamma), out(y)}, p, g.x, g.y);
    return;
  }
  const Pipeline& pl = ctx.pipelines().get(PipelineDesc{"rms_norm", 4, sizeof(p), {}});
  Grid g = grid_for(ctx, p.rows);
  rec.dispatch(pl, {in(x), in(residual ? *residual : x), in(gamma), out(y)}, p, g.x, g.y);
}

}  // namespace vkcls::ops
