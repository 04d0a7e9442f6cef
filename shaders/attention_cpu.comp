#version 450
// Attention over packed variable-length sequences, for CPU Vulkan drivers (lavapipe): no
// shared memory, no barriers, no [seq, seq] buffer. The same semantics as attention.comp
// (cu_seqlens, grouped KV heads, causal, window, scale; see shaders/op_params.h).
//
// A workgroup is one subgroup of 8 lanes; lane l owns query row q0 + l of head h of
// sequence seq (grid: x = query block of 8, y = head, z = sequence), keeps that row of q
// (scaled) and of the output in local arrays, and runs an online softmax over the keys, 8 at
// a time: lane l fetches key row kb + l (vec4 texels), every lane gets each key's values by
// subgroupBroadcast, so one fetch feeds 8 query rows (see gemm_cpu.comp for why lavapipe
// wants texel fetches and broadcasts instead of storage-buffer loads in loops); the same for
// the value rows. head_dim is a multiple of 4, at most 256.
//
// lavapipe compiles a small local array indexed in a loop into a ladder of selects over all
// its elements (slow to compile, slow to run past 16 vec4s); 64 vec4s (head_dim 256) stay in
// memory. So the q and output rows are arrays of the maximum size for every head_dim, and
// the loops over head_dim run to p.head_dim (not a compile-time constant: unrolling 16-64
// iterations of per-lane stores makes LLVM take seconds for no gain at run time).
//   q row t, head h: q[q_offset + t * q_row_stride + h * D + d]   (k, v likewise, kv head h / group)
//   out row t, head h: out[t * o_row_stride + h * D + d]
// The host checks that offsets and strides are multiples of 4 (whole texels).
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 8) in;
const uint MAX_D4 = 64;  // head_dim 256 in vec4s

layout(binding = 0) uniform textureBuffer Q;  // vec4 texels
layout(binding = 1) uniform textureBuffer K;
layout(binding = 2) uniform textureBuffer V;
layout(std430, binding = 3) readonly buffer Cu { int cu_seqlens[]; };
layout(std430, binding = 4) writeonly buffer O { float o[]; };
layout(push_constant) uniform PC { AttentionParams p; };

const float MASKED = -3.0e38;  // a masked score; exp() of it is never taken

void main() {
  const uint lane = gl_SubgroupInvocationID;
  const uint seq = gl_WorkGroupID.z, h = gl_WorkGroupID.y, q0 = gl_WorkGroupID.x * 8;
  const uint start = uint(cu_seqlens[seq]), len = uint(cu_seqlens[seq + 1]) - start;
  if (q0 >= len) return;
  const uint kvh = h / (p.num_heads / p.num_kv_heads);
  const uint qi = q0 + lane;  // this lane's query position in the sequence
  const bool q_valid = qi < len;

  const uint D = p.head_dim, d4_end = D / 4;
  vec4 qv[MAX_D4], ov[MAX_D4];  // this lane's query row (scaled) and output row
  const int q_texel = int((p.q_offset + (start + min(qi, len - 1)) * p.q_row_stride + h * D) / 4);
  for (uint d = 0; d < d4_end; ++d) {
    qv[d] = texelFetch(Q, q_texel + int(d)) * p.scale;
    ov[d] = vec4(0.0);
  }
  float row_max = MASKED, row_sum = 0.0;

  // keys any query of this block can see
  const uint q_last = min(len, q0 + 8) - 1;
  uint k_end = p.causal != 0 ? q_last + 1 : len;
  if (p.window != 0) k_end = min(k_end, q_last + p.window);
  const uint k_begin = p.window != 0 && q0 + 1 > p.window ? q0 + 1 - p.window : 0;

  for (uint kb = k_begin; kb < k_end; kb += 8) {
    // this lane fetches key / value row kb + lane (rows past the end repeat the last; masked below)
    const uint kv_row = start + min(kb + lane, len - 1);
    const int k_texel = int((p.k_offset + kv_row * p.kv_row_stride + kvh * D) / 4);
    const int v_texel = int((p.v_offset + kv_row * p.kv_row_stride + kvh * D) / 4);

    float s[8];  // s[j]: score of this lane's query against key kb + j
    [[unroll]] for (uint j = 0; j < 8; ++j) s[j] = 0.0;
    for (uint d = 0; d < d4_end; ++d) {
      const vec4 kt = texelFetch(K, k_texel + int(d));
      [[unroll]] for (uint c = 0; c < 4; ++c) {
        const float qc = qv[d][c];
#define ATT_SCORE(J) s[J] = fma(qc, subgroupBroadcast(kt[c], J), s[J]);
        ATT_SCORE(0) ATT_SCORE(1) ATT_SCORE(2) ATT_SCORE(3) ATT_SCORE(4) ATT_SCORE(5) ATT_SCORE(6) ATT_SCORE(7)
#undef ATT_SCORE
      }
    }
    float m_new = row_max;
    [[unroll]] for (uint j = 0; j < 8; ++j) {
      const uint kj = kb + j;
      const bool visible = q_valid && kj < k_end && (p.causal == 0 || kj <= qi) &&
                           (p.window == 0 || (qi > kj ? qi - kj : kj - qi) < p.window);
      s[j] = visible ? s[j] : MASKED;
      m_new = max(m_new, s[j]);
    }
    // online softmax: rescale what was accumulated to the new row maximum
    const float alpha = m_new > MASKED && row_max > MASKED ? exp(row_max - m_new) : (m_new > MASKED ? 0.0 : 1.0);
    float block_sum = 0.0;
    [[unroll]] for (uint j = 0; j < 8; ++j) {
      s[j] = s[j] > MASKED ? exp(s[j] - m_new) : 0.0;
      block_sum += s[j];
    }
    row_sum = row_sum * alpha + block_sum;
    row_max = m_new;
    for (uint d = 0; d < d4_end; ++d) {
      const vec4 vt = texelFetch(V, v_texel + int(d));
      vec4 acc = ov[d] * alpha;
      [[unroll]] for (uint c = 0; c < 4; ++c) {
#define ATT_VALUE(J) acc[c] = fma(s[J], subgroupBroadcast(vt[c], J), acc[c]);
        ATT_VALUE(0) ATT_VALUE(1) ATT_VALUE(2) ATT_VALUE(3) ATT_VALUE(4) ATT_VALUE(5) ATT_VALUE(6) ATT_VALUE(7)
#undef ATT_VALUE
      }
      ov[d] = acc;
    }
  }
  if (!q_valid) return;
  const float inv = row_sum > 0.0 ? 1.0 / row_sum : 0.0;  // a row that saw no key stays 0
  const uint out_base = (start + qi) * p.o_row_stride + h * D;
  for (uint d = 0; d < d4_end; ++d) {
    const vec4 r = ov[d] * inv;
    for (uint c = 0; c < 4; ++c) o[out_base + 4 * d + c] = r[c];
  }
}
