// The ops: one shader + one host function each (runtime/ops/<op>.cpp), each
// checked against a double-precision CPU reference in tests/ops/.
// Host functions only record into a Recorder; they never submit.
// Activations are fp32; weights (gemm w, embedding tables) are fp32 or fp16.
#pragma once
#include "runtime/recorder.h"
#include "runtime/tensor.h"
#include "shaders/op_params.h"

namespace vkcls {
class Context;
}

namespace vkcls::ops {

enum class Act : uint32_t {
  none = ACT_NONE,
  gelu_erf = ACT_GELU_ERF,
  gelu_tanh = ACT_GELU_TANH,
  tanh = ACT_TANH,
  silu = ACT_SILU,
  relu = ACT_RELU,
};
const char* act_name(Act a);

// y[M, N] = act(x[M, K] . w[N, K]^T + bias[N]) + residual[M, N]
// x, y, bias, residual: f32; w: f32 or f16. Uses cooperative matrices when the
// device offers them and w is f16, unless VKCLS_NO_COOPMAT=1.
struct GemmArgs {
  const Tensor* bias = nullptr;
  const Tensor* residual = nullptr;  // may alias y
  Act act = Act::none;
  bool allow_coopmat = true;
};
void gemm(Context& ctx, Recorder& rec, const Tensor& x, const Tensor& w, const Tensor& y,
          const GemmArgs& args = {});
// Whether gemm uses the cooperative-matrix kernel on this device (runs its self-check once).
bool coopmat_usable(Context& ctx);

// Flash attention over packed variable-length sequences (no padding).
// q: [T, *], k, v: [T, *] (may be the same fused qkv tensor, see offsets/strides);
// cu_seqlens: i32 [num_seqs + 1]; out: [T, num_heads * head_dim].
struct AttentionArgs {
  uint32_t num_heads = 0, num_kv_heads = 0, head_dim = 0;
  uint32_t q_offset = 0, k_offset = 0, v_offset = 0;  // elements
  uint32_t q_row_stride = 0, kv_row_stride = 0;       // 0: dense rows
  bool causal = false;
  uint32_t window = 0;
  float scale = 0;          // 0: 1/sqrt(head_dim)
  float softcap = 0;  // > 0: scores = softcap * tanh(scores / softcap) (Gemma 2), before masking
  uint32_t max_seqlen = 0;  // longest sequence in the batch (sizes the grid)
};
void attention(Context& ctx, Recorder& rec, const Tensor& q, const Tensor& k, const Tensor& v,
               const Tensor& cu_seqlens, const Tensor& out, const AttentionArgs& args);

// Paged KV memory (runtime/kv_cache.h). kv_write: row t of k and v (element offset + t *
// row_stride, row_width = kv_heads * head_dim values) into row slot_mapping[t] (i32 [T]) of
// k_cache and v_cache (f32 [slots, row_width]); k and v may be one fused qkv tensor.
struct KvWriteArgs {
  uint32_t row_width = 0;
  uint32_t k_offset = 0, v_offset = 0;  // elements
  uint32_t row_stride = 0;              // 0: dense rows of row_width
};
void kv_write(Context& ctx, Recorder& rec, const Tensor& k, const Tensor& v,
              const Tensor& slot_mapping, const Tensor& k_cache, const Tensor& v_cache,
              const KvWriteArgs& args);

// Causal attention of a packed chunk's queries over the KV cache: sequence s has
// context_lens[s] (i32 [S]) tokens before its chunk rows cu_seqlens[s] .. cu_seqlens[s + 1];
// its keys are read through block_tables (i32 [S, max_blocks]) from k_cache, v_cache (f32
// [pages * page_size, num_kv_heads * head_dim]); out: [T, num_heads * head_dim].
struct PagedAttentionArgs {
  uint32_t num_heads = 0, num_kv_heads = 0, head_dim = 0;
  uint32_t q_offset = 0, q_row_stride = 0;  // 0: dense rows
  uint32_t page_size = 0;
  uint32_t window = 0;
  float scale = 0;    // 0: 1/sqrt(head_dim)
  float softcap = 0;  // > 0: scores = softcap * tanh(scores / softcap)
  uint32_t max_chunk = 0;  // longest chunk in the batch (sizes the grid)
};
void paged_attention(Context& ctx, Recorder& rec, const Tensor& q, const Tensor& k_cache,
                     const Tensor& v_cache, const Tensor& cu_seqlens, const Tensor& context_lens,
                     const Tensor& block_tables, const Tensor& out, const PagedAttentionArgs& args);

// Row softmax of (x * scale + bias) over the last axis; x, y: [rows, cols] f32 (y may alias x).
void softmax(Context& ctx, Recorder& rec, const Tensor& x, const Tensor& y, float scale = 1.f,
             float bias = 0.f);
// Elementwise sigmoid of (x * scale + bias).
void sigmoid(Context& ctx, Recorder& rec, const Tensor& x, const Tensor& y, float scale = 1.f,
             float bias = 0.f);

// y = LayerNorm(x + residual) * gamma + beta; x, residual, y: [rows, cols]; gamma, beta: [cols]
// f32.
void layer_norm(Context& ctx, Recorder& rec, const Tensor& x, const Tensor* residual,
                const Tensor& gamma, const Tensor* beta, const Tensor& y, float eps);
// y = RMSNorm(x + residual) * (gamma + gamma_offset).
void rms_norm(Context& ctx, Recorder& rec, const Tensor& x, const Tensor* residual,
              const Tensor& gamma, const Tensor& y, float eps, float gamma_offset = 0.f);

// y[t] = word[ids[t]] * word_scale + pos[pos_ids[t]] + type[type_ids[t]]
// ids, pos_ids, type_ids: i32 [T]; tables: [rows, hidden] f32 or f16; y: [T, hidden] f32.
struct EmbedArgs {
  const Tensor* pos_ids = nullptr;
  const Tensor* pos_table = nullptr;
  const Tensor* type_ids = nullptr;
  const Tensor* type_table = nullptr;
  float word_scale = 1.f;
};
void embed(Context& ctx, Recorder& rec, const Tensor& ids, const Tensor& word_table,
           const Tensor& y, const EmbedArgs& args = {});

// In-place rotary embedding of num_heads heads starting at element `offset` of each row.
// inv_freq: f32 [rotary_dim / 2], the frequencies (theta and any scaling applied on the host);
// or, with freq_rows (i32 [T]), a table f32 [R, rotary_dim / 2] of which token t uses row
// freq_rows[t] (dynamic NTK RoPE: each sequence of a batch gets frequencies for its length).
struct RopeArgs {
  uint32_t num_heads = 0, head_dim = 0, rotary_dim = 0;  // rotary_dim 0: head_dim
  uint32_t offset = 0, row_stride = 0;                   // row_stride 0: dense
  bool neox = true;
  const Tensor* inv_freq = nullptr;
  float scale = 1.f;  // multiplies cos and sin (YaRN's attention factor)
  const Tensor* freq_rows = nullptr;
};
void rope(Context& ctx, Recorder& rec, const Tensor& x, const Tensor& positions,
          const RopeArgs& args);

// y = a + b elementwise; a, b, y: f32 of one shape (y may alias a or b).
void add(Context& ctx, Recorder& rec, const Tensor& a, const Tensor& b, const Tensor& y);

// y[t, f] = act(x[t, f]) * x[t, F + f];  x: [T, 2F], y: [T, F]  (GeGLU, SwiGLU)
void glu(Context& ctx, Recorder& rec, const Tensor& x, const Tensor& y, Act act);

// y[s] = first / mean / last of rows ranges[s, 0] .. ranges[s, 1] (half-open) of hidden;
// hidden: [T, H], ranges: i32 [S, 2], y: [S, H]. An empty range gives zeros.
enum class Pool : uint32_t { first = POOL_FIRST, mean = POOL_MEAN, last = POOL_LAST };
void pool(Context& ctx, Recorder& rec, const Tensor& hidden, const Tensor& ranges, const Tensor& y,
          Pool mode);

}  // namespace vkcls::ops
