// gemm against a double-precision CPU reference: odd shapes, both weight dtypes,
// every epilogue, bias and residual.
#include <fmt/format.h>

#include "tests/ops/op_test.h"

namespace vkcls::test {
namespace {

double ref_act(ops::Act a, double v) {
  switch (a) {
    case ops::Act::gelu_erf:
      return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
    case ops::Act::gelu_tanh:
      return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    case ops::Act::tanh:
      return std::tanh(v);
    case ops::Act::silu:
      return v / (1 + std::exp(-v));
    case ops::Act::relu:
      return v > 0 ? v : 0;
    case ops::Act::none:
      return v;
  }
  return v;
}

// y[M, N] = act(x[M, K] . w[N, K]^T + b) + r
std::vector<double> ref_gemm(const std::vector<float>& x, const std::vector<float>& w,
                             const std::vector<float>* b, const std::vector<float>* r, int M, int N,
                             int K, ops::Act act) {
  std::vector<double> y(size_t(M) * N);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double s = 0;
      for (int k = 0; k < K; ++k) s += double(x[size_t(m) * K + k]) * w[size_t(n) * K + k];
      if (b) s += (*b)[n];
      s = ref_act(act, s);
      if (r) s += (*r)[size_t(m) * N + n];
      y[size_t(m) * N + n] = s;
    }
  return y;
}

struct Shape {
  int M, N, K;
};

class Gemm : public OpTest, public ::testing::WithParamInterface<std::tuple<Shape, DType>> {};

TEST_P(Gemm, MatchesReferenceWithBiasAndGelu) {
  auto [s, dt] = GetParam();
  auto x = random_vector(size_t(s.M) * s.K, 10 + s.M);
  auto w = random_vector(size_t(s.N) * s.K, 20 + s.N, -0.5f, 0.5f);
  auto b = random_vector(s.N, 30);
  if (dt == DType::f16) w = round_to_f16(w);  // the reference sees what the device stores
  Tensor tx = upload_f32(x, {s.M, s.K}), tw = upload_f32(w, {s.N, s.K}, dt),
         tb = upload_f32(b, {s.N});
  Tensor ty = arena().alloc(DType::f32, {s.M, s.N});
  Recorder rec(ctx());
  ops::gemm(ctx(), rec, tx, tw, ty, {.bias = &tb, .act = ops::Act::gelu_erf});
  rec.submit_and_wait();
  // fp32 accumulation over K terms of size ~0.25: 1e-5 relative plus a K-scaled absolute floor.
  // (f16 weights are rounded in the reference too, so the same tolerance holds.)
  EXPECT_TRUE(all_close(download_f32(ty),
                        ref_gemm(x, w, &b, nullptr, s.M, s.N, s.K, ops::Act::gelu_erf), 1e-5,
                        2e-6 * std::sqrt(double(s.K))));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Gemm,
    ::testing::Combine(
        ::testing::Values(Shape{1, 1, 1}, Shape{7, 13, 5}, Shape{13, 7, 129}, Shape{127, 129, 64},
                          Shape{129, 127, 33}, Shape{1000, 96, 32}, Shape{3, 1030, 17},
                          Shape{64, 64, 1024}, Shape{300, 384, 384},
                          // M <= 8 (the CPU kernel's 8-row tile), K % 4 == 0 (its vec4 loads)
                          Shape{1, 3, 4}, Shape{5, 1030, 64}, Shape{8, 77, 36},
                          Shape{130, 200, 768}),
        ::testing::Values(DType::f32, DType::f16)),
    [](const auto& info) {
      const Shape& s = std::get<0>(info.param);
      return fmt::format("M{}_N{}_K{}_{}", s.M, s.N, s.K, dtype_name(std::get<1>(info.param)));
    });

class GemmEpilogue : public OpTest, public ::testing::WithParamInterface<ops::Act> {};

TEST_P(GemmEpilogue, EveryActivationWithResidual) {
  const int M = 37, N = 70, K = 48;
  auto x = random_vector(M * K, 1, -2, 2), w = random_vector(N * K, 2), b = random_vector(N, 3),
       r = random_vector(M * N, 4);
  Tensor tx = upload_f32(x, {M, K}), tw = upload_f32(w, {N, K}), tb = upload_f32(b, {N}),
         tr = upload_f32(r, {M, N});
  Tensor ty = arena().alloc(DType::f32, {M, N});
  Recorder rec(ctx());
  ops::gemm(ctx(), rec, tx, tw, ty, {.bias = &tb, .residual = &tr, .act = GetParam()});
  rec.submit_and_wait();
  // 1e-5 relative; the absolute floor covers the erf/tanh approximations (~1e-7) near zero.
  EXPECT_TRUE(all_close(download_f32(ty), ref_gemm(x, w, &b, &r, M, N, K, GetParam()), 1e-5, 1e-5));
}

INSTANTIATE_TEST_SUITE_P(Acts, GemmEpilogue,
                         ::testing::Values(ops::Act::none, ops::Act::gelu_erf, ops::Act::gelu_tanh,
                                           ops::Act::tanh, ops::Act::silu, ops::Act::relu),
                         [](const auto& info) { return std::string(ops::act_name(info.param)); });

TEST_F(OpTest, GemmResidualMayAliasOutputAndNoBias) {
  const int M = 65, N = 33, K = 20;
  auto x = random_vector(M * K, 5), w = random_vector(N * K, 6), r = random_vector(M * N, 7);
  Tensor tx = upload_f32(x, {M, K}), tw = upload_f32(w, {N, K}), ty = upload_f32(r, {M, N});
  Recorder rec(ctx());
  ops::gemm(ctx(), rec, tx, tw, ty, {.residual = &ty});  // y += x . w^T
  rec.submit_and_wait();
  EXPECT_TRUE(all_close(download_f32(ty), ref_gemm(x, w, nullptr, &r, M, N, K, ops::Act::none),
                        1e-5, 1e-5));
}

// A w over the binding limit runs as column blocks (limit 70000: 256 columns a block in f32,
// K = 64 being 256-byte rows, 512 in f16; limit 5000: blocks of a few columns, not a multiple
// of the kernels' tiles), the last one narrow. Bias, an activation and a residual that aliases
// y check that every block reads and writes its own columns.
class GemmColumnBlocks : public OpTest,
                         public ::testing::WithParamInterface<std::tuple<DType, int>> {};

TEST_P(GemmColumnBlocks, MatchesReferenceAcrossBlocks) {
  const auto [dt, limit] = GetParam();
  const int M = 37, N = 1030, K = 64;
  auto x = random_vector(size_t(M) * K, 41), w = random_vector(size_t(N) * K, 42, -0.5f, 0.5f),
       b = random_vector(N, 43), r = random_vector(size_t(M) * N, 44);
  if (dt == DType::f16) w = round_to_f16(w);
  Tensor tx = upload_f32(x, {M, K}), tw = upload_f32(w, {N, K}, dt), tb = upload_f32(b, {N}),
         ty = upload_f32(r, {M, N});
  MaxBindingBytes scoped(limit);
  Recorder rec(ctx());
  ops::gemm(ctx(), rec, tx, tw, ty, {.bias = &tb, .residual = &ty, .act = ops::Act::gelu_tanh});
  // at least as many blocks as the limit divides w into
  EXPECT_GE(rec.num_dispatches(), (tw.bytes + limit - 1) / limit);
  rec.submit_and_wait();
  EXPECT_TRUE(all_close(download_f32(ty), ref_gemm(x, w, &b, &r, M, N, K, ops::Act::gelu_tanh),
                        1e-5, 1e-5));
}

INSTANTIATE_TEST_SUITE_P(Blocks, GemmColumnBlocks,
                         ::testing::Combine(::testing::Values(DType::f32, DType::f16),
                                            ::testing::Values(70000, 5000)),
                         [](const auto& info) {
                           return fmt::format("{}_limit{}", dtype_name(std::get<0>(info.param)),
                                              std::get<1>(info.param));
                         });

// No override: a w one row block larger than the device's maxStorageBufferRange itself
// (lavapipe: 128 MiB), the case of a 3072 x 24576 fp32 MLP.
TEST_F(OpTest, GemmWeightLargerThanMaxStorageBufferRange) {
  const uint64_t range = ctx().info().max_storage_buffer_range;
  const int M = 3, K = 1024;
  const int64_t N64 = int64_t(range / (K * 4)) + 300;
  if (uint64_t(N64) * K * 4 > (1ull << 31))
    GTEST_SKIP() << "maxStorageBufferRange " << range << " needs a w of more than 2 GiB here";
  const int N = int(N64);
  auto x = random_vector(size_t(M) * K, 51), w = random_vector(size_t(N) * K, 52, -0.5f, 0.5f),
       b = random_vector(N, 53);
  Tensor tx = upload_f32(x, {M, K}), tb = upload_f32(b, {N});
  Tensor tw = arena().alloc_large(DType::f32, {N, K});
  ctx().upload(tw, w.data(), w.size() * 4);
  ASSERT_GT(tw.bytes, range);
  Tensor ty = arena().alloc(DType::f32, {M, N});
  Recorder rec(ctx());
  ops::gemm(ctx(), rec, tx, tw, ty, {.bias = &tb});
  EXPECT_GE(rec.num_dispatches(), 2u);
  rec.submit_and_wait();
  EXPECT_TRUE(all_close(download_f32(ty), ref_gemm(x, w, &b, nullptr, M, N, K, ops::Act::none),
                        1e-5, 2e-6 * std::sqrt(double(K))));
}

TEST_F(OpTest, GemmRejectsBadShapes) {
  Tensor x = arena().alloc(DType::f32, {4, 8}), w = arena().alloc(DType::f32, {5, 9}),
         y = arena().alloc(DType::f32, {4, 5});
  Recorder rec(ctx());
  EXPECT_THROW(ops::gemm(ctx(), rec, x, w, y), std::invalid_argument);
  Tensor w2 = arena().alloc(DType::f32, {5, 8}), y2 = arena().alloc(DType::f32, {4, 6});
  EXPECT_THROW(ops::gemm(ctx(), rec, x, w2, y2), std::invalid_argument);
  Tensor xi = arena().alloc(DType::i32, {4, 8});
  EXPECT_THROW(ops::gemm(ctx(), rec, xi, w2, y), std::invalid_argument);
}

}  // namespace
}  // namespace vkcls::test

