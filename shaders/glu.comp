#version 450
#extension GL_GOOGLE_include_directive : require
// Gated linear unit: y[t, f] = act(x[t, f]) * x[t, F + f]
// x: [tokens, 2F] f32, y: [tokens, F] f32 (GeGLU: gelu, SwiGLU: silu).
// One invocation per element of y.
#include "common.glsl"
#include "grid.glsl"

#define WG 256
layout(local_size_x = WG) in;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Push { GluParams p; };

void main() {
  uint i = group_index() * WG + gl_LocalInvocationID.x;
  if (i >= p.tokens * p.features) return;
  uint t = i / p.features, f = i % p.features;
  uint xi = t * 2 * p.features + f;
  y[i] = act_apply(p.act, x[xi]) * x[xi + p.features];
}
