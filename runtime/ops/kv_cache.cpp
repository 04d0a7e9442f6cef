// Host side of kv_write.comp and paged_attention.comp (paged KV memory, runtime/kv_cache.h).
#include <cmath>
#include <cstdlib>
#include <string>

#include "runtime/device_info.h"
#include "runtime/ops.h"
#include "runtime/ops/op_util.h"
#include "runtime/pipeline.h"

namespace vkcls::ops {

using namespace detail;

void kv_write(Context& ctx, Recorder& rec, const Tensor& k, const Tensor& v,
              const Tensor& slot_mapping, const Tensor& k_cache, const Tensor& v_cache,
              const KvWriteArgs& a) {
  const char* op = "kv_write";
  for (auto [name, t] : {std::pair{"k", &k}, {"v", &v}}) expect_dtype(op, name, *t, DType::f32);
  const bool f16 = k_cache.dtype == DType::f16;  // an fp16 cache: values packed in pairs
  for (auto [name, t] : {std::pair{"k_cache", &k_cache}, {"v_cache", &v_cache}})
    expect_dtype(op, name, *t, f16 ? DType::f16 : DType::f32);
  expect_dtype(op, "slot_mapping", slot_mapping, DType::i32);
  expect_rank(op, "slot_mapping", slot_mapping, 1);
  const uint32_t W = a.row_width, stride = a.row_stride ? a.row_stride : W;
  if (W == 0 || (f16 && W % 2)) fail(op, "row_width must be set (and even for an f16 cache)");
  if (k_cache.shape.size() != 2 || k_cache.dim(1) != W || v_cache.shape != k_cache.shape)
    fail(op, fmt::format("k_cache {} and v_cache {} must both be [slots, {}]", k_cache.describe(),
                         v_cache.describe(), W));
  const int64_t T = slot_mapping.dim(0);
  if (T == 0) return;
  auto last = [&](uint32_t off) { return uint64_t(off) + uint64_t(T - 1) * stride + W; };
  if (last(a.k_offset) > uint64_t(k.numel()) || last(a.v_offset) > uint64_t(v.numel()))
    fail(op, fmt::format("k {} / v {} too small for {} rows of {} at stride {}", k.describe(),
                         v.describe(), T, W, stride));
  for (const Tensor* t : {&k_cache, &v_cache}) expect_u32_elements(op, "cache", *t);
  params::KvWriteParams p{};
  p.tokens = uint32_t(T);
  p.row_width = W;
  p.k_offset = a.k_offset;
  p.v_offset = a.v_offset;
  p.src_row_stride = stride;
  const Pipeline& pl = ctx.pipelines().get({f16 ? "kv_write_f16" : "kv_write", 5, sizeof(p), {}});
  Grid g = grid_for(ctx, div_up(uint64_t(T) * W / (f16 ? 2 : 1), 256));
  rec.dispatch(pl, {in(k), in(v), in(slot_mapping), inout(k_cache), inout(v_cache)}, p, g.x, g.y);
}

// CPU drivers take paged_attention_cpu.comp (texel fetches, subgroup broadcasts: see
// attention_cpu.comp) where it runs (q offsets and strides in whole texels).
static bool use_cpu_kernel(Context& ctx, const params::PagedAttentionParams& p, const Tensor& q,
                           const Tensor& k, const Tensor& v) {
  return attention_wants_cpu_kernel(ctx) && p.head_dim % 4 == 0 && p.q_offset % 4 == 0 &&
         p.q_row_stride % 4 == 0 && attention_cpu_kernel_fits(ctx, {&q, &k, &v});
}

void paged_attention(Context& ctx, Recorder& rec, const Tensor& q, const Tensor& k_cache,
                     const Tensor& v_cache, const Tensor& cu_seqlens, const Tensor& context_lens,
                     const Tensor& block_tables, const Tensor& result,
                     const PagedAttentionArgs& a) {
  const char* op = "paged_attention";
  const Tensor& o = result;
  const uint32_t H = a.num_heads, Hkv = a.num_kv_heads ? a.num_kv_heads : a.num_heads,
                 D = a.head_dim;
  if (H == 0 || D == 0 || a.page_size == 0)
    fail(op, "num_heads, head_dim and page_size must be set");
  if (D > 256) fail(op, fmt::format("head_dim {} is over the limit of 256", D));
  if (H % Hkv != 0)
    fail(op, fmt::format("num_heads {} is not a multiple of num_kv_heads {}", H, Hkv));
  if (!(a.softcap >= 0 && std::isfinite(a.softcap)))
    fail(op, fmt::format("softcap {} must be finite and >= 0", a.softcap));
  for (auto [name, t] : {std::pair{"q", &q}, {"out", &o}}) expect_dtype(op, name, *t, DType::f32);
  const bool f16 = k_cache.dtype == DType::f16;  // an fp16 cache (kv_write packs it)
  for (auto [name, t] : {std::pair{"k_cache", &k_cache}, {"v_cache", &v_cache}})
    expect_dtype(op, name, *t, f16 ? DType::f16 : DType::f32);
  for (auto [name, t] : {std::pair{"cu_seqlens", &cu_seqlens},
                         {"context_lens", &context_lens},
                         {"block_tables", &block_tables}})
    expect_dtype(op, name, *t, DType::i32);
  expect_rank(op, "block_tables", block_tables, 2);
  const int64_t S = block_tables.dim(0), T = o.dim(0);
  expect_shape(op, "cu_seqlens", cu_seqlens, {S + 1}, "[num_seqs + 1]");
  expect_shape(op, "context_lens", context_lens, {S}, "[num_seqs]");
  expect_shape(op, "out", o, {T, int64_t(H) * D}, "[tokens, num_heads * head_dim]");
  if (k_cache.shape.size() != 2 || k_cache.dim(1) != int64_t(Hkv) * D ||
      v_cache.shape != k_cache.shape || k_cache.dim(0) % a.page_size != 0)
    fail(op, fmt::format("k_cache {} and v_cache {} must be [pages * {}, {}]", k_cache.describe(),
                         v_cache.describe(), a.page_size, Hkv * D));
  params::PagedAttentionParams p{};
  p.num_seqs = uint32_t(S);
  p.num_heads = H;
  p.num_kv_heads = Hkv;
  p.head_dim = D;
  p.q_offset = a.q_offset;
  p.q_row_stride = a.q_row_stride ? a.q_row_stride : H * D;
  p.o_row_stride = H * D;
  p.page_size = a.page_size;
  p.max_blocks = uint32_t(block_tables.dim(1));
  p.window = a.window;
  p.scale = a.scale != 0 ? a.scale : 1.f / std::sqrt(float(D));
  p.softcap = a.softcap;
  if (S == 0 || T == 0 || a.max_chunk == 0) return;
  if (uint64_t(p.q_offset) + uint64_t(T - 1) * p.q_row_stride + H * D > uint64_t(q.numel()))
    fail(op, fmt::format("q {} too small for {} tokens", q.describe(), T));
  if (use_cpu_kernel(ctx, p, q, k_cache, v_cache)) {
    PipelineDesc desc{"paged_attention_cpu", 7, sizeof(p), {}};
    desc.texel_bindings = 0b111;  // q, k_cache, v_cache
    const Pipeline& pl = ctx.pipelines().get(desc);
    rec.dispatch(pl,
                 {in_vec4(q), in_vec4(k_cache), in_vec4(v_cache), in(cu_seqlens), in(context_lens),
                  in(block_tables), out(o)},
                 p, (a.max_chunk + 7) / 8, H, uint32_t(S));  // 8 query rows per workgroup
    return;
  }
  const bool wide = D > 128;
  const uint32_t BR = wide ? 8 : 16;
  const std::string name =
      std::string(wide ? "paged_attention_d256" : "paged_attention") + (f16 ? "_f16" : "");
  const Pipeline& pl = ctx.pipelines().get({name, 7, sizeof(p), {}});
  rec.dispatch(
      pl,
      {in(q), in(k_cache), in(v_cache), in(cu_seqlens), in(context_lens), in(block_tables), out(o)},
      p, (a.max_chunk + BR - 1) / BR, H, uint32_t(S));
}

}  // namespace vkcls::ops
