#version 450
// Paged attention (paged_attention.comp's semantics: a chunk's queries over every earlier key of
// their sequence, read from the KV cache through the block table) for CPU Vulkan drivers: the
// scheme of attention_cpu.comp (a subgroup of 8 lanes, lane l owns query row q0 + l, key and
// value rows fetched as vec4 texels, one per lane, shared by subgroupBroadcast). Query r of
// sequence s sits at position context_lens[s] + r; key j at slot
// block_tables[s * max_blocks + j / page_size] * page_size + j % page_size, texel
// (slot * num_kv_heads * D + kv_head * D) / 4. head_dim is a multiple of 4, at most 256.
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 8) in;
const uint MAX_D4 = 64;  // head_dim 256 in vec4s

layout(binding = 0) uniform textureBuffer Q;  // vec4 texels
layout(binding = 1) uniform textureBuffer K;  // the layer's k_cache
layout(binding = 2) uniform textureBuffer V;
layout(std430, binding = 3) readonly buffer Cu { int cu_seqlens[]; };
layout(std430, binding = 4) readonly buffer Ctx { int context_lens[]; };
layout(std430, binding = 5) readonly buffer Tables { int block_tables[]; };
layout(std430, binding = 6) writeonly buffer O { float o[]; };
layout(push_constant) uniform PC { PagedAttentionParams p; };

const float MASKED = -3.0e38;  // a masked score; exp() of it is never taken

void main() {
  const uint lane = gl_SubgroupInvocationID;
  const uint seq = gl_WorkGroupID.z, h = gl_WorkGroupID.y, q0 = gl_WorkGroupID.x * 8;
  const uint start = uint(cu_seqlens[seq]), len = uint(cu_seqlens[seq + 1]) - start;
  if (q0 >= len) return;
  const uint kvh = h / (p.num_heads / p.num_kv_heads);
  const uint ctx = uint(context_lens[seq]);
  const uint qi = ctx + q0 + lane;  // this lane's query position in the sequence
  const bool q_valid = q0 + lane < len;

  const uint D = p.head_dim, d4_end = D / 4, W = p.num_kv_heads * D;
  vec4 qv[MAX_D4], ov[MAX_D4];  // this lane's query row (scaled) and output row
  const int q_texel = int((p.q_offset + (start + min(q0 + lane, len - 1)) * p.q_row_stride + h * D) / 4);
  for (uint d = 0; d < d4_end; ++d) {
    qv[d] = texelFetch(Q, q_texel + int(d)) * p.scale;
    ov[d] = vec4(0.0);
  }
  float row_max = MASKED, row_sum = 0.0;

  // keys any query of this block can see (absolute positions)
  const uint q_first = ctx + q0, q_last = ctx + min(len, q0 + 8) - 1;
  const uint k_end = q_last + 1;
  const uint k_begin = p.window != 0 && q_first + 1 > p.window ? q_first + 1 - p.window : 0;

  for (uint kb = k_begin; kb < k_end; kb += 8) {
    // this lane fetches key / value row kb + lane (rows past the end repeat the last; masked below)
    const uint kj_lane = min(kb + lane, k_end - 1);
    const uint slot = uint(block_tables[seq * p.max_blocks + kj_lane / p.page_size]) * p.page_size +
                      kj_lane % p.page_size;
    const int k_texel = int((slot * W + kvh * D) / 4);
    const int v_texel = k_texel;

    float s[8];  // s[j]: score of this lane's query against key kb + j
    [[unroll]] for (uint j = 0; j < 8; ++j) s[j] = 0.0;
    for (uint d = 0; d < d4_end; ++d) {
      const vec4 kt = texelFetch(K, k_texel + int(d));
      [[unroll]] for (uint c = 0; c < 4; ++c) {
        const float qc = qv[d][c];
#define ATT_SCORE(J) s[J] = fma(qc, subgroupBroadcast(kt[c], J), s[J]);
        ATT_SCORE(0) ATT_SCORE(1) ATT_SCORE(2) ATT_SCORE(3) ATT_SCORE(4) ATT_SCORE(5) ATT_SCORE(6) ATT_SCORE(7)
#undef ATT_SCORE
      }
    }
    float m_new = row_max;
    [[unroll]] for (uint j = 0; j < 8; ++j) {
      const uint kj = kb + j;
      const bool visible = q_valid && kj < k_end && kj <= qi && (p.window == 0 || qi - kj < p.window);
      if (p.softcap > 0.0) s[j] = p.softcap * tanh(clamp(s[j] / p.softcap, -15.0, 15.0));  // Gemma 2
      s[j] = visible ? s[j] : MASKED;
      m_new = max(m_new, s[j]);
    }
    // online softmax: rescale what was accumulated to the new row maximum
    const float alpha = m_new > MASKED && row_max > MASKED ? exp(row_max - m_new) : (m_new > MASKED ? 0.0 : 1.0);
    float block_sum = 0.0;
    [[unroll]] for (uint j = 0; j < 8; ++j) {
      s[j] = s[j] > MASKED ? exp(s[j] - m_new) : 0.0;
      block_sum += s[j];
    }
    row_sum = row_sum * alpha + block_sum;
    row_max = m_new;
    for (uint d = 0; d < d4_end; ++d) {
      const vec4 vt = texelFetch(V, v_texel + int(d));
      vec4 acc = ov[d] * alpha;
      [[unroll]] for (uint c = 0; c < 4; ++c) {
#define ATT_VALUE(J) acc[c] = fma(s[J], subgroupBroadcast(vt[c], J), acc[c]);
        ATT_VALUE(0) ATT_VALUE(1) ATT_VALUE(2) ATT_VALUE(3) ATT_VALUE(4) ATT_VALUE(5) ATT_VALUE(6) ATT_VALUE(7)
#undef ATT_VALUE
      }
      ov[d] = acc;
    }
  }
  if (!q_valid) return;
  const float inv = row_sum > 0.0 ? 1.0 / row_sum : 0.0;  // a row that saw no key stays 0
  const uint out_base = (start + q0 + lane) * p.o_row_stride + h * D;
  for (uint d = 0; d < d4_end; ++d) {
    const vec4 r = ov[d] * inv;
    for (uint c = 0; c < 4; ++c) o[out_base + 4 * d + c] = r[c];
  }
}
