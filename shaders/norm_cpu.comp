#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_samplerless_texture_functions : require
// LayerNorm / RMSNorm for CPU Vulkan drivers (lavapipe): no shared memory, no barriers.
// The same maths as norm.comp (two-pass fp32 statistics for LayerNorm):
//   LAYER_NORM: y = (v - mean) * rsqrt(var + eps) * gamma + beta
//   RMS_NORM:   y = v * rsqrt(mean(v^2) + eps) * (gamma + gamma_offset)
// with v = x + residual (has_residual) or x. One invocation per row: a workgroup of 8 lanes
// normalises 8 rows, each lane reading its row as texels (see gemm_cpu.comp for why lavapipe
// wants texel fetches in loops), so a row needs no cross-lane reduction. WIDTH 4: vec4
// texels (cols % 4 == 0, the host checks); WIDTH 1: scalar texels, any cols.
// x, residual, y: [rows, cols] f32; gamma, beta: [cols] f32.
// Absent optional inputs are bound to x / gamma and never read. Grid: 2-D over row blocks of 8.
#include "common.glsl"
#include "grid.glsl"

layout(local_size_x = 8) in;

#if WIDTH == 4
#define VT vec4
#define FETCH(T, i) texelFetch(T, i)
#define HSUM(v) (v.x + v.y + v.z + v.w)
#else
#define VT float
#define FETCH(T, i) texelFetch(T, i).x
#define HSUM(v) (v)
#endif


layout(binding = 0) uniform textureBuffer X;  // texels of WIDTH floats
layout(binding = 1) uniform textureBuffer R;  // (the same)
layout(binding = 2) uniform textureBuffer G;
#ifdef LAYER_NORM
layout(binding = 3) uniform textureBuffer B;
layout(std430, binding = 4) writeonly buffer Y { float y[]; };
#else
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
#endif
layout(push_constant) uniform Push { NormParams p; };

VT load(int t) { return p.has_residual != 0 ? FETCH(X, t) + FETCH(R, t) : FETCH(X, t); }

// y[o .. o + WIDTH) = v
void store(uint o, VT v) {
#if WIDTH == 4
  y[o] = v.x;
  y[o + 1] = v.y;
  y[o + 2] = v.z;
  y[o + 3] = v.w;
#else
  y[o] = v;
#endif
}

void main() {
  const uint row = group_index() * 8 + gl_LocalInvocationID.x;
  if (row >= p.rows) return;
  const int c4 = int(p.cols / WIDTH), base = int(row) * c4;  // texels per row, first texel
  const float n = float(p.cols);

#ifdef LAYER_NORM
  VT s = VT(0.0);
  for (int c = 0; c < c4; ++c) s += load(base + c);
  const float mean = HSUM(s) / n;
  VT q = VT(0.0);
  for (int c = 0; c < c4; ++c) {
    const VT d = load(base + c) - mean;
    q += d * d;
  }
  const float rstd = inversesqrt(HSUM(q) / n + p.eps);
  for (int c = 0; c < c4; ++c) {
    const VT b = p.has_beta != 0 ? FETCH(B, c) : VT(0.0);
    store(uint(base + c) * WIDTH, (load(base + c) - mean) * rstd * FETCH(G, c) + b);
  }
#else
  VT q = VT(0.0);
  for (int c = 0; c < c4; ++c) {
    const VT v = load(base + c);
    q += v * v;
  }
  const float rrms = inversesqrt(HSUM(q) / n + p.eps);
  for (int c = 0; c < c4; ++c) store(uint(base + c) * WIDTH, load(base + c) * rrms * (FETCH(G, c) + p.gamma_offset));
#endif
}
