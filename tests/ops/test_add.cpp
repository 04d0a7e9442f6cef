// ops::add (Gemma 2's residual x += norm(branch)): exact in fp32, in place too.
#include "tests/ops/op_test.h"

namespace vkcls::test {
namespace {

class AddTest : public OpTest {};

TEST_F(AddTest, ElementwiseSumIsExact) {
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {7, 13}, {300, 64}, {3, 70000}}) {
    SCOPED_TRACE(testing::Message() << rows << " x " << cols);
    auto av = random_vector(rows * cols, uint32_t(rows + cols), -3.f, 3.f);
    auto bv = random_vector(rows * cols, uint32_t(rows * cols), -3.f, 3.f);
    Tensor a = upload_f32(av, {rows, cols}), b = upload_f32(bv, {rows, cols});
    Tensor y = arena().alloc(DType::f32, {rows, cols});
    Recorder rec(ctx());
    ops::add(ctx(), rec, a, b, y);
    ops::add(ctx(), rec, a, b, a);  // in place: a = a + b
    rec.submit_and_wait();
    auto got = download_f32(y), in_place = download_f32(a);
    size_t wrong = 0;
    for (size_t i = 0; i < av.size(); ++i)
      wrong += got[i] != av[i] + bv[i] || in_place[i] != got[i];
    EXPECT_EQ(wrong, 0u);
  }
}

TEST_F(AddTest, ShapesMustAgree) {
  Tensor a = arena().alloc(DType::f32, {4, 8}), b = arena().alloc(DType::f32, {8, 4});
  Tensor i = arena().alloc(DType::i32, {4, 8});
  Recorder rec(ctx());
  EXPECT_THROW(ops::add(ctx(), rec, a, b, a), std::invalid_argument);
  EXPECT_THROW(ops::add(ctx(), rec, a, i, a), std::invalid_argument);
}

}  // namespace
}  // namespace vkcls::test
