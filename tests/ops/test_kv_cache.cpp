// kv_write and paged_attention (paged KV memory) against a double-precision CPU reference over
// the same block tables: pages shuffled through the pool, chunks that start inside a page,
// grouped KV heads, sliding windows crossing chunk and page boundaries, soft-capped scores,
// head dims 32..256, fused qkv rows.
#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "tests/ops/op_test.h"

namespace vkcls::test {
namespace {

struct PagedCase {
  std::vector<int> context, chunk;  // per sequence: tokens already cached, tokens in this chunk
  uint32_t heads, kv_heads, head_dim, page_size;
  uint32_t window = 0;
  float softcap = 0;
  float scale = 0;
  bool fused_q = false;  // q as the first columns of a [T, (H + 2 Hkv) * D] qkv tensor
  bool f16 = false;      // an fp16 cache (the reference reads the same rounded values)
};

float round_half(float x) {
  return half_to_float(float_to_half(x));
}

struct PagedData {
  int64_t pages = 0, max_blocks = 0, T = 0;
  std::vector<float> q;                   // [T, q_row]
  std::vector<float> k_cache, v_cache;    // [pages * page_size, Hkv * D]
  std::vector<int32_t> tables, cu = {0};  // [S, max_blocks], [S + 1]
  std::vector<std::vector<float>> k, v;   // per sequence: every key / value row, position order
};

PagedData make_data(const PagedCase& c, uint32_t seed) {
  const uint32_t W = c.kv_heads * c.head_dim, P = c.page_size;
  PagedData d;
  const size_t S = c.context.size();
  for (size_t s = 0; s < S; ++s) {
    int64_t blocks = (c.context[s] + c.chunk[s] + P - 1) / P;
    d.max_blocks = std::max(d.max_blocks, blocks);
    d.pages += blocks;
  }
  d.pages += 3;  // a few pages nobody uses
  std::vector<int32_t> order(size_t(d.pages));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(seed));
  d.k_cache = random_vector(size_t(d.pages) * P * W, seed + 1);  // garbage where unused
  d.v_cache = random_vector(size_t(d.pages) * P * W, seed + 2);
  d.tables.assign(S * size_t(d.max_blocks), 0);
  size_t next = 0;
  for (size_t s = 0; s < S; ++s) {
    const int total = c.context[s] + c.chunk[s];
    d.k.push_back(random_vector(size_t(total) * W, seed + 10 + uint32_t(s)));
    d.v.push_back(random_vector(size_t(total) * W, seed + 50 + uint32_t(s)));
    for (int j = 0; j < total; ++j) {
      if (j % int(P) == 0) d.tables[s * size_t(d.max_blocks) + size_t(j) / P] = order[next++];
      const size_t slot = size_t(d.tables[s * size_t(d.max_blocks) + size_t(j) / P]) * P + j % P;
      std::copy_n(d.k[s].begin() + int64_t(j) * W, W, d.k_cache.begin() + int64_t(slot * W));
      std::copy_n(d.v[s].begin() + int64_t(j) * W, W, d.v_cache.begin() + int64_t(slot * W));
    }
    d.T += c.chunk[s];
    d.cu.push_back(int32_t(d.T));
  }
  const uint32_t q_row = c.fused_q ? (c.heads + 2 * c.kv_heads) * c.head_dim : c.heads * c.head_dim;
  d.q = random_vector(size_t(d.T) * q_row, seed + 99);
  if (c.f16)
    for (auto* v : {&d.k_cache, &d.v_cache})
      for (float& x : *v) x = round_half(x);
  if (c.f16)
    for (auto& rows : {&d.k, &d.v})
      for (auto& seq : *rows)
        for (float& x : seq) x = round_half(x);
  return d;
}

// out[t, h*D + d] for chunk row t of sequence s at position context[s] + r: softmax over keys
// 0 ..= position (within the window) of (q . k) * scale, soft-capped, times v
std::vector<double> ref_paged(const PagedCase& c, const PagedData& d) {
  const uint32_t H = c.heads, Hk = c.kv_heads, D = c.head_dim, W = Hk * D;
  const uint32_t q_row = c.fused_q ? (H + 2 * Hk) * D : H * D;
  const double scale = c.scale != 0 ? double(c.scale) : 1.0 / std::sqrt(double(D));
  std::vector<double> out(size_t(d.T) * H * D, 0.0);
  for (size_t s = 0; s < c.context.size(); ++s)
    for (int r = 0; r < c.chunk[s]; ++r) {
      const size_t t = size_t(d.cu[s] + r);
      const int pos = c.context[s] + r;
      for (uint32_t h = 0; h < H; ++h) {
        const uint32_t kh = h / (H / Hk);
        std::vector<double> w;
        std::vector<int> keys;
        double mx = -INFINITY;
        for (int j = 0; j <= pos; ++j) {
          if (c.window && pos - j >= int(c.window)) continue;
          double dot = 0;
          for (uint32_t e = 0; e < D; ++e)
            dot += double(d.q[t * q_row + h * D + e]) * scale * d.k[s][size_t(j) * W + kh * D + e];
          if (c.softcap > 0) dot = c.softcap * std::tanh(dot / c.softcap);
          w.push_back(dot);
          keys.push_back(j);
          mx = std::max(mx, dot);
        }
        double sum = 0;
        for (double& x : w) sum += (x = std::exp(x - mx));
        for (size_t i = 0; i < keys.size(); ++i)
          for (uint32_t e = 0; e < D; ++e)
            out[t * H * D + h * D + e] += w[i] / sum * d.v[s][size_t(keys[i]) * W + kh * D + e];
      }
    }
  return out;
}

class PagedAttention : public OpTest, public ::testing::WithParamInterface<PagedCase> {};

TEST_P(PagedAttention, MatchesReferenceOverBlockTables) {
  const PagedCase& c = GetParam();
  PagedData d = make_data(c, 7);
  const uint32_t H = c.heads, Hk = c.kv_heads, D = c.head_dim, W = Hk * D;
  const int64_t S = int64_t(c.context.size()), slots = d.pages * c.page_size;
  const uint32_t q_row = c.fused_q ? (H + 2 * Hk) * D : H * D;
  Tensor q = upload_f32(d.q, {d.T, q_row});
  const DType cache_dt = c.f16 ? DType::f16 : DType::f32;
  Tensor kc = upload_f32(d.k_cache, {slots, W}, cache_dt),
         vc = upload_f32(d.v_cache, {slots, W}, cache_dt);
  Tensor cu = upload_i32(d.cu, {S + 1});
  std::vector<int32_t> ctx_lens(c.context.begin(), c.context.end());
  Tensor cl = upload_i32(ctx_lens, {S});
  Tensor tables = upload_i32(d.tables, {S, d.max_blocks});
  Tensor out = arena().alloc(DType::f32, {d.T, int64_t(H) * D});
  const int max_chunk = *std::max_element(c.chunk.begin(), c.chunk.end());
  Recorder rec(ctx());
  ops::paged_attention(ctx(), rec, q, kc, vc, cu, cl, tables, out,
                       {.num_heads = H,
                        .num_kv_heads = Hk,
                        .head_dim = D,
                        .q_row_stride = c.fused_q ? q_row : 0,
                        .page_size = c.page_size,
                        .window = c.window,
                        .scale = c.scale,
                        .softcap = c.softcap,
                        .max_chunk = uint32_t(max_chunk)});
  rec.submit_and_wait();
  std::vector<float> got = download_f32(out);
  std::vector<double> want = ref_paged(c, d);
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
  EXPECT_LT(worst, 2e-5) << "largest error";
}

INSTANTIATE_TEST_SUITE_P(
    Ops, PagedAttention,
    ::testing::Values(
        // one-shot (no context), several sequences, dense rows
        PagedCase{{0, 0, 0}, {1, 17, 40}, 4, 4, 32, 16},
        // chunks after cached tokens, starting inside a page, grouped KV heads
        PagedCase{{16, 5, 37}, {16, 30, 3}, 8, 2, 64, 16},
        // small pages, a long context, a sliding window crossing chunk and page boundaries
        PagedCase{{100, 3}, {20, 9}, 4, 1, 32, 4, 24},
        // soft-capped scores with a scale of its own (Gemma 2), fused qkv rows
        PagedCase{{33, 0}, {7, 50}, 4, 2, 128, 16, 0, 30.f, 0.0625f, true},
        // head_dim 256 (the d256 variant), window 1 (a token sees only itself)
        PagedCase{{9}, {12}, 2, 1, 256, 8, 1},
        PagedCase{{0, 64}, {64, 1}, 2, 2, 256, 16, 0, 0, 0, true},
        // fp16 caches (beside fp16 weights): head dims 64 and 256, a window, fused rows
        PagedCase{{16, 5, 37}, {16, 30, 3}, 8, 2, 64, 16, 0, 0, 0, false, true},
        PagedCase{{40}, {25}, 2, 1, 256, 16, 10, 0, 0, true, true}));

// The fp16 cache: values rounded to half (packHalf2x16), each in its slot, pairs intact.
TEST_F(OpTest, KvWriteToAnF16CacheRoundsToHalf) {
  const uint32_t W = 8, T = 5;
  const int64_t slots = 16;
  std::vector<float> k = random_vector(size_t(T) * W, 21), v = random_vector(size_t(T) * W, 22);
  std::vector<int32_t> slot = {9, 0, 15, 4, 7};
  Tensor tk = upload_f32(k, {T, W}), tv = upload_f32(v, {T, W});
  Tensor sm = upload_i32(slot, {T});
  std::vector<float> zeros(size_t(slots) * W, 0.f);
  Tensor kc = upload_f32(zeros, {slots, W}, DType::f16),
         vc = upload_f32(zeros, {slots, W}, DType::f16);
  Recorder rec(ctx());
  ops::kv_write(ctx(), rec, tk, tv, sm, kc, vc, {.row_width = W});
  rec.submit_and_wait();
  std::vector<uint16_t> hk(size_t(slots) * W), hv(size_t(slots) * W);
  ctx().download(kc, hk.data(), hk.size() * 2);
  ctx().download(vc, hv.data(), hv.size() * 2);
  for (uint32_t t = 0; t < T; ++t)
    for (uint32_t e = 0; e < W; ++e) {
      const size_t at = size_t(slot[t]) * W + e;
      EXPECT_NEAR(half_to_float(hk[at]), k[t * W + e], 1e-3) << t << " " << e;
      EXPECT_NEAR(half_to_float(hv[at]), v[t * W + e], 1e-3) << t << " " << e;
    }
  EXPECT_EQ(hk[size_t(1) * W], 0) << "a slot nobody wrote changed";
}

TEST_F(OpTest, KvWriteMovesRowsToTheirSlots) {
  // fused rows [T, q | k | v] with k at 24, v at 40; 16 value rows into shuffled slots
  const uint32_t W = 16, row = 56, T = 9;
  const int64_t slots = 32;
  std::vector<float> qkv = random_vector(size_t(T) * row, 3);
  std::vector<int32_t> slot(T);
  std::vector<int32_t> all(slots);
  std::iota(all.begin(), all.end(), 0);
  std::shuffle(all.begin(), all.end(), std::mt19937(5));
  std::copy_n(all.begin(), T, slot.begin());
  std::vector<float> before = random_vector(size_t(slots) * W, 4);
  Tensor x = upload_f32(qkv, {T, row});
  Tensor sm = upload_i32(slot, {T});
  Tensor kc = upload_f32(before, {slots, W}), vc = upload_f32(before, {slots, W});
  Recorder rec(ctx());
  ops::kv_write(ctx(), rec, x, x, sm, kc, vc,
                {.row_width = W, .k_offset = 24, .v_offset = 40, .row_stride = row});
  rec.submit_and_wait();
  std::vector<float> k = download_f32(kc), v = download_f32(vc);
  std::vector<float> want_k = before, want_v = before;
  for (uint32_t t = 0; t < T; ++t)
    for (uint32_t e = 0; e < W; ++e) {
      want_k[size_t(slot[t]) * W + e] = qkv[t * row + 24 + e];
      want_v[size_t(slot[t]) * W + e] = qkv[t * row + 40 + e];
    }
  EXPECT_EQ(k, want_k);
  EXPECT_EQ(v, want_v);
}

// A sequence run in chunks through kv_write + paged_attention gives the one-pass ops::attention
// (causal) rows: the op-level form of "chunked prefill equals one pass".
TEST_F(OpTest, ChunksThroughTheCacheEqualOnePassAttention) {
  const uint32_t H = 4, Hk = 2, D = 32, W = Hk * D, row = (H + 2 * Hk) * D, P = 16;
  const int n = 75;
  std::vector<float> qkv = random_vector(size_t(n) * row, 11);
  Tensor all = upload_f32(qkv, {n, row});
  Tensor cu_all = upload_i32({0, n}, {2});
  Tensor one = arena().alloc(DType::f32, {n, int64_t(H) * D});
  const ops::AttentionArgs aa{.num_heads = H,
                              .num_kv_heads = Hk,
                              .head_dim = D,
                              .k_offset = H * D,
                              .v_offset = (H + Hk) * D,
                              .q_row_stride = row,
                              .kv_row_stride = row,
                              .causal = true,
                              .max_seqlen = uint32_t(n)};
  Recorder rec(ctx());
  ops::attention(ctx(), rec, all, all, all, cu_all, one, aa);
  rec.submit_and_wait();
  std::vector<float> want = download_f32(one);

  const int64_t pages = 8;
  std::vector<int32_t> table = {5, 2, 7, 0, 3};  // 75 tokens: 5 pages of 16
  Tensor kc = arena().alloc(DType::f32, {pages * P, W}),
         vc = arena().alloc(DType::f32, {pages * P, W});
  Tensor tables = upload_i32(table, {1, 5});
  std::vector<float> got;
  const std::vector<int> bounds = {0, 7, 16, 40, 41, 64, n};  // chunks of 7, 9, 24, 1, 23, 11
  for (size_t c = 0; c + 1 < bounds.size(); ++c) {
    const int begin = bounds[c], end = bounds[c + 1];
    const int len = end - begin;
    std::vector<float> part(qkv.begin() + int64_t(begin) * row, qkv.begin() + int64_t(end) * row);
    std::vector<int32_t> slots;
    for (int t = begin; t < end; ++t)
      slots.push_back(table[size_t(t) / P] * int32_t(P) + t % int(P));
    Tensor x = upload_f32(part, {len, row});
    Tensor sm = upload_i32(slots, {len});
    Tensor cu = upload_i32({0, len}, {2}), cl = upload_i32({begin}, {1});
    Tensor out = arena().alloc(DType::f32, {len, int64_t(H) * D});
    ops::kv_write(ctx(), rec, x, x, sm, kc, vc,
                  {.row_width = W, .k_offset = H * D, .v_offset = (H + Hk) * D, .row_stride = row});
    ops::paged_attention(ctx(), rec, x, kc, vc, cu, cl, tables, out,
                         {.num_heads = H,
                          .num_kv_heads = Hk,
                          .head_dim = D,
                          .q_row_stride = row,
                          .page_size = P,
                          .max_chunk = uint32_t(len)});
    rec.submit_and_wait();
    std::vector<float> o = download_f32(out);
    got.insert(got.end(), o.begin(), o.end());
  }
  ASSERT_EQ(got.size(), want.size());
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, double(std::abs(got[i] - want[i])));
  EXPECT_LT(worst, 1e-5);
}

}  // namespace
}  // namespace vkcls::test
