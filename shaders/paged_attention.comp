#version 450
// Causal flash attention of a chunk's queries over keys and values read from the paged KV cache
// through each sequence's block table (the kv_write op put this chunk's own keys there first),
// so one kernel serves a one-shot pass (context_lens 0) and every chunk of a chunked prefill.
// One workgroup = BR query rows of one head of one sequence; keys stream through shared memory
// BC at a time with an online softmax (as attention.comp).
// Grid: x = query block, y = head, z = sequence. KV_F16: the caches hold fp16 (see kv_write.comp).
//   q row r of sequence s, head h: q[q_offset + (cu_seqlens[s] + r) * q_row_stride + h * D + d]
//   its position: context_lens[s] + r; key j (0 <= j <= position, position - j < window) at slot
//   block_tables[s * max_blocks + j / page_size] * page_size + j % page_size,
//   element slot * num_kv_heads * D + kv_head * D + d
//   out row: o[(cu_seqlens[s] + r) * o_row_stride + h * D + d]
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

#ifdef HEAD_DIM_256
const uint BR = 8, BC = 8, DMAX = 256;
#else
const uint BR = 16, BC = 16, DMAX = 128;
#endif
const uint THREADS = 128, OCOLS = THREADS / BR;
layout(local_size_x = THREADS) in;

layout(std430, binding = 0) readonly buffer Q { float q[]; };
#ifdef KV_F16  // fp16 pairs packed in uints (kv_write.comp)
layout(std430, binding = 1) readonly buffer KC { uint k_cache[]; };
layout(std430, binding = 2) readonly buffer VC { uint v_cache[]; };
float k_at(uint i) { return unpackHalf2x16(k_cache[i / 2])[i % 2]; }
float v_at(uint i) { return unpackHalf2x16(v_cache[i / 2])[i % 2]; }
#else
layout(std430, binding = 1) readonly buffer KC { float k_cache[]; };
layout(std430, binding = 2) readonly buffer VC { float v_cache[]; };
float k_at(uint i) { return k_cache[i]; }
float v_at(uint i) { return v_cache[i]; }
#endif
layout(std430, binding = 3) readonly buffer Cu { int cu_seqlens[]; };
layout(std430, binding = 4) readonly buffer Ctx { int context_lens[]; };
layout(std430, binding = 5) readonly buffer Tables { int block_tables[]; };
layout(std430, binding = 6) writeonly buffer O { float o[]; };
layout(push_constant) uniform PC { PagedAttentionParams p; };

shared float qs[BR][DMAX];
shared float ks[BC][DMAX + 1];
shared float vs[BC][DMAX];
shared float s[BR][BC];
shared float row_max[BR], row_sum[BR], row_alpha[BR];

const float MASKED = -3.0e38;

void main() {
  const uint t = gl_LocalInvocationID.x;
  const uint seq = gl_WorkGroupID.z, h = gl_WorkGroupID.y, q0 = gl_WorkGroupID.x * BR;
  const uint start = uint(cu_seqlens[seq]), len = uint(cu_seqlens[seq + 1]) - start;
  if (q0 >= len) return;  // the whole workgroup leaves together
  const uint ctx = uint(context_lens[seq]);
  const uint D = p.head_dim, W = p.num_kv_heads * D;
  const uint kvh = h / (p.num_heads / p.num_kv_heads);

  for (uint e = t; e < BR * D; e += THREADS) {
    uint r = e / D, d = e % D;
    qs[r][d] = q0 + r < len ? q[p.q_offset + (start + q0 + r) * p.q_row_stride + h * D + d] * p.scale : 0.0;
  }
  if (t < BR) {
    row_max[t] = MASKED;
    row_sum[t] = 0.0;
  }
  const uint orow = t / OCOLS, odim = t % OCOLS;
  float acc[DMAX / OCOLS];
  for (uint i = 0; i < DMAX / OCOLS; ++i) acc[i] = 0.0;

  // absolute positions: this block's queries are ctx + q0 .. ctx + q_last
  const uint q_first = ctx + q0, q_last = ctx + min(len, q0 + BR) - 1;
  const uint k_end = q_last + 1;
  const uint k_begin = p.window != 0 && q_first + 1 > p.window ? q_first + 1 - p.window : 0;

  for (uint k0 = k_begin; k0 < k_end; k0 += BC) {
    barrier();
    for (uint e = t; e < BC * D; e += THREADS) {
      uint j = e / D, d = e % D, kj = k0 + j;
      bool ok = kj < k_end;
      uint slot = ok ? uint(block_tables[seq * p.max_blocks + kj / p.page_size]) * p.page_size +
                           kj % p.page_size
                     : 0;
      uint at = slot * W + kvh * D + d;
      ks[j][d] = ok ? k_at(at) : 0.0;
      vs[j][d] = ok ? v_at(at) : 0.0;
    }
    barrier();
    for (uint e = t; e < BR * BC; e += THREADS) {
      uint r = e / BC, j = e % BC;
      uint qi = ctx + q0 + r, kj = k0 + j;
      bool visible = q0 + r < len && kj <= qi && (p.window == 0 || qi - kj < p.window);
      float dot = 0.0;
      if (visible)
        for (uint d = 0; d < D; ++d) dot += qs[r][d] * ks[j][d];
      if (p.softcap > 0.0) dot = p.softcap * tanh(clamp(dot / p.softcap, -15.0, 15.0));
      s[r][j] = visible ? dot : MASKED;
    }
    barrier();
    if (t < BR) {
      float m_old = row_max[t], m_new = m_old;
      for (uint j = 0; j < BC; ++j) m_new = max(m_new, s[t][j]);
      float alpha = 1.0, sum = 0.0;
      if (m_new > MASKED) {
        alpha = m_old > MASKED ? exp(m_old - m_new) : 0.0;
        for (uint j = 0; j < BC; ++j) {
          float pj = s[t][j] > MASKED ? exp(s[t][j] - m_new) : 0.0;
          s[t][j] = pj;
          sum += pj;
        }
      } else {
        for (uint j = 0; j < BC; ++j) s[t][j] = 0.0;
      }
      row_max[t] = m_new;
      row_sum[t] = row_sum[t] * alpha + sum;
      row_alpha[t] = alpha;
    }
    barrier();
    const float alpha = row_alpha[orow];
    for (uint i = 0; i < DMAX / OCOLS; ++i) {
      uint d = odim + OCOLS * i;
      if (d < D) {
        float a = acc[i] * alpha;
        for (uint j = 0; j < BC; ++j) a += s[orow][j] * vs[j][d];
        acc[i] = a;
      }
    }
  }
  barrier();
  if (q0 + orow < len) {
    float l = row_sum[orow];
    float inv = l > 0.0 ? 1.0 / l : 0.0;
    for (uint i = 0; i < DMAX / OCOLS; ++i) {
      uint d = odim + OCOLS * i;
      if (d < D) o[(start + q0 + orow) * p.o_row_stride + h * D + d] = acc[i] * inv;
    }
  }
}
