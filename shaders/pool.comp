#version 450
#extension GL_GOOGLE_include_directive : require
// y[s, h] = hidden[first row of s, h] | mean over the rows of s | hidden[last row, h]
// where output s pools rows ranges[s, 0] .. ranges[s, 1] (half-open) of hidden: the rows
// of one sequence, of one row (a pooled token), or any other range.
// hidden: [T, H] f32; ranges: [S, 2] i32; y: [S, H] f32.
// An empty (or malformed) range gives zeros; rows are clamped to [0, T).
// One invocation per element of y; mean sums in fp32 over the rows.
#include "common.glsl"
#include "grid.glsl"

#define WG 256
layout(local_size_x = WG) in;

layout(std430, binding = 0) readonly buffer Hidden { float hidden[]; };
layout(std430, binding = 1) readonly buffer Ranges { int ranges[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Push { PoolParams p; };

void main() {
  uint i = group_index() * WG + gl_LocalInvocationID.x;
  if (i >= p.num_seqs * p.hidden) return;
  uint s = i / p.hidden, h = i % p.hidden;
  int total = int(uint(hidden.length()) / p.hidden);
  int b = clamp(ranges[2 * s], 0, total), e = clamp(ranges[2 * s + 1], 0, total);
  float v = 0.0;
  if (e > b) {
    if (p.mode == POOL_FIRST) {
      v = hidden[uint(b) * p.hidden + h];
    } else if (p.mode == POOL_LAST) {
      v = hidden[uint(e - 1) * p.hidden + h];
    } else {
      float sum = 0.0;
      for (int r = b; r < e; ++r) sum += hidden[uint(r) * p.hidden + h];
      v = sum / float(e - b);
    }
  }
  y[i] = v;
}
