#version 450
#extension GL_GOOGLE_include_directive : require
// y[t, h] = word[ids[t], h] * word_scale + pos[pos_ids[t], h] + type[type_ids[t], h]
// ids, pos_ids, type_ids: [tokens] i32; tables: [rows, hidden] f32 (f16 with TABLE_F16);
// y: [tokens, hidden] f32. One invocation per element of y.
// The word binding holds rows [word_row_begin, word_row_end) of the table: ids
// outside it add nothing (a later/earlier dispatch covers them; invalid ids give 0).
// accumulate = 0: write y (word part + pos + type); 1: add the word part into y.
// Position/type ids outside their table add nothing. Nothing is read out of bounds.
// Absent pos/type ids and tables are bound to ids / the word table and never read.
#include "common.glsl"
#include "grid.glsl"

#ifdef TABLE_F16
#extension GL_EXT_shader_16bit_storage : require
#define TABLE_T float16_t
#else
#define TABLE_T float
#endif

#define WG 256
layout(local_size_x = WG) in;

layout(std430, binding = 0) readonly buffer Ids { int ids[]; };
layout(std430, binding = 1) readonly buffer Word { TABLE_T word[]; };
layout(std430, binding = 2) readonly buffer PosIds { int pos_ids[]; };
layout(std430, binding = 3) readonly buffer Pos { TABLE_T pos[]; };
layout(std430, binding = 4) readonly buffer TypeIds { int type_ids[]; };
layout(std430, binding = 5) readonly buffer Type { TABLE_T type[]; };
layout(std430, binding = 6) buffer Y { float y[]; };
layout(push_constant) uniform Push { EmbedParams p; };

void main() {
  uint i = group_index() * WG + gl_LocalInvocationID.x;
  if (i >= p.tokens * p.hidden) return;
  uint t = i / p.hidden, h = i % p.hidden;

  float v = 0.0;
  int id = ids[t];
  uint bound_rows = uint(word.length()) / p.hidden;  // rows in this binding
  if (id >= int(p.word_row_begin) && id < int(p.word_row_end)) {
    uint r = uint(id) - p.word_row_begin;
    if (r < bound_rows) v = float(word[r * p.hidden + h]) * p.word_scale;
  }
  if (p.accumulate != 0) {
    y[i] += v;
    return;
  }
  if (p.has_pos != 0) {
    int r = pos_ids[t];
    if (r >= 0 && uint(r) < uint(pos.length()) / p.hidden) v += float(pos[uint(r) * p.hidden + h]);
  }
  if (p.has_type != 0) {
    int r = type_ids[t];
    if (r >= 0 && uint(r) < uint(type.length()) / p.hidden) v += float(type[uint(r) * p.hidden + h]);
  }
  y[i] = v;
}
