#include "models/blocks.h"

#include <fmt/format.h>

#include <cmath>

#include "vkcls/types.h"

namespace vkcls {

void attention_paged(Context& ctx, Recorder& rec, const DeviceBatch& b, size_t layer,
                     const Tensor& q, const Tensor& k, const Tensor& v,
                     const ops::AttentionArgs& aa, const Tensor& out) {
  const KvCache& kv = *b.kv;
  const uint32_t kv_heads = aa.num_kv_heads ? aa.num_kv_heads : aa.num_heads;
  ops::kv_write(ctx, rec, k, v, b.slot_mapping, kv.k(layer), kv.v(layer),
                {.row_width = kv_heads * aa.head_dim,
                 .k_offset = aa.k_offset,
                 .v_offset = aa.v_offset,
                 .row_stride = aa.kv_row_stride});
  ops::paged_attention(ctx, rec, q, kv.k(layer), kv.v(layer), b.cu_seqlens, b.context_lens,
                       b.block_tables, out,
                       {.num_heads = aa.num_heads,
                        .num_kv_heads = kv_heads,
                        .head_dim = aa.head_dim,
                        .q_offset = aa.q_offset,
                        .q_row_stride = aa.q_row_stride,
                        .page_size = uint32_t(kv.page_size()),
                        .window = aa.window,
                        .scale = aa.scale,
                        .softcap = aa.softcap,
                        .max_chunk = aa.max_seqlen});
}

ops::Act activation_from_config(const std::string& a) {
  if (a == "gelu") return ops::Act::gelu_erf;
  if (a == "gelu_new" || a == "gelu_pytorch_tanh" || a == "gelu_fast") return ops::Act::gelu_tanh;
  if (a == "relu") return ops::Act::relu;
  if (a == "silu" || a == "swish") return ops::Act::silu;
  if (a == "tanh") return ops::Act::tanh;
  throw Error(ErrorKind::model,
              fmt::format("config.json hidden_act '{}' is not supported (gelu, gelu_new, "
                          "gelu_pytorch_tanh, relu, silu, tanh)",
                          a));
}

Tensor linear(Context& ctx, Recorder& rec, Arena& scratch, const Tensor& x, const Linear& l,
              ops::Act act, const Tensor* residual) {
  Tensor y = scratch.alloc(DType::f32, {x.dim(0), l.out()});
  ops::gemm(ctx, rec, x, l.w, y,
            {.bias = l.b.valid() ? &l.b : nullptr, .residual = residual, .act = act});
  return y;
}

std::vector<float> rope_inv_freq(double theta, int64_t dim) {
  std::vector<float> f(size_t(dim / 2));
  const float base = float(theta);
  for (int64_t i = 0; i < dim / 2; ++i) {
    const float e = float(2 * i) / float(dim);
    const float p = float(std::pow(double(base), double(e)));
    f[size_t(i)] = 1.0f / p;
  }
  return f;
}

}  // namespace vkcls
