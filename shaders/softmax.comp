#version 450
#extension GL_GOOGLE_include_directive : require
// Row softmax of v = x * scale + bias: y = exp(v - max v) / sum exp(v - max v).
// x, y: [rows, cols] f32 (y may alias x: each element is read, then written, by
// the same invocation). One workgroup of 256 per row; shared-memory reductions.
#include "common.glsl"
#include "grid.glsl"

#define WG 256
layout(local_size_x = WG) in;

layout(std430, binding = 0) readonly buffer X { float x[]; };  // [rows, cols]
layout(std430, binding = 1) buffer Y { float y[]; };           // [rows, cols]
layout(push_constant) uniform Push { SoftmaxParams p; };

shared float red[WG];

// Reduces red[] to red[0] with max (is_max) or sum; all invocations must call it.
float reduce(float v, bool is_max) {
  uint l = gl_LocalInvocationID.x;
  red[l] = v;
  barrier();
  [[unroll]] for (uint s = WG / 2; s > 0; s >>= 1) {
    if (l < s) red[l] = is_max ? max(red[l], red[l + s]) : red[l] + red[l + s];
    barrier();
  }
  float r = red[0];
  barrier();  // red[] is reused by the next reduction
  return r;
}

void main() {
  uint row = group_index();
  if (row >= p.rows) return;  // uniform over the workgroup
  uint l = gl_LocalInvocationID.x;
  uint base = row * p.cols;

  float m = -3.402823466e38;
  for (uint c = l; c < p.cols; c += WG) m = max(m, x[base + c] * p.scale + p.bias);
  m = reduce(m, true);

  float s = 0.0;
  for (uint c = l; c < p.cols; c += WG) s += exp(x[base + c] * p.scale + p.bias - m);
  s = reduce(s, false);

  float inv = 1.0 / s;
  for (uint c = l; c < p.cols; c += WG) y[base + c] = exp(x[base + c] * p.scale + p.bias - m) * inv;
}
