#version 450
#extension GL_GOOGLE_include_directive : require
// Rotary position embedding, in place. Head h of token t starts at element
// offset + t * row_stride + h * head_dim of x; its first rotary_dim elements are
// rotated in pairs (a, b) -> (a cos - b sin, b cos + a sin):
//   neox = 1: pairs (i, i + rotary_dim/2)    (GPT-NeoX, Llama: rotate halves)
//   neox = 0: pairs (2i, 2i + 1)             (GPT-J: interleaved)
// angle = positions[t] * inv_freq[i] in fp32 as Hugging Face computes it; inv_freq [rotary_dim/2]
// comes from the host (models/blocks.cpp: rope_inv_freq, with any rope_scaling applied), so its
// bits equal torch's: a device pow() a few ulp off moves angles near position 8k by 1e-3 rad.
// positions: [tokens] i32.
// One invocation per pair: tokens * num_heads * rotary_dim/2 of them.
#include "common.glsl"
#include "grid.glsl"

#define WG 256
layout(local_size_x = WG) in;

layout(std430, binding = 0) readonly buffer Positions { int positions[]; };
layout(std430, binding = 1) buffer X { float x[]; };
layout(std430, binding = 2) readonly buffer InvFreq { float inv_freq[]; };
layout(push_constant) uniform Push { RopeParams p; };

void main() {
  uint half_dim = p.rotary_dim / 2;
  uint i = group_index() * WG + gl_LocalInvocationID.x;
  if (i >= p.tokens * p.num_heads * half_dim) return;
  uint k = i % half_dim;
  uint th = i / half_dim;
  uint h = th % p.num_heads, t = th / p.num_heads;

  precise float angle = float(positions[t]) * inv_freq[k];
  // Reduce to [-pi, pi] (where GPU sin/cos are specified) with 2*pi split in
  // three parts; n * TWO_PI_HI is exact for |n| < 2^16.
  const float TWO_PI_HI = 6.28125;                // 8 significant bits
  const float TWO_PI_MID = 1.9353071693331003e-3;  // float(2*pi - HI)
  const float TWO_PI_LO = 1.0253131677018246e-11;  // 2*pi - HI - MID
  precise float n = round(angle * 0.15915494309189535);
  precise float r = (angle - n * TWO_PI_HI) - n * TWO_PI_MID;
  r -= n * TWO_PI_LO;
  float c = cos(r) * p.scale, s = sin(r) * p.scale;

  uint head = p.offset + t * p.row_stride + h * p.head_dim;
  uint ia = p.neox != 0 ? head + k : head + 2 * k;
  uint ib = p.neox != 0 ? head + k + half_dim : head + 2 * k + 1;
  float a = x[ia], b = x[ib];
  x[ia] = a * c - b * s;
  x[ib] = b * c + a * s;
}
