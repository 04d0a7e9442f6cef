// ops::glu (GeGLU with erf / tanh GELU, SwiGLU) against tests/ops/cpu_reference.cpp (double).
#include "tests/ops/cpu_reference.h"
#include "tests/ops/op_test.h"

namespace vkcls::test {
namespace {

class GluTest : public OpTest {
 protected:
  void check(int64_t tokens, int64_t features, ops::Act act, float range, uint32_t seed) {
    SCOPED_TRACE(testing::Message() << ops::act_name(act) << " tokens " << tokens << " features " << features
                                    << " x in +-" << range);
    auto xv = random_vector(tokens * 2 * features, seed, -range, range);
    Tensor x = upload_f32(xv, {tokens, 2 * features});
    Tensor y = arena().alloc(DType::f32, {tokens, features});
    Recorder rec(ctx());
    ops::glu(ctx(), rec, x, y, act);
    rec.submit_and_wait();
    // fp32: 1e-5 relative. GELU and SiLU go to 0 for negative x, where only an
    // absolute bound means anything: the erf of shaders/common.glsl is good to
    // ~1.2e-7 of erfc, and GELU-tanh's 1 + tanh(u) keeps nothing below ulp(1) = 6e-8
    // (as torch's fp32 formula): 0.5 * |x| * 6e-8 * |gate| <= 1e-6 * (range / 4)^2.
    double atol = 1e-6 * (range / 4) * (range / 4);
    EXPECT_TRUE(all_close(download_f32(y), ref_glu(xv, tokens, features, uint32_t(act)), 1e-5, atol));
  }
};

const std::pair<int64_t, int64_t> kShapes[] = {{1, 1}, {7, 13}, {13, 127}, {127, 129},
                                               {2000, 7}, {3, 1000}, {17, 3072}, {5, 4096}};

TEST_F(GluTest, GeluErf) {
  uint32_t seed = 1;
  for (auto [t, f] : kShapes) check(t, f, ops::Act::gelu_erf, 4.f, seed += 10);
  check(31, 257, ops::Act::gelu_erf, 8.f, 500);
}

TEST_F(GluTest, GeluTanh) {
  uint32_t seed = 100;
  for (auto [t, f] : kShapes) check(t, f, ops::Act::gelu_tanh, 4.f, seed += 10);
  check(31, 257, ops::Act::gelu_tanh, 8.f, 600);
}

TEST_F(GluTest, Silu) {
  uint32_t seed = 200;
  for (auto [t, f] : kShapes) check(t, f, ops::Act::silu, 4.f, seed += 10);
  check(31, 257, ops::Act::silu, 8.f, 700);
}

TEST_F(GluTest, OtherActivations) {
  check(13, 127, ops::Act::relu, 4.f, 800);
  check(13, 127, ops::Act::tanh, 4.f, 810);
  check(13, 127, ops::Act::none, 4.f, 820);
}

TEST_F(GluTest, BadShapesThrow) {
  Tensor x = arena().alloc(DType::f32, {4, 8}), x_odd = arena().alloc(DType::f32, {4, 7});
  Tensor y = arena().alloc(DType::f32, {4, 4}), y_bad = arena().alloc(DType::f32, {4, 8});
  Recorder rec(ctx());
  try {
    ops::glu(ctx(), rec, x, y_bad, ops::Act::silu);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("y is f32[4, 8]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ops::glu(ctx(), rec, x_odd, y, ops::Act::silu), std::invalid_argument);
  EXPECT_THROW(ops::glu(ctx(), rec, x, y, ops::Act(17)), std::invalid_argument);
  EXPECT_EQ(rec.num_dispatches(), 0u);
}

}  // namespace
}  // namespace vkcls::test
