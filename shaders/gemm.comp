#version 450
// y[M, N] = act(x[M, K] . w[N, K]^T + bias[N]) + residual[M, N]
// Portable tiled GEMM: a 64x64 tile of y per workgroup of 256 threads, each thread
// a 4x4 block; K is walked in steps of 16 through shared memory. x and w are both
// K-contiguous (PyTorch Linear layout), so both tiles load as rows of K.
// W_F16: w stored as fp16, converted on load; accumulation is always fp32.
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint ACT = ACT_NONE;
layout(constant_id = 1) const bool HAS_BIAS = false;
layout(constant_id = 2) const bool HAS_RESIDUAL = false;

layout(std430, binding = 0) readonly buffer X { float x[]; };
#ifdef W_F16
layout(std430, binding = 1) readonly buffer W { float16_t w[]; };
#else
layout(std430, binding = 1) readonly buffer W { float w[]; };
#endif
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) readonly buffer Res { float residual[]; };
layout(std430, binding = 4) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC { GemmParams p; };

const uint BM = 64, BN = 64, BK = 16;
shared float xs[BK][BM + 4];  // +4: rows of different k start in different banks
shared float ws[BK][BN + 4];

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;
  const uint tm = (tid / 16) * 4, tn = (tid % 16) * 4;  // this thread's 4x4 block in the tile
  // loader: thread -> (row lr of the tile, 4 consecutive k at lk)
  const uint lr = tid / 4, lk = (tid % 4) * 4;

  float acc[4][4];
  [[unroll]] for (uint i = 0; i < 4; ++i)
    [[unroll]] for (uint j = 0; j < 4; ++j) acc[i][j] = 0.0;

  for (uint k0 = 0; k0 < p.K; k0 += BK) {
    const uint gm = m0 + lr, gn = n0 + lr;
    [[unroll]] for (uint c = 0; c < 4; ++c) {
      const uint k = k0 + lk + c;
      xs[lk + c][lr] = (gm < p.M && k < p.K) ? x[gm * p.x_row_stride + k] : 0.0;
      ws[lk + c][lr] = (gn < p.N && k < p.K) ? float(w[gn * p.K + k]) : 0.0;
    }
    barrier();
    [[unroll]] for (uint k = 0; k < BK; ++k) {
      vec4 a = vec4(xs[k][tm], xs[k][tm + 1], xs[k][tm + 2], xs[k][tm + 3]);
      vec4 b = vec4(ws[k][tn], ws[k][tn + 1], ws[k][tn + 2], ws[k][tn + 3]);
      [[unroll]] for (uint i = 0; i < 4; ++i) {
        acc[i][0] += a[i] * b[0];
        acc[i][1] += a[i] * b[1];
        acc[i][2] += a[i] * b[2];
        acc[i][3] += a[i] * b[3];
      }
    }
    barrier();
  }

  [[unroll]] for (uint i = 0; i < 4; ++i) {
    const uint m = m0 + tm + i;
    if (m >= p.M) continue;
    [[unroll]] for (uint j = 0; j < 4; ++j) {
      const uint n = n0 + tn + j;
      if (n >= p.N) continue;
      float v = acc[i][j];
      if (HAS_BIAS) v += bias[n];
      v = act_apply(ACT, v);
      if (HAS_RESIDUAL) v += residual[m * p.y_row_stride + n];
      y[m * p.y_row_stride + n] = v;
    }
  }
}
