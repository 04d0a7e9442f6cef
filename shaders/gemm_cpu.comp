#version 450
// y[M, N] = act(x[M, K] . w[N, K]^T + bias[N]) + residual[M, N], for CPU Vulkan drivers.
//
// lavapipe runs a subgroup (8 invocations with 256-bit AVX) as the lanes of SIMD registers.
// Inside a loop every storage-buffer load becomes 8 scalar loads with a bounds-check
// branch each, uniform address or not (Mesa 25.0), while a texelFetch of a vec4 texel is
// one vectorised fetch for all lanes; shared memory and barriers are emulated and slow.
// So this kernel reads x and w as vec4 texel buffers, uses no shared memory, and shares
// loads across the subgroup instead: the workgroup is one subgroup of 8 lanes computing a
// tile of ROWS x 16 outputs. Per step of 4 k:
//   - lane l fetches x[m0 + 8r + l][4k..4k+3] (one texel per 8 rows), and every lane gets
//     row i's value by subgroupBroadcast (a register shuffle, no memory);
//   - lane l fetches w[n0 + l][4k..] and w[n0 + 8 + l][4k..], its own two columns;
//   - 4 * ROWS * 2 multiply-adds per lane into ROWS x 2 accumulators.
// lavapipe (Mesa 25.0, LLVM 15) splits fma() into a multiply and an add; a * b + c is the same.
// Grid: x = ceil(M / ROWS) row blocks (fastest, so consecutive workgroups reuse the same
// w rows from cache), y = ceil(N / 16) column blocks. Requires K % 4 == 0 and x row
// stride % 4 == 0 (the host checks). Rows and columns past the edge repeat the last valid
// one; their results are not stored.
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

#ifndef ROWS
#define ROWS 16
#endif
#define ROW_GROUPS (ROWS / 8)
#define COLS 2  // columns per lane: 16 per workgroup

layout(local_size_x = 8) in;
layout(constant_id = 0) const uint ACT = ACT_NONE;
layout(constant_id = 1) const bool HAS_BIAS = false;
layout(constant_id = 2) const bool HAS_RESIDUAL = false;

layout(binding = 0) uniform textureBuffer X;  // x as vec4 texels (f32)
layout(binding = 1) uniform textureBuffer W;  // w as vec4 texels (f32 or f16: the view converts)
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) readonly buffer Res { float residual[]; };
layout(std430, binding = 4) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC { GemmParams p; };

void main() {
  const uint lane = gl_SubgroupInvocationID;
  const uint m0 = gl_WorkGroupID.x * ROWS, n0 = gl_WorkGroupID.y * 8 * COLS;
  const uint K4 = p.K / 4, xs4 = p.x_row_stride / 4;
  int xrow[ROW_GROUPS], wrow[COLS];  // first texel of the row this lane fetches
  [[unroll]] for (uint r = 0; r < ROW_GROUPS; ++r) xrow[r] = int(min(m0 + 8 * r + lane, p.M - 1) * xs4);
  [[unroll]] for (uint j = 0; j < COLS; ++j) wrow[j] = int(min(n0 + 8 * j + lane, p.N - 1) * K4);

  float acc[ROWS][COLS];  // acc[i][j]: y[m0 + i, n0 + 8j + lane]
  [[unroll]] for (uint i = 0; i < ROWS; ++i)
    [[unroll]] for (uint j = 0; j < COLS; ++j) acc[i][j] = 0.0;

  for (uint k = 0; k < K4; ++k) {
    vec4 xv[ROW_GROUPS], wv[COLS];
    [[unroll]] for (uint r = 0; r < ROW_GROUPS; ++r) xv[r] = texelFetch(X, xrow[r] + int(k));
    [[unroll]] for (uint j = 0; j < COLS; ++j) wv[j] = texelFetch(W, wrow[j] + int(k));
    [[unroll]] for (uint c = 0; c < 4; ++c) {
      [[unroll]] for (uint r = 0; r < ROW_GROUPS; ++r) {
        // subgroupBroadcast needs a constant lane: one line per lane of the row group
#define GEMM_ROW(L)                                                                          \
  {                                                                                          \
    const float xb = subgroupBroadcast(xv[r][c], L);                                         \
    [[unroll]] for (uint j = 0; j < COLS; ++j) acc[8 * r + L][j] = fma(xb, wv[j][c], acc[8 * r + L][j]); \
  }
        GEMM_ROW(0) GEMM_ROW(1) GEMM_ROW(2) GEMM_ROW(3) GEMM_ROW(4) GEMM_ROW(5) GEMM_ROW(6) GEMM_ROW(7)
#undef GEMM_ROW
      }
    }
  }

  [[unroll]] for (uint j = 0; j < COLS; ++j) {
    const uint n = n0 + 8 * j + lane;
    if (n >= p.N) continue;
    const float b = HAS_BIAS ? bias[n] : 0.0;
    [[unroll]] for (uint i = 0; i < ROWS; ++i) {
      const uint m = m0 + i;
      if (m >= p.M) break;
      float v = act_apply(ACT, acc[i][j] + b);
      if (HAS_RESIDUAL) v += residual[m * p.y_row_stride + n];
      y[m * p.y_row_stride + n] = v;
    }
  }
}
