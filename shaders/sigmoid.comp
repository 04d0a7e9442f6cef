#version 450
#extension GL_GOOGLE_include_directive : require
// Elementwise y = sigmoid(x * scale + bias), stable for large |v|.
// x, y: [n] f32 with n = rows * cols (y may alias x). One invocation per element.
#include "common.glsl"
#include "grid.glsl"

#define WG 256
layout(local_size_x = WG) in;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) buffer Y { float y[]; };
layout(push_constant) uniform Push { SoftmaxParams p; };

void main() {
  uint i = group_index() * WG + gl_LocalInvocationID.x;
  if (i >= p.rows * p.cols) return;
  float v = x[i] * p.scale + p.bias;
  float e = exp(-abs(v));  // in (0, 1]: never overflows
  y[i] = v >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}
