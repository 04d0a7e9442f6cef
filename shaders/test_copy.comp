#version 450
// Test-only: y[i] = x[i] + 1 for i < n. Used by the runtime tests to provoke
// hazards and bad bindings that the validation layer must catch.
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC { uint n; };

void main() {
  uint i = gl_GlobalInvocationID.x;
  if (i < n) y[i] = x[i] + 1.0;
}
