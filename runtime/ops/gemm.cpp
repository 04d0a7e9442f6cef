// Host side of gemm.comp (and the cooperative-matrix variant when usable).
#include <fmt/format.h>

#include <cstdlib>
#include <stdexcept>

#include "runtime/context.h"
#include "runtime/ops.h"
#include "runtime/pipeline.h"

namespace vkcls::ops {

const char* act_name(Act a) {
  switch (a) {
    case Act::none: return "none";
    case Act::gelu_erf: return "gelu";
    case Act::gelu_tanh: return "gelu_tanh";
    case Act::tanh: return "tanh";
    case Act::silu: return "silu";
    case Act::relu: return "relu";
  }
  return "?";
}

// CPU drivers emulate shared memory and barriers at a high cost: there the direct
// kernel (caches do the tiling) is faster. VKCLS_GEMM=tiled|direct overrides (tests use it).
static bool use_direct_kernel(Context& ctx, int64_t K) {
  if (K % 4 != 0) return false;  // vec4 rows
  const char* force = std::getenv("VKCLS_GEMM");
  if (force && std::string(force) == "direct") return true;
  if (force && std::string(force) == "tiled") return false;
  return ctx.info().type == VK_PHYSICAL_DEVICE_TYPE_CPU;
}

static void expect(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("gemm: " + what);
}

void gemm(Context& ctx, Recorder& rec, const Tensor& x, const Tensor& w, const Tensor& y, const GemmArgs& args) {
  expect(x.shape.size() == 2 && w.shape.size() == 2 && y.shape.size() == 2,
         fmt::format("x {}, w {}, y {} must be 2-D", x.describe(), w.describe(), y.describe()));
  const int64_t M = x.dim(0), K = x.dim(1), N = w.dim(0);
  expect(w.dim(1) == K, fmt::format("w {} must be [N, {}] to match x {}", w.describe(), K, x.describe()));
  expect(y.dim(0) == M && y.dim(1) == N, fmt::format("y {} must be [{}, {}]", y.describe(), M, N));
  expect(x.dtype == DType::f32 && y.dtype == DType::f32, "x and y must be f32");
  expect(w.dtype == DType::f32 || w.dtype == DType::f16, fmt::format("w {} must be f32 or f16", w.describe()));
  if (args.bias)
    expect(args.bias->dtype == DType::f32 && args.bias->numel() == N,
           fmt::format("bias {} must be f32[{}]", args.bias->describe(), N));
  if (args.residual)
    expect(args.residual->dtype == DType::f32 && args.residual->numel() == M * N,
           fmt::format("residual {} must be f32[{}, {}]", args.residual->describe(), M, N));
  if (M == 0 || N == 0) return;

  params::GemmParams p{uint32_t(M), uint32_t(N), uint32_t(K), uint32_t(K), uint32_t(N)};
  std::vector<uint32_t> spec = {uint32_t(args.act), args.bias ? 1u : 0u, args.residual ? 1u : 0u};
  // Unused optional inputs are bound to x (read-only) so the set is always complete.
  const Tensor& bias = args.bias ? *args.bias : x;
  const Tensor& res = args.residual ? *args.residual : x;
  const bool f16 = w.dtype == DType::f16;
  if (use_direct_kernel(ctx, K)) {
    // 8x8 invocations of 4x4 outputs each: a 32x32 block of y per workgroup
    const Pipeline& pl = ctx.pipelines().get({f16 ? "gemm_direct_f16" : "gemm_direct_f32", 5, sizeof(p), spec});
    rec.dispatch(pl, {in(x), in(w), in(bias), in(res), out(y)}, p, uint32_t((N + 31) / 32), uint32_t((M + 31) / 32));
    return;
  }
  const uint32_t BM = 64, BN = 64;
  const Pipeline& pl = ctx.pipelines().get({f16 ? "gemm_f16" : "gemm_f32", 5, sizeof(p), spec});
  rec.dispatch(pl, {in(x), in(w), in(bias), in(res), out(y)}, p, uint32_t((N + BN - 1) / BN), uint32_t((M + BM - 1) / BM));
}

}  // namespace vkcls::ops
