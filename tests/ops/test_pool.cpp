// ops::pool (first / mean / last over row ranges of a packed batch) against
// tests/ops/cpu_reference.cpp (double).
#include "tests/ops/cpu_reference.h"
#include "tests/ops/op_test.h"

namespace vkcls::test {
namespace {

class PoolTest : public OpTest {
 protected:
  // Sequences of `lengths` packed back to back, each pooled over its own rows.
  void check(const std::vector<int32_t>& lengths, int64_t hidden, ops::Pool mode, uint32_t seed) {
    std::vector<int32_t> ranges;
    int32_t at = 0;
    for (int32_t n : lengths) ranges.insert(ranges.end(), {at, at + n}), at += n;
    check_ranges(ranges, at, hidden, mode, seed);
  }
  void check_ranges(const std::vector<int32_t>& ranges, int64_t tokens, int64_t hidden,
                    ops::Pool mode, uint32_t seed) {
    int64_t seqs = int64_t(ranges.size()) / 2;
    SCOPED_TRACE(testing::Message() << "mode " << uint32_t(mode) << " hidden " << hidden << " seqs "
                                    << seqs << " tokens " << tokens);
    auto hv = random_vector(tokens * hidden, seed, -2.f, 2.f);
    Tensor h = upload_f32(hv.empty() ? std::vector<float>(hidden, 0.f) : hv,
                          {std::max<int64_t>(tokens, 1), hidden});
    if (tokens == 0) h.shape = {0, hidden};  // a [0, H] view (the arena hands out no empty tensors)
    Tensor ranges_t = upload_i32(ranges, {seqs, 2});
    Tensor y = arena().alloc(DType::f32, {seqs, hidden});
    Recorder rec(ctx());
    ops::pool(ctx(), rec, h, ranges_t, y, mode);
    rec.submit_and_wait();
    auto want = ref_pool(hv, ranges, hidden, uint32_t(mode));
    // first / last copy a row: exact. mean: fp32 sum over <= 300 rows of values
    // in [-2, 2]: 1e-5 relative, 1e-6 absolute for means near zero.
    double rtol = mode == ops::Pool::mean ? 1e-5 : 0.0, atol = mode == ops::Pool::mean ? 1e-6 : 0.0;
    EXPECT_TRUE(all_close(download_f32(y), want, rtol, atol));
  }
};

const ops::Pool kModes[] = {ops::Pool::first, ops::Pool::mean, ops::Pool::last};

TEST_F(PoolTest, PackedSequences) {
  uint32_t seed = 1;
  for (ops::Pool m : kModes)
    for (int64_t hidden : {1, 7, 13, 768, 1024}) check({1, 17, 128, 300}, hidden, m, seed += 10);
}

TEST_F(PoolTest, ManySequences) {
  std::vector<int32_t> lengths;
  for (int i = 0; i < 129; ++i) lengths.push_back(1 + (i * 37) % 61);
  for (ops::Pool m : kModes) check(lengths, 129, m, 100 + uint32_t(m));
  for (ops::Pool m : kModes) check({2000}, 4096 / 4, m, 110 + uint32_t(m));  // one long sequence
}

// Ranges need not tile the batch: one row of a sequence (a pooled token), overlapping
// ranges, ranges in any order (a subset of the batch's sequences), out-of-range ends clamped.
TEST_F(PoolTest, ArbitraryRanges) {
  for (ops::Pool m : kModes) {
    check_ranges({5, 6, 0, 40, 39, 40, 10, 30, 12, 13, 30, 35}, 40, 33, m, 300 + uint32_t(m));
    check_ranges({35, 45, -3, 2}, 40, 8, m, 310 + uint32_t(m));
  }
}

TEST_F(PoolTest, EmptySequencesGiveZeros) {
  for (ops::Pool m : kModes) check({0, 5, 0, 3, 0}, 13, m, 200 + uint32_t(m));
  for (ops::Pool m : kModes) check({0, 0}, 7, m, 210 + uint32_t(m));  // no tokens at all
}

TEST_F(PoolTest, BadShapesThrow) {
  Tensor h = arena().alloc(DType::f32, {10, 8}), cu = arena().alloc(DType::i32, {2, 2});
  Tensor cu_f = arena().alloc(DType::f32, {2, 2}), cu_1d = arena().alloc(DType::i32, {3});
  Tensor y = arena().alloc(DType::f32, {2, 8}), y_bad = arena().alloc(DType::f32, {3, 8});
  Recorder rec(ctx());
  try {
    ops::pool(ctx(), rec, h, cu, y_bad, ops::Pool::mean);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("y is f32[3, 8]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ops::pool(ctx(), rec, h, cu_f, y, ops::Pool::first), std::invalid_argument);
  EXPECT_THROW(ops::pool(ctx(), rec, h, cu_1d, y, ops::Pool::first), std::invalid_argument);
  EXPECT_THROW(ops::pool(ctx(), rec, h, cu, y, ops::Pool(7)), std::invalid_argument);
  EXPECT_EQ(rec.num_dispatches(), 0u);
}

}  // namespace
}  // namespace vkcls::test
