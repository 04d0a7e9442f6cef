// ops::softmax and ops::sigmoid against tests/ops/cpu_reference.cpp (double).
#include "tests/ops/cpu_reference.h"
#include "tests/ops/op_test.h"

namespace vkcls::test {
namespace {

struct Shape {
  int64_t rows, cols;
};

class SoftmaxTest : public OpTest {
 protected:
  // softmax of x * scale + bias for x uniform in [lo, hi]; y separate or in place.
  void check(Shape s, float scale, float bias, float lo, float hi, bool in_place, uint32_t seed) {
    SCOPED_TRACE(testing::Message() << "rows " << s.rows << " cols " << s.cols << " scale " << scale << " bias "
                                    << bias << (in_place ? " in place" : ""));
    auto xv = random_vector(s.rows * s.cols, seed, lo, hi);
    Tensor x = upload_f32(xv, {s.rows, s.cols});
    Tensor y = in_place ? x : arena().alloc(DType::f32, {s.rows, s.cols});
    Recorder rec(ctx());
    ops::softmax(ctx(), rec, x, y, scale, bias);
    rec.submit_and_wait();
    // fp32: exp of an argument rounded to fp32 (|v - max| up to ~200 here: rel error
    // ~ ulp(200) = 1.5e-5 for the smallest terms) and fp32 sums of up to 4096 terms:
    // 1e-5 relative, plus 1e-12 absolute for probabilities that underflow.
    EXPECT_TRUE(all_close(download_f32(y), ref_softmax(xv, s.rows, s.cols, scale, bias), 1e-5, 1e-12));
  }
};

TEST_F(SoftmaxTest, OddShapes) {
  uint32_t seed = 1;
  for (Shape s : {Shape{1, 1}, {1, 7}, {7, 13}, {13, 127}, {127, 129}, {3, 255}, {5, 257}, {2000, 7}, {129, 1000},
                  {61, 768}, {17, 1024}, {9, 4096}, {2, 32000}})
    check(s, 1.f, 0.f, -3.f, 3.f, false, seed++);
}

TEST_F(SoftmaxTest, ScaleAndBias) {
  // Attention-style scale; the bias cancels mathematically but must not break stability.
  check({13, 127}, 0.125f, 3.f, -8.f, 8.f, false, 11);
  check({7, 1000}, 2.f, -50.f, -2.f, 2.f, false, 12);
}

TEST_F(SoftmaxTest, LargeLogitsAreStable) {
  // exp(100) overflows fp32: correct only with the max subtracted.
  check({7, 129}, 1.f, 0.f, -100.f, 100.f, false, 21);
  check({3, 1024}, 1.f, 80.f, 0.f, 20.f, false, 22);
}

TEST_F(SoftmaxTest, InPlace) {
  check({127, 129}, 0.5f, 0.f, -4.f, 4.f, true, 31);
  check({3, 4096}, 1.f, 0.f, -4.f, 4.f, true, 32);
}

TEST_F(SoftmaxTest, MoreRowsThanOneGridDimension) {
  // 70000 workgroups > maxComputeWorkGroupCount[0] = 65535: the 2-D grid.
  check({70000, 3}, 1.f, 0.f, -2.f, 2.f, false, 41);
}

TEST_F(SoftmaxTest, BadShapesThrow) {
  Tensor x = arena().alloc(DType::f32, {4, 8});
  Tensor y = arena().alloc(DType::f32, {4, 9});
  Tensor xi = arena().alloc(DType::i32, {4, 8});
  Recorder rec(ctx());
  try {
    ops::softmax(ctx(), rec, x, y);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("y is f32[4, 9]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ops::softmax(ctx(), rec, xi, x), std::invalid_argument);
  EXPECT_THROW(ops::sigmoid(ctx(), rec, x, y), std::invalid_argument);
  EXPECT_EQ(rec.num_dispatches(), 0u);
}

class SigmoidTest : public OpTest {
 protected:
  void check(Shape s, float scale, float bias, float lo, float hi, bool in_place, uint32_t seed) {
    SCOPED_TRACE(testing::Message() << "rows " << s.rows << " cols " << s.cols << " scale " << scale << " bias "
                                    << bias);
    auto xv = random_vector(s.rows * s.cols, seed, lo, hi);
    Tensor x = upload_f32(xv, {s.rows, s.cols});
    Tensor y = in_place ? x : arena().alloc(DType::f32, {s.rows, s.cols});
    Recorder rec(ctx());
    ops::sigmoid(ctx(), rec, x, y, scale, bias);
    rec.submit_and_wait();
    // fp32: 1e-5 relative; 1e-37 absolute lets exp(v) for v < -85 flush to zero.
    EXPECT_TRUE(all_close(download_f32(y), ref_sigmoid(xv, scale, bias), 1e-5, 1e-37));
  }
};

TEST_F(SigmoidTest, OddShapes) {
  uint32_t seed = 100;
  for (Shape s : {Shape{1, 1}, {7, 13}, {13, 127}, {127, 129}, {2000, 3}, {3, 1000}, {1, 4096}, {300, 768}})
    check(s, 1.f, 0.f, -6.f, 6.f, false, seed++);
}

TEST_F(SigmoidTest, ScaleBiasAndLargeInputs) {
  check({13, 127}, 0.5f, 1.5f, -6.f, 6.f, false, 201);
  check({7, 129}, 1.f, 0.f, -1000.f, 1000.f, false, 202);  // exp(1000) would overflow
  check({7, 129}, 1.f, -2.f, -30.f, 30.f, true, 203);
}

TEST_F(SigmoidTest, MoreThanOneGridDimension) {
  // 17M elements = 66400 workgroups of 256 > maxComputeWorkGroupCount[0] = 65535.
  check({4150, 4096}, 1.f, 0.f, -6.f, 6.f, false, 301);
}

}  // namespace
}  // namespace vkcls::test
