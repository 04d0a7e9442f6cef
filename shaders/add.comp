#version 450
#extension GL_GOOGLE_include_directive : require
// Elementwise y = a + b; a, b, y: [n] f32 (y may alias a or b). One invocation per element.
// Gemma 2 adds a normalised branch to the residual stream: x += norm(attn(x)).
#include "common.glsl"
#include "grid.glsl"

#define WG 256
layout(local_size_x = WG) in;

layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Push { AddParams p; };

void main() {
  uint i = group_index() * WG + gl_LocalInvocationID.x;
  if (i >= p.n) return;
  y[i] = a[i] + b[i];
}
