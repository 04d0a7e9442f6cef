// Push-constant structs, one per op, included by the GLSL shaders and by C++.
// Only 32-bit scalars, so std430 and C++ lay them out identically.
#ifndef VKCLS_OP_PARAMS_H
#define VKCLS_OP_PARAMS_H

#ifdef __cplusplus
#include <cstdint>
namespace vkcls::params {
using uint = uint32_t;
#define VKCLS_STRUCT struct alignas(4)
#else
#define VKCLS_STRUCT struct
#endif

// Epilogue activations of gemm (specialization constant), also used by glu.
#define ACT_NONE 0
#define ACT_GELU_ERF 1
#define ACT_GELU_TANH 2
#define ACT_TANH 3
#define ACT_SILU 4
#define ACT_RELU 5

// y[M, N] = act(x[M, K] . w[N, K]^T + b[N]) + residual[M, N]
VKCLS_STRUCT GemmParams {
  uint M;
  uint N;
  uint K;
  uint x_row_stride;    // elements between rows of x (>= K)
  uint y_row_stride;    // elements between rows of y and residual (>= N)
};

// Flash attention over packed sequences. q/k/v rows live in (possibly the same)
// buffers at element offsets q_offset + t*q_row_stride + h*head_dim.
VKCLS_STRUCT AttentionParams {
  uint num_seqs;
  uint num_heads;        // query heads
  uint num_kv_heads;     // key/value heads (grouped-query attention when fewer)
  uint head_dim;
  uint q_offset;
  uint k_offset;
  uint v_offset;
  uint q_row_stride;
  uint kv_row_stride;
  uint o_row_stride;
  uint causal;           // 1: a query sees keys at positions <= its own
  uint window;           // 0: unlimited; else a query sees keys with |q - k| < window
                         // (causal: Mistral-style q - k < window; ModernBERT local 128: window 65)
  float scale;           // usually 1/sqrt(head_dim)
  float softcap;         // > 0: scores = softcap * tanh(scores / softcap) before the mask (Gemma 2)
};

// Paged KV memory (runtime/kv_cache.h). A cache tensor holds one layer's K (or V) for every
// slot: slot s = page * page_size + i, its row at element s * row_width (row_width = kv_heads *
// head_dim).
// kv_write: row t of k (element k_offset + t * src_row_stride) -> k_cache row slot_mapping[t].
VKCLS_STRUCT KvWriteParams {
  uint tokens;
  uint row_width;       // kv_heads * head_dim
  uint k_offset;
  uint v_offset;
  uint src_row_stride;
};

// Causal attention of a chunk's queries over their sequence's cached keys: sequence s has
// context_lens[s] tokens before the chunk, its chunk rows cu_seqlens[s] .. cu_seqlens[s + 1];
// query r of the chunk sits at position context_lens[s] + r and sees keys 0 ..= that position
// (within the window). Key j lives in slot block_tables[s * max_blocks + j / page_size] *
// page_size + j % page_size.
VKCLS_STRUCT PagedAttentionParams {
  uint num_seqs;
  uint num_heads;
  uint num_kv_heads;
  uint head_dim;
  uint q_offset;
  uint q_row_stride;
  uint o_row_stride;
  uint page_size;
  uint max_blocks;       // columns of block_tables
  uint window;           // 0: unlimited; else q - k < window
  float scale;
  float softcap;
};

// Row-wise softmax or elementwise sigmoid of (x * scale + bias).
VKCLS_STRUCT SoftmaxParams {
  uint rows;
  uint cols;
  float scale;
  float bias;
};

// y = norm(x + residual) * gamma (+ beta). LayerNorm or RMSNorm by variant.
VKCLS_STRUCT NormParams {
  uint rows;
  uint cols;
  float eps;
  uint has_residual;
  uint has_beta;
  float gamma_offset;    // Gemma's RMSNorm multiplies by (1 + gamma): offset 1
};

// y[t] = word[ids[t]] + pos[pos_ids[t]] + type[type_ids[t]]; tables optional.
// Word tables larger than one binding are processed in row ranges.
VKCLS_STRUCT EmbedParams {
  uint tokens;
  uint hidden;
  uint word_row_begin;   // rows of the word table bound in this dispatch
  uint word_row_end;
  uint has_pos;
  uint has_type;
  uint accumulate;       // 1: add into y (a later row range), 0: write y
  float word_scale;      // Gemma scales embeddings by sqrt(hidden)
};

// Rotary embedding in place on rows of x: heads of head_dim, first rotary_dim rotated.
VKCLS_STRUCT RopeParams {
  uint tokens;
  uint num_heads;
  uint head_dim;
  uint rotary_dim;
  uint offset;           // element offset of head 0 in a row
  uint row_stride;
  uint neox;             // 1: rotate halves (GPT-NeoX / Llama); 0: interleaved pairs (GPT-J)
  float scale;           // cos and sin are multiplied by it (YaRN's attention factor; 1 otherwise)
  uint has_freq_rows;    // 1: token t uses row freq_rows[t] of the inv_freq table
  uint freq_table_rows;  // rows of inv_freq [rows, rotary_dim/2] (1 without freq_rows)
};

// y = a + b elementwise over n floats
VKCLS_STRUCT AddParams {
  uint n;
};

// y[t, f] = act(x[t, f]) * x[t, F + f]   (x: [T, 2F], y: [T, F])
VKCLS_STRUCT GluParams {
  uint tokens;
  uint features;
  uint act;
};

// y[s, :] = pool over the rows of sequence s (cu_seqlens[s] .. cu_seqlens[s+1]).
#define POOL_FIRST 0
#define POOL_MEAN 1
#define POOL_LAST 2
VKCLS_STRUCT PoolParams {
  uint num_seqs;
  uint hidden;
  uint mode;
};

#ifdef __cplusplus
#undef VKCLS_STRUCT
}  // namespace vkcls::params
#endif
#endif
