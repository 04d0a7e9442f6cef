#version 450
#extension GL_GOOGLE_include_directive : require
// New tokens' keys and values into their KV-cache slots (paged KV memory, runtime/kv_cache.h).
//   k row t: k[k_offset + t * src_row_stride + e], e < row_width  (v likewise; k and v may be
//   the same fused qkv buffer)
//   k_cache row slot_mapping[t]: k_cache[slot_mapping[t] * row_width + e]
// One invocation per (token, element); KV_F16: the caches hold fp16 pairs packed in uints
// (packHalf2x16: no 16-bit storage feature needed), one invocation per (token, pair).
#include "common.glsl"
#include "grid.glsl"

#define WG 256
layout(local_size_x = WG) in;

layout(std430, binding = 0) readonly buffer K { float k[]; };
layout(std430, binding = 1) readonly buffer V { float v[]; };
layout(std430, binding = 2) readonly buffer Slots { int slot_mapping[]; };
#ifdef KV_F16
layout(std430, binding = 3) writeonly buffer KC { uint k_cache[]; };
layout(std430, binding = 4) writeonly buffer VC { uint v_cache[]; };
const uint PER = 2;  // elements per invocation
#else
layout(std430, binding = 3) writeonly buffer KC { float k_cache[]; };
layout(std430, binding = 4) writeonly buffer VC { float v_cache[]; };
const uint PER = 1;
#endif
layout(push_constant) uniform Push { KvWriteParams p; };

void main() {
  uint i = group_index() * WG + gl_LocalInvocationID.x;
  const uint row = p.row_width / PER;
  if (i >= p.tokens * row) return;
  uint t = i / row, e = (i % row) * PER;
  uint dst = uint(slot_mapping[t]) * p.row_width + e;
  uint src = t * p.src_row_stride + e;
#ifdef KV_F16
  k_cache[dst / 2] = packHalf2x16(vec2(k[p.k_offset + src], k[p.k_offset + src + 1]));
  v_cache[dst / 2] = packHalf2x16(vec2(v[p.v_offset + src], v[p.v_offset + src + 1]));
#else
  k_cache[dst] = k[p.k_offset + src];
  v_cache[dst] = v[p.v_offset + src];
#endif
}
