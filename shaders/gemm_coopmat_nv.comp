#version 450
// y[M, N] = act(x[M, K] . w[N, K]^T + bias[N]) + residual[M, N] on tensor cores
// (VK_NV_cooperative_matrix: the cooperative-matrix extension Debian 12's glslang compiles).
// 64x64 tile of y per workgroup of 4 subgroups of 32; each subgroup owns a 32x32 quarter
// as 2x2 16x16 f32 accumulators. x (f32) is rounded to f16 on its way into shared
// memory; w is f16. The accumulators go through shared memory for the epilogue.
// The host uses it only with subgroup size 32 and a 16x16x16 f16 x f16 -> f32 shape,
// after a self-check against gemm.comp on the same device.
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 128) in;
layout(constant_id = 0) const uint ACT = ACT_NONE;
layout(constant_id = 1) const bool HAS_BIAS = false;
layout(constant_id = 2) const bool HAS_RESIDUAL = false;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float16_t w[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) readonly buffer Res { float residual[]; };
layout(std430, binding = 4) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC { GemmParams p; };

const uint BM = 64, BN = 64, BK = 32, THREADS = 128;
shared float16_t xs[BM * BK];  // [row][k]
shared float16_t ws[BN * BK];  // [col][k]: read column-major, it is w^T
shared float cs[BM * BN];

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;
  const uint sg = gl_SubgroupID;
  const uint sm = (sg / 2) * 32, sn = (sg % 2) * 32;

  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc[2][2];
  for (uint i = 0; i < 2; ++i)
    for (uint j = 0; j < 2; ++j) acc[i][j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);

  for (uint k0 = 0; k0 < p.K; k0 += BK) {
    for (uint e = tid; e < BM * BK; e += THREADS) {
      uint r = e / BK, k = k0 + e % BK;
      xs[e] = float16_t(m0 + r < p.M && k < p.K ? x[(m0 + r) * p.x_row_stride + k] : 0.0);
      ws[e] = n0 + r < p.N && k < p.K ? w[(n0 + r) * p.K + k] : float16_t(0.0);
    }
    barrier();
    for (uint kk = 0; kk < BK; kk += 16) {
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> a[2], b[2];
      for (uint i = 0; i < 2; ++i) coopMatLoadNV(a[i], xs, (sm + 16 * i) * BK + kk, BK, false);
      for (uint j = 0; j < 2; ++j) coopMatLoadNV(b[j], ws, (sn + 16 * j) * BK + kk, BK, true);
      for (uint i = 0; i < 2; ++i)
        for (uint j = 0; j < 2; ++j) acc[i][j] = coopMatMulAddNV(a[i], b[j], acc[i][j]);
    }
    barrier();
  }
  for (uint i = 0; i < 2; ++i)
    for (uint j = 0; j < 2; ++j) coopMatStoreNV(acc[i][j], cs, (sm + 16 * i) * BN + sn + 16 * j, BN, false);
  barrier();
  for (uint e = tid; e < BM * BN; e += THREADS) {
    const uint m = m0 + e / BN, n = n0 + e % BN;
    if (m >= p.M || n >= p.N) continue;
    float v = cs[e];
    if (HAS_BIAS) v += bias[n];
    v = act_apply(ACT, v);
    if (HAS_RESIDUAL) v += residual[m * p.y_row_stride + n];
    y[m * p.y_row_stride + n] = v;
  }
}
