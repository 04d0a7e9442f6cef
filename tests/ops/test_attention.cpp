// attention against a double-precision CPU reference: packed sequences of mixed
// lengths, head dims 32..128, grouped KV heads, causal, sliding window, fused qkv rows.
#include <fmt/format.h>

#include <cstdlib>
#include <string>

#include "tests/ops/op_test.h"

namespace vkcls::test {
namespace {

struct Case {
  std::vector<int> lens;
  uint32_t heads, kv_heads, head_dim;
  bool causal;
  uint32_t window;
  bool fused;  // q, k, v as column blocks of one [T, (H + 2 Hkv) * D] tensor
};

// out[t, h*D + d] = sum_j softmax_j(q_t . k_j * scale) v_j[d], over visible keys j of t's sequence
std::vector<double> ref_attention(const std::vector<float>& qkv, const Case& c, size_t T) {
  const uint32_t H = c.heads, Hk = c.kv_heads, D = c.head_dim;
  const size_t row = c.fused ? (H + 2 * Hk) * D : 0;
  auto at = [&](int which, size_t t, uint32_t h, uint32_t d) -> double {
    if (c.fused)
      return qkv[t * row + (which == 0 ? 0 : which == 1 ? H * D : (H + Hk) * D) + h * D + d];
    size_t q_size = T * H * D, k_size = T * Hk * D;
    size_t base = which == 0 ? 0 : which == 1 ? q_size : q_size + k_size;
    return qkv[base + t * (which == 0 ? H : Hk) * D + h * D + d];
  };
  std::vector<double> out(T * H * D, 0.0);
  double scale = 1.0 / std::sqrt(double(D));
  size_t start = 0;
  for (int len : c.lens) {
    for (int qi = 0; qi < len; ++qi)
      for (uint32_t h = 0; h < H; ++h) {
        uint32_t kh = h / (H / Hk);
        std::vector<double> w(len, 0.0);
        double mx = -INFINITY;
        std::vector<bool> vis(len);
        for (int kj = 0; kj < len; ++kj) {
          vis[kj] =
              (!c.causal || kj <= qi) && (c.window == 0 || uint32_t(std::abs(qi - kj)) < c.window);
          if (!vis[kj]) continue;
          double s = 0;
          for (uint32_t d = 0; d < D; ++d) s += at(0, start + qi, h, d) * at(1, start + kj, kh, d);
          w[kj] = s * scale;
          mx = std::max(mx, w[kj]);
        }
        double sum = 0;
        for (int kj = 0; kj < len; ++kj)
          sum += vis[kj] ? (w[kj] = std::exp(w[kj] - mx)) : (w[kj] = 0);
        for (uint32_t d = 0; d < D; ++d) {
          double acc = 0;
          for (int kj = 0; kj < len; ++kj) acc += w[kj] * at(2, start + kj, kh, d);
          out[(start + qi) * H * D + h * D + d] = acc / sum;
        }
      }
    start += len;
  }
  return out;
}

class Attention : public OpTest, public ::testing::WithParamInterface<Case> {};

TEST_P(Attention, MatchesReference) {
  const Case& c = GetParam();
  const char* kernel = std::getenv("VKCLS_ATTENTION");
  if (c.head_dim > 128 && kernel && std::string(kernel) == "tiled")
    GTEST_SKIP() << "the tiled kernel stops at head_dim 128 (AttentionRejectsBadArguments checks "
                    "it says so)";
  std::vector<int32_t> cu = {0};
  int max_len = 0;
  for (int l : c.lens) {
    cu.push_back(cu.back() + l);
    max_len = std::max(max_len, l);
  }
  const size_t T = cu.back();
  const uint32_t H = c.heads, Hk = c.kv_heads, D = c.head_dim;
  auto qkv = random_vector(T * (H + 2 * Hk) * D, 7 + D + T, -2.f, 2.f);
  Tensor tcu = upload_i32(cu, {int64_t(cu.size())});
  Tensor out = arena().alloc(DType::f32, {int64_t(T), int64_t(H * D)});
  ops::AttentionArgs a{.num_heads = H,
                       .num_kv_heads = Hk,
                       .head_dim = D,
                       .causal = c.causal,
                       .window = c.window,
                       .max_seqlen = uint32_t(max_len)};
  Recorder rec(ctx());
  if (c.fused) {
    Tensor t = upload_f32(qkv, {int64_t(T), int64_t((H + 2 * Hk) * D)});
    a.q_offset = 0;
    a.k_offset = H * D;
    a.v_offset = (H + Hk) * D;
    a.q_row_stride = a.kv_row_stride = (H + 2 * Hk) * D;
    ops::attention(ctx(), rec, t, t, t, tcu, out, a);
  } else {
    size_t qs = T * H * D, ks = T * Hk * D;
    Tensor tq = upload_f32({qkv.begin(), qkv.begin() + qs}, {int64_t(T), int64_t(H * D)});
    Tensor tk =
        upload_f32({qkv.begin() + qs, qkv.begin() + qs + ks}, {int64_t(T), int64_t(Hk * D)});
    Tensor tv = upload_f32({qkv.begin() + qs + ks, qkv.end()}, {int64_t(T), int64_t(Hk * D)});
    ops::attention(ctx(), rec, tq, tk, tv, tcu, out, a);
  }
  rec.submit_and_wait();
  // fp32 online softmax vs double: 1e-5 relative, 2e-6 absolute (outputs are O(1) averages of
  // values).
  EXPECT_TRUE(all_close(download_f32(out), ref_attention(qkv, c, T), 1e-5, 2e-6));
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  std::string lens;
  for (int l : c.lens) lens += fmt::format("_{}", l);
  return fmt::format("L{}_H{}kv{}_D{}{}{}{}", lens, c.heads, c.kv_heads, c.head_dim,
                     c.causal ? "_causal" : "", c.window ? fmt::format("_win{}", c.window) : "",
                     c.fused ? "_fused" : "");
}

INSTANTIATE_TEST_SUITE_P(
    Packed, Attention,
    ::testing::Values(
        Case{{1, 17, 128, 300}, 2, 2, 64, false, 0, true},  // BERT-like, fused qkv
        Case{{1, 17, 128, 300}, 4, 2, 32, true, 0, false},  // GQA, causal
        Case{{13, 40}, 2, 1, 80, false, 0, false},          // head dim 80, multi-query
        Case{{33, 7}, 3, 3, 96, true, 0, true},             // head dim 96
        Case{{129, 1}, 2, 2, 128, false, 0, false},         // head dim 128
        Case{{300, 5}, 2, 2, 32, false, 17, true},          // bidirectional local window
        Case{{300, 64}, 4, 1, 64, true, 40, false},         // causal sliding window, GQA 4:1
        Case{{1}, 1, 1, 32, true, 0, false},                // one token
        Case{{1000}, 1, 1, 64, false, 0, true},             // a long sequence
        Case{{70, 9, 33}, 16, 8, 128, true, 0, true},       // Qwen3-like: 16 x 128, 8 kv heads
        Case{{45, 8}, 4, 2, 256, true, 0, false},           // Gemma-like head dim 256
        Case{{23, 1, 12}, 2, 1, 256, false, 7, true},       // 256, window, multi-query
        Case{{19, 5}, 3, 3, 6, false, 0, false},            // head dim not a multiple of 4
        Case{{9}, 2, 2, 20, true, 3, true}),                // causal window, short
    case_name);

TEST_F(OpTest, AttentionRejectsBadArguments) {
  Tensor q = arena().alloc(DType::f32, {4, 64}), cu = upload_i32({0, 4}, {2});
  Recorder rec(ctx());
  ops::AttentionArgs a{.num_heads = 2, .num_kv_heads = 2, .head_dim = 32, .max_seqlen = 4};
  EXPECT_NO_THROW(ops::attention(ctx(), rec, q, q, q, cu, q, a));
  a.head_dim = 260;  // over every kernel's limit (CPU drivers: 256, the tiled kernel: 128)
  EXPECT_THROW(ops::attention(ctx(), rec, q, q, q, cu, q, a), std::invalid_argument);
  const char* kernel = std::getenv("VKCLS_ATTENTION");
  if (ctx().info().type != VK_PHYSICAL_DEVICE_TYPE_CPU ||
      (kernel && std::string(kernel) == "tiled")) {
    Tensor q2 = arena().alloc(DType::f32, {4, 512});
    a.head_dim = 256;
    EXPECT_THROW(ops::attention(ctx(), rec, q2, q2, q2, cu, q2, a), std::invalid_argument);
  }
  a.head_dim = 32;
  a.num_kv_heads = 3;
  EXPECT_THROW(ops::attention(ctx(), rec, q, q, q, cu, q, a), std::invalid_argument);
  rec.submit_and_wait();
}

}  // namespace
}  // namespace vkcls::test
