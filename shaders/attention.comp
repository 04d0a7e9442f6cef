#version 450
// Flash attention over packed variable-length sequences (no padding, no [seq, seq]
// buffer). One workgroup = BR query rows of one head of one sequence; keys and
// values stream through shared memory BC at a time with an online softmax.
// Grid: x = query block, y = head, z = sequence. head_dim <= 128, or <= 256 in the HEAD_DIM_256
// variant (Gemma), whose smaller tiles keep shared memory within 32 KiB.
//   q row t, head h: q[q_offset + t * q_row_stride + h * D + d]   (k, v likewise, kv head h / group)
//   out row t, head h: out[t * o_row_stride + h * D + d]
// Scores: (q * scale) . k, then softcap * tanh(score / softcap) when softcap > 0 (Gemma 2), then
// the causal / window mask.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

#ifdef HEAD_DIM_256
const uint BR = 8, BC = 8, DMAX = 256;
#else
const uint BR = 16, BC = 16, DMAX = 128;
#endif
const uint THREADS = 128, OCOLS = THREADS / BR;  // OCOLS threads share one output row
layout(local_size_x = THREADS) in;

layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer K { float k[]; };
layout(std430, binding = 2) readonly buffer V { float v[]; };
layout(std430, binding = 3) readonly buffer Cu { int cu_seqlens[]; };
layout(std430, binding = 4) writeonly buffer O { float o[]; };
layout(push_constant) uniform PC { AttentionParams p; };

shared float qs[BR][DMAX];
shared float ks[BC][DMAX + 1];  // +1: the score loop reads ks[j][d] across j
shared float vs[BC][DMAX];
shared float s[BR][BC];          // scores, then probabilities
shared float row_max[BR], row_sum[BR], row_alpha[BR];

const float MASKED = -3.0e38;  // a masked score; exp() of it is never taken

void main() {
  const uint t = gl_LocalInvocationID.x;
  const uint seq = gl_WorkGroupID.z, h = gl_WorkGroupID.y, q0 = gl_WorkGroupID.x * BR;
  const uint start = uint(cu_seqlens[seq]), len = uint(cu_seqlens[seq + 1]) - start;
  if (q0 >= len) return;  // whole workgroup leaves together: no barrier is skipped by some threads only
  const uint D = p.head_dim;
  const uint kvh = h / (p.num_heads / p.num_kv_heads);

  for (uint e = t; e < BR * D; e += THREADS) {
    uint r = e / D, d = e % D;
    qs[r][d] = q0 + r < len ? q[p.q_offset + (start + q0 + r) * p.q_row_stride + h * D + d] * p.scale : 0.0;
  }
  if (t < BR) {
    row_max[t] = MASKED;
    row_sum[t] = 0.0;
  }
  // this thread's slice of the output: row orow, dims odim + OCOLS * i
  const uint orow = t / OCOLS, odim = t % OCOLS;
  float acc[DMAX / OCOLS];
  for (uint i = 0; i < DMAX / OCOLS; ++i) acc[i] = 0.0;

  // keys this block can see
  const uint q_last = min(len, q0 + BR) - 1;
  uint k_end = p.causal != 0 ? q_last + 1 : len;
  if (p.window != 0) k_end = min(k_end, q_last + p.window);
  const uint k_begin = p.window != 0 && q0 + 1 > p.window ? q0 + 1 - p.window : 0;

  for (uint k0 = k_begin; k0 < k_end; k0 += BC) {
    barrier();  // previous tile fully consumed (and qs / row stats written on the first pass)
    for (uint e = t; e < BC * D; e += THREADS) {
      uint j = e / D, d = e % D;
      bool ok = k0 + j < k_end;
      uint row = p.kv_row_stride * (start + k0 + j) + kvh * D + d;
      ks[j][d] = ok ? k[p.k_offset + row] : 0.0;
      vs[j][d] = ok ? v[p.v_offset + row] : 0.0;
    }
    barrier();
    for (uint e = t; e < BR * BC; e += THREADS) {
      uint r = e / BC, j = e % BC;
      uint qi = q0 + r, kj = k0 + j;
      bool visible = qi < len && kj < k_end && (p.causal == 0 || kj <= qi) &&
                     (p.window == 0 || (qi > kj ? qi - kj : kj - qi) < p.window);
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
    float inv = l > 0.0 ? 1.0 / l : 0.0;  // a row that saw no key (cannot happen unmasked) stays 0
    for (uint i = 0; i < DMAX / OCOLS; ++i) {
      uint d = odim + OCOLS * i;
      if (d < D) o[(start + q0 + orow) * p.o_row_stride + h * D + d] = acc[i] * inv;
    }
  }
}
