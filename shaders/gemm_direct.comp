#version 450
// y[M, N] = act(x[M, K] . w[N, K]^T + bias[N]) + residual[M, N]
// For CPU Vulkan drivers (lavapipe): no shared memory and no barriers (which such
// drivers emulate at a high cost); each invocation computes a 4x4 block of y with
// vec4 loads straight from x and w rows, and the CPU caches do the tiling.
// Requires K % 4 == 0 (the host falls back to gemm.comp otherwise).
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 8, local_size_y = 8) in;
layout(constant_id = 0) const uint ACT = ACT_NONE;
layout(constant_id = 1) const bool HAS_BIAS = false;
layout(constant_id = 2) const bool HAS_RESIDUAL = false;

layout(std430, binding = 0) readonly buffer X { vec4 x[]; };
#ifdef W_F16
layout(std430, binding = 1) readonly buffer W { f16vec4 w[]; };
#else
layout(std430, binding = 1) readonly buffer W { vec4 w[]; };
#endif
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) readonly buffer Res { float residual[]; };
layout(std430, binding = 4) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC { GemmParams p; };

void main() {
  const uint n0 = gl_GlobalInvocationID.x * 4, m0 = gl_GlobalInvocationID.y * 4;
  if (n0 >= p.N || m0 >= p.M) return;
  const uint K4 = p.K / 4, xs = p.x_row_stride / 4;
  // rows past the edge repeat the last valid row; their results are not stored
  uint mr[4], nr[4];
  for (uint i = 0; i < 4; ++i) {
    mr[i] = min(m0 + i, p.M - 1);
    nr[i] = min(n0 + i, p.N - 1);
  }
  vec4 acc[4];
  for (uint i = 0; i < 4; ++i) acc[i] = vec4(0.0);
  for (uint k = 0; k < K4; ++k) {
    vec4 b0 = vec4(w[nr[0] * K4 + k]), b1 = vec4(w[nr[1] * K4 + k]);
    vec4 b2 = vec4(w[nr[2] * K4 + k]), b3 = vec4(w[nr[3] * K4 + k]);
    for (uint i = 0; i < 4; ++i) {
      vec4 a = x[mr[i] * xs + k];
      acc[i] += vec4(dot(a, b0), dot(a, b1), dot(a, b2), dot(a, b3));
    }
  }
  for (uint i = 0; i < 4; ++i) {
    const uint m = m0 + i;
    if (m >= p.M) break;
    for (uint j = 0; j < 4; ++j) {
      const uint n = n0 + j;
      if (n >= p.N) break;
      float v = acc[i][j];
      if (HAS_BIAS) v += bias[n];
      v = act_apply(ACT, v);
      if (HAS_RESIDUAL) v += residual[m * p.y_row_stride + n];
      y[m * p.y_row_stride + n] = v;
    }
  }
}
