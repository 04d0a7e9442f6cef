// ops::rope (NeoX and GPT-J layouts, partial rotary, q and k of a fused qkv row)
// against tests/ops/cpu_reference.cpp (double).
#include "tests/ops/cpu_reference.h"
#include "tests/ops/op_test.h"

namespace vkcls::test {
namespace {

struct Case {
  int64_t tokens, heads, kv_heads, head_dim, rotary_dim;
  bool neox;
  float theta;
  int32_t max_pos;
};

class RopeTest : public OpTest {
 protected:
  // x: [T, (heads + 2 kv_heads) * head_dim] = [q | k | v]; rope on q, then on k; v untouched.
  void check(Case c, uint32_t seed) {
    SCOPED_TRACE(testing::Message() << (c.neox ? "neox" : "gptj") << " tokens " << c.tokens << " heads "
                                    << c.heads << "/" << c.kv_heads << " head_dim " << c.head_dim << " rotary "
                                    << c.rotary_dim << " theta " << c.theta << " positions < " << c.max_pos);
    int64_t row = (c.heads + 2 * c.kv_heads) * c.head_dim;
    auto xv = random_vector(c.tokens * row, seed);
    std::vector<int32_t> pos(c.tokens);
    std::mt19937 rng(seed + 1);
    for (auto& p : pos) p = int32_t(rng() % uint32_t(c.max_pos));
    pos[0] = 0;
    if (c.tokens > 1) pos[1] = c.max_pos - 1;

    Tensor x = upload_f32(xv, {c.tokens, row});
    Tensor positions = upload_i32(pos, {c.tokens});
    ops::RopeArgs q{uint32_t(c.heads), uint32_t(c.head_dim), uint32_t(c.rotary_dim), 0, 0, c.neox, c.theta};
    ops::RopeArgs k = q;
    k.num_heads = uint32_t(c.kv_heads);
    k.offset = uint32_t(c.heads * c.head_dim);
    k.row_stride = uint32_t(row);  // explicit stride (q uses the default: dense rows)
    Recorder rec(ctx());
    ops::rope(ctx(), rec, x, positions, q);
    ops::rope(ctx(), rec, x, positions, k);
    rec.submit_and_wait();
    auto got = download_f32(x);

    std::vector<float> q_done(xv.size());
    auto want = ref_rope(xv, pos, c.heads, c.head_dim, c.rotary_dim, 0, row, c.neox, c.theta);
    for (size_t i = 0; i < xv.size(); ++i) q_done[i] = float(want[i]);  // exact where untouched
    want = ref_rope(q_done, pos, c.kv_heads, c.head_dim, c.rotary_dim, c.heads * c.head_dim, row, c.neox, c.theta);
    // The angle pos * inv_freq is fp32 as in Hugging Face; the device's pow() may put
    // inv_freq a few ulp off torch's, which moves the angle by ~pos * 2e-7 and so
    // cos/sin by as much: atol 2e-6 + 4e-7 * max_pos (4e-4 at 1000, 1e-4 at 256),
    // 1e-5 relative for the rest (sin/cos of the range-reduced angle, two products).
    EXPECT_TRUE(all_close(got, want, 1e-5, 2e-6 + 4e-7 * c.max_pos));

    // Elements outside the rotary part of q and k (v, and past rotary_dim) are bit-identical.
    size_t changed_outside = 0;
    for (int64_t t = 0; t < c.tokens; ++t)
      for (int64_t e = 0; e < row; ++e) {
        bool rotated = e < (c.heads + c.kv_heads) * c.head_dim && e % c.head_dim < c.rotary_dim;
        size_t i = size_t(t * row + e);
        if (!rotated && std::memcmp(&got[i], &xv[i], 4) != 0) changed_outside++;
      }
    EXPECT_EQ(changed_outside, 0u);
  }
};

TEST_F(RopeTest, NeoxHeadDims) {
  uint32_t seed = 1;
  for (int64_t hd : {32, 64, 80, 128}) check({37, 4, 2, hd, hd, true, 10000.f, 512}, seed += 10);
}

TEST_F(RopeTest, GptjHeadDims) {
  uint32_t seed = 100;
  for (int64_t hd : {32, 64, 80, 128}) check({37, 4, 2, hd, hd, false, 10000.f, 512}, seed += 10);
}

TEST_F(RopeTest, PartialRotary) {
  check({13, 3, 3, 80, 32, true, 10000.f, 256}, 200);   // Phi-2: 32 of 80
  check({13, 4, 4, 64, 16, true, 10000.f, 256}, 210);   // GPT-NeoX rotary_pct 0.25
  check({13, 4, 4, 256, 64, false, 10000.f, 256}, 220); // GPT-J: rotary_dim 64 of 256
  check({7, 2, 1, 128, 2, true, 10000.f, 256}, 230);    // a single pair
}

TEST_F(RopeTest, ThetaAndLongPositions) {
  check({129, 2, 1, 128, 128, true, 1000000.f, 1000}, 300);  // Qwen2 theta 1e6
  check({129, 2, 2, 64, 64, true, 500000.f, 1000}, 310);     // Llama 3 base
  check({1, 1, 1, 64, 64, true, 10000.f, 1}, 320);           // one token at position 0
  check({2000, 1, 1, 32, 32, false, 10000.f, 1000}, 330);
}

TEST_F(RopeTest, BadArgumentsThrow) {
  Tensor x = arena().alloc(DType::f32, {4, 64});
  Tensor pos = arena().alloc(DType::i32, {4}), pos5 = arena().alloc(DType::i32, {5});
  Recorder rec(ctx());
  try {
    ops::rope(ctx(), rec, x, pos5, {2, 32, 32});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("positions is i32[5]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ops::rope(ctx(), rec, x, pos, {3, 32, 32}), std::invalid_argument);      // heads past the row
  EXPECT_THROW(ops::rope(ctx(), rec, x, pos, {2, 32, 33}), std::invalid_argument);      // rotary > head_dim
  EXPECT_THROW(ops::rope(ctx(), rec, x, pos, {2, 32, 31}), std::invalid_argument);      // odd rotary
  EXPECT_THROW(ops::rope(ctx(), rec, x, pos, {1, 32, 32, 40}), std::invalid_argument);  // offset past the row
  EXPECT_EQ(rec.num_dispatches(), 0u);
}

}  // namespace
}  // namespace vkcls::test
