#version 450
#extension GL_GOOGLE_include_directive : require
// LAYER_NORM: y = (v - mean) * rsqrt(var + eps) * gamma + beta
// RMS_NORM:   y = v * rsqrt(mean(v^2) + eps) * (gamma + gamma_offset)
// with v = x + residual (has_residual) or x. Statistics in fp32: two passes
// (mean, then variance of v - mean) for LayerNorm. One workgroup per row.
// x, residual, y: [rows, cols] f32; gamma, beta: [cols] f32.
// Absent optional buffers are bound to x / gamma and never read.
#include "common.glsl"
#include "grid.glsl"

#define WG 256
layout(local_size_x = WG) in;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer R { float res[]; };
layout(std430, binding = 2) readonly buffer G { float gamma[]; };
#ifdef LAYER_NORM
layout(std430, binding = 3) readonly buffer B { float beta[]; };
layout(std430, binding = 4) writeonly buffer Y { float y[]; };
#else
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
#endif
layout(push_constant) uniform Push { NormParams p; };

shared float red[WG];

float reduce_sum(float v) {
  uint l = gl_LocalInvocationID.x;
  red[l] = v;
  barrier();
  [[unroll]] for (uint s = WG / 2; s > 0; s >>= 1) {
    if (l < s) red[l] += red[l + s];
    barrier();
  }
  float r = red[0];
  barrier();
  return r;
}

float load(uint i) { return p.has_residual != 0 ? x[i] + res[i] : x[i]; }

void main() {
  uint row = group_index();
  if (row >= p.rows) return;  // uniform over the workgroup
  uint l = gl_LocalInvocationID.x;
  uint base = row * p.cols;
  float n = float(p.cols);

#ifdef LAYER_NORM
  float s = 0.0;
  for (uint c = l; c < p.cols; c += WG) s += load(base + c);
  float mean = reduce_sum(s) / n;
  float q = 0.0;
  for (uint c = l; c < p.cols; c += WG) {
    float d = load(base + c) - mean;
    q += d * d;
  }
  float rstd = inversesqrt(reduce_sum(q) / n + p.eps);
  for (uint c = l; c < p.cols; c += WG) {
    float b = p.has_beta != 0 ? beta[c] : 0.0;
    y[base + c] = (load(base + c) - mean) * rstd * gamma[c] + b;
  }
#else
  float q = 0.0;
  for (uint c = l; c < p.cols; c += WG) {
    float v = load(base + c);
    q += v * v;
  }
  float rrms = inversesqrt(reduce_sum(q) / n + p.eps);
  for (uint c = l; c < p.cols; c += WG) y[base + c] = load(base + c) * rrms * (gamma[c] + p.gamma_offset);
#endif
}