namespace vkcls::test {
namespace {

// Tensor cores where the device has VK_NV_cooperative_matrix (subgroup 32, 16x16x16 f16):
// odd shapes against the double reference, x rounded to f16 like the kernel does.
TEST_F(OpTest, GemmCooperativeMatrixWhereAvailable) {
  if (!ops::coopmat_usable(ctx()))
    GTEST_SKIP() << ctx().info().name
                 << " has no usable VK_NV_cooperative_matrix 16x16x16 f16 (lavapipe has none)";
  for (auto [M, N, K] :
       {std::tuple{1, 1, 16}, {7, 13, 40}, {129, 127, 96}, {300, 384, 384}, {1000, 96, 1024}}) {
    auto x = round_to_f16(random_vector(size_t(M) * K, 40 + M)),
         w = round_to_f16(random_vector(size_t(N) * K, 41));
    auto b = random_vector(N, 42);
    Tensor tx = upload_f32(x, {M, K}), tw = upload_f32(w, {N, K}, DType::f16),
           tb = upload_f32(b, {N});
    Tensor ty = arena().alloc(DType::f32, {M, N});
    Recorder rec(ctx());
    ops::gemm(ctx(), rec, tx, tw, ty, {.bias = &tb, .act = ops::Act::silu});
    rec.submit_and_wait();
    // inputs are exactly f16 here, products exact in f32: only accumulation order differs
    EXPECT_TRUE(all_close(download_f32(ty), ref_gemm(x, w, &b, nullptr, M, N, K, ops::Act::silu),
                          1e-4, 1e-4))
        << M << "x" << N << "x" << K;
  }
}

}  // namespace
}  // namespace vkcls::test
