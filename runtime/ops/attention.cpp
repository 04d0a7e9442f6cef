// Host side of attention.comp: flash attention over packed sequences.
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "runtime/context.h"
#include "runtime/ops.h"
#include "runtime/ops/op_util.h"
#include "runtime/pipeline.h"

namespace vkcls::ops {

static void expect(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("attention: " + what);
}

// attention.comp (shared-memory tiles; its HEAD_DIM_256 variant past 128) and attention_cpu.comp
// (CPU drivers: texel fetches and subgroup broadcasts, multiples of 4) take head_dim up to 256.
constexpr uint32_t kMaxHeadDim = 256;

// Whether attention_cpu.comp can run these arguments on this device: vec4 texels need
// element offsets and strides in whole texels and tensors at 16-byte offsets.
static bool cpu_kernel_runs(Context& ctx, const params::AttentionParams& p, const Tensor& q,
                            const Tensor& k, const Tensor& v) {
  bool ok = p.head_dim % 4 == 0 && p.head_dim <= kMaxHeadDim;
  for (uint32_t e : {p.q_offset, p.k_offset, p.v_offset, p.q_row_stride, p.kv_row_stride})
    ok = ok && e % 4 == 0;
  return ok && detail::attention_cpu_kernel_fits(ctx, {&q, &k, &v});
}

// CPU drivers use attention_cpu.comp where it runs; VKCLS_ATTENTION=tiled|cpu overrides (tests).
static bool use_cpu_kernel(Context& ctx, const params::AttentionParams& p, const Tensor& q,
                           const Tensor& k, const Tensor& v) {
  return detail::attention_wants_cpu_kernel(ctx) && cpu_kernel_runs(ctx, p, q, k, v);
}

void attention(Context& ctx, Recorder& rec, const Tensor& q, const Tensor& k, const Tensor& v,
               const Tensor& cu_seqlens, const Tensor& result, const AttentionArgs& a) {
  const Tensor& o = result;  // `out` names the binding helper
  const uint32_t H = a.num_heads, Hkv = a.num_kv_heads ? a.num_kv_heads : a.num_heads,
                 D = a.head_dim;
  expect(H > 0 && D > 0, "num_heads and head_dim must be set");
  expect(D <= kMaxHeadDim, fmt::format("head_dim {} is over the limit of {}", D, kMaxHeadDim));
  expect(a.softcap >= 0 && std::isfinite(a.softcap),
         fmt::format("softcap {} must be finite and >= 0", a.softcap));
  expect(H % Hkv == 0, fmt::format("num_heads {} is not a multiple of num_kv_heads {}", H, Hkv));
  expect(q.dtype == DType::f32 && k.dtype == DType::f32 && v.dtype == DType::f32 &&
             o.dtype == DType::f32,
         "q, k, v and out must be f32");
  expect(cu_seqlens.dtype == DType::i32 && cu_seqlens.shape.size() == 1 && cu_seqlens.dim(0) >= 1,
         fmt::format("cu_seqlens {} must be i32[num_seqs + 1]", cu_seqlens.describe()));
  const int64_t T = o.dim(0);
  expect(o.shape.size() == 2 && o.dim(1) == int64_t(H) * D,
         fmt::format("out {} must be [tokens, {}]", o.describe(), H * D));
  const uint32_t num_seqs = uint32_t(cu_seqlens.dim(0) - 1);
  if (num_seqs == 0 || T == 0 || a.max_seqlen == 0) return;

  params::AttentionParams p{};
  p.num_seqs = num_seqs;
  p.num_heads = H;
  p.num_kv_heads = Hkv;
  p.head_dim = D;
  p.q_offset = a.q_offset;
  p.k_offset = a.k_offset;
  p.v_offset = a.v_offset;
  p.q_row_stride = a.q_row_stride ? a.q_row_stride : H * D;
  p.kv_row_stride = a.kv_row_stride ? a.kv_row_stride : Hkv * D;
  p.o_row_stride = H * D;
  p.causal = a.causal ? 1 : 0;
  p.window = a.window;
  p.scale = a.scale != 0 ? a.scale : 1.f / std::sqrt(float(D));
  // every row the kernel may read must lie inside the bound tensors
  auto last = [&](uint32_t off, uint32_t stride, uint32_t heads) {
    return uint64_t(off) + uint64_t(T - 1) * stride + heads * D;
  };
  expect(last(p.q_offset, p.q_row_stride, H) <= uint64_t(q.numel()),
         fmt::format("q {} too small for {} tokens", q.describe(), T));
  expect(last(p.k_offset, p.kv_row_stride, Hkv) <= uint64_t(k.numel()),
         fmt::format("k {} too small for {} tokens", k.describe(), T));
  expect(last(p.v_offset, p.kv_row_stride, Hkv) <= uint64_t(v.numel()),
         fmt::format("v {} too small for {} tokens", v.describe(), T));

  p.softcap = a.softcap;
  if (use_cpu_kernel(ctx, p, q, k, v)) {
    PipelineDesc desc{"attention_cpu", 5, sizeof(p), {}};
    desc.texel_bindings = 0b111;  // q, k, v
    const Pipeline& pl = ctx.pipelines().get(desc);
    rec.dispatch(pl, {in_vec4(q), in_vec4(k), in_vec4(v), in(cu_seqlens), out(o)}, p,
                 (a.max_seqlen + 7) / 8, H,
                 num_seqs);  // 8 query rows per workgroup
    return;
  }
  // head_dim over 128: the tiled kernel's variant with 8 x 8 tiles (see attention.comp)
  const bool wide = D > 128;
  const Pipeline& pl =
      ctx.pipelines().get({wide ? "attention_d256" : "attention", 5, sizeof(p), {}});
  const uint32_t BR = wide ? 8 : 16;
  rec.dispatch(pl, {in(q), in(k), in(v), in(cu_seqlens), out(o)}, p, (a.max_seqlen + BR - 1) / BR,
               H, num_seqs);
}

}  // namespace vkcls::ops
