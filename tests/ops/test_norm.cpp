// ops::layer_norm and ops::rms_norm against tests/ops/cpu_reference.cpp (double).
#include "tests/ops/cpu_reference.h"
#include "tests/ops/op_test.h"

namespace vkcls::test {
namespace {

struct Case {
  int64_t rows, cols;
  bool residual, beta;
  float offset = 0.f;  // added to x: a large mean tests the two-pass variance
};

class NormTest : public OpTest {
 protected:
  // fp32 statistics (tree sums over <= 4096 values) and rsqrt: 1e-5 relative;
  // outputs are O(1) and cross zero, so also 3e-6 absolute: a row mean of 10 is
  // only good to ~ulp(10) ~ 1e-6, which shifts every v - mean before the scaling
  // by rstd ~ 2 (lavapipe, worst seen: 1.3e-6 with mean 10, 2e-7 otherwise).
  static constexpr double kRtol = 1e-5, kAtol = 3e-6;

  void check_layer_norm(Case c, float eps, uint32_t seed) {
    SCOPED_TRACE(testing::Message()
                 << "layer_norm rows " << c.rows << " cols " << c.cols << " residual " << c.residual
                 << " beta " << c.beta << " offset " << c.offset);
    auto xv = random_vector(c.rows * c.cols, seed, -2.f + c.offset, 2.f + c.offset);
    auto rv = c.residual ? random_vector(c.rows * c.cols, seed + 1) : std::vector<float>{};
    auto gv = random_vector(c.cols, seed + 2, 0.5f, 1.5f);
    auto bv = c.beta ? random_vector(c.cols, seed + 3) : std::vector<float>{};
    Tensor x = upload_f32(xv, {c.rows, c.cols}), g = upload_f32(gv, {c.cols});
    Tensor r = c.residual ? upload_f32(rv, {c.rows, c.cols}) : Tensor{};
    Tensor b = c.beta ? upload_f32(bv, {c.cols}) : Tensor{};
    Tensor y = arena().alloc(DType::f32, {c.rows, c.cols});
    Recorder rec(ctx());
    ops::layer_norm(ctx(), rec, x, c.residual ? &r : nullptr, g, c.beta ? &b : nullptr, y, eps);
    rec.submit_and_wait();
    EXPECT_TRUE(all_close(download_f32(y), ref_layer_norm(xv, rv, gv, bv, c.rows, c.cols, eps),
                          kRtol, kAtol));
  }

  void check_rms_norm(Case c, float eps, float gamma_offset, uint32_t seed) {
    SCOPED_TRACE(testing::Message()
                 << "rms_norm rows " << c.rows << " cols " << c.cols << " residual " << c.residual
                 << " gamma_offset " << gamma_offset);
    auto xv = random_vector(c.rows * c.cols, seed, -2.f + c.offset, 2.f + c.offset);
    auto rv = c.residual ? random_vector(c.rows * c.cols, seed + 1) : std::vector<float>{};
    auto gv = random_vector(c.cols, seed + 2, -0.5f, 1.5f);
    Tensor x = upload_f32(xv, {c.rows, c.cols}), g = upload_f32(gv, {c.cols});
    Tensor r = c.residual ? upload_f32(rv, {c.rows, c.cols}) : Tensor{};
    Tensor y = arena().alloc(DType::f32, {c.rows, c.cols});
    Recorder rec(ctx());
    ops::rms_norm(ctx(), rec, x, c.residual ? &r : nullptr, g, y, eps, gamma_offset);
    rec.submit_and_wait();
    EXPECT_TRUE(all_close(download_f32(y),
                          ref_rms_norm(xv, rv, gv, c.rows, c.cols, eps, gamma_offset), kRtol,
                          kAtol));
  }
};

const Case kShapes[] = {
    {1, 1, false, false},
    {1, 7, true, true},
    {7, 13, false, true},
    {13, 127, true, false},
    {127, 129, true, true},
    {2000, 7, true, true},
    {3, 1000, true, true},
    {129, 768, true, true},
    {17, 1024, false, true},
    {9, 4096, true, true},
    // cols % 4 == 0: the CPU-driver kernel's vec4 rows (others take the workgroup kernel)
    {1, 4, true, true},
    {9, 12, false, true},
    {33, 36, true, false},
    {2000, 20, true, true},
    {1001, 384, true, true}};

TEST_F(NormTest, LayerNormOddShapes) {
  uint32_t seed = 1;
  for (Case c : kShapes) check_layer_norm(c, 1e-5f, seed += 10);
}

TEST_F(NormTest, LayerNormLargeMeanAndEps) {
  check_layer_norm({31, 768, true, true, 10.f}, 1e-12f, 500);  // BERT eps 1e-12
  check_layer_norm({7, 129, false, true, 0.f}, 0.5f, 510);     // a large eps must matter
  // A constant row: variance 0, so y = beta exactly (rsqrt(eps) * 0).
  std::vector<float> xv(5 * 64, 3.25f), gv(64, 2.f), bv = random_vector(64, 520);
  Tensor x = upload_f32(xv, {5, 64}), g = upload_f32(gv, {64}), b = upload_f32(bv, {64});
  Tensor y = arena().alloc(DType::f32, {5, 64});
  Recorder rec(ctx());
  ops::layer_norm(ctx(), rec, x, nullptr, g, &b, y, 1e-5f);
  rec.submit_and_wait();
  EXPECT_TRUE(all_close(download_f32(y), ref_layer_norm(xv, {}, gv, bv, 5, 64, 1e-5), 0, 1e-6));
}

TEST_F(NormTest, RmsNormOddShapes) {
  uint32_t seed = 1000;
  for (Case c : kShapes) check_rms_norm(c, 1e-6f, 0.f, seed += 10);
}

TEST_F(NormTest, RmsNormGemmaOffsetAndEps) {
  check_rms_norm({13, 1024, true, false}, 1e-6f, 1.f, 2000);  // Gemma: (1 + gamma)
  check_rms_norm({7, 129, false, false}, 0.5f, 0.f, 2010);    // a large eps must matter
}

TEST_F(NormTest, MoreRowsThanOneGridDimension) {
  check_layer_norm({70000, 5, true, true}, 1e-5f, 3000);
  check_rms_norm({66000, 3, false, false}, 1e-6f, 0.f, 3010);
  // the CPU-driver kernel takes 8 rows per workgroup: over 8 * 65535 rows
  check_layer_norm({530000, 8, true, true}, 1e-5f, 3020);
  check_rms_norm({530000, 8, true, false}, 1e-6f, 1.f, 3030);
}

TEST_F(NormTest, BadShapesThrow) {
  Tensor x = arena().alloc(DType::f32, {4, 8}), y = arena().alloc(DType::f32, {4, 8});
  Tensor g = arena().alloc(DType::f32, {8}), g7 = arena().alloc(DType::f32, {7});
  Tensor r = arena().alloc(DType::f32, {4, 9});
  Recorder rec(ctx());
  try {
    ops::layer_norm(ctx(), rec, x, nullptr, g7, nullptr, y, 1e-5f);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("gamma is f32[7]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ops::layer_norm(ctx(), rec, x, &r, g, nullptr, y, 1e-5f), std::invalid_argument);
  EXPECT_THROW(ops::layer_norm(ctx(), rec, x, nullptr, g, &g7, y, 1e-5f), std::invalid_argument);
  EXPECT_THROW(ops::rms_norm(ctx(), rec, x, nullptr, g, r, 1e-5f), std::invalid_argument);
  EXPECT_EQ(rec.num_dispatches(), 0u);
}

}  // namespace
}  // namespace vkcls::test
