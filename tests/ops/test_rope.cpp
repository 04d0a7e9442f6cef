// ops::rope (NeoX and GPT-J layouts, partial rotary, q and k of a fused qkv row)
// against tests/ops/cpu_reference.cpp (double).
#include <cmath>

#include "tests/ops/cpu_reference.h"
#include "tests/ops/op_test.h"

namespace vkcls::test {
namespace {

struct Case {
  int64_t tokens, heads, kv_heads, head_dim, rotary_dim;
  bool neox;
  float theta;
  int32_t max_pos;
  float scale = 1.f;
};

// Hugging Face's float32 steps: 1 / float32(pow(float32(theta), float32(2i) / float32(d)))
std::vector<float> hf_inv_freq(float theta, int64_t d) {
  std::vector<float> f(size_t(d / 2));
  for (int64_t i = 0; i < d / 2; ++i) f[size_t(i)] = 1.0f / float(std::pow(double(theta), double(float(2 * i) / float(d))));
  return f;
}

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
    std::vector<float> freq = hf_inv_freq(c.theta, c.rotary_dim);
    Tensor inv_freq = upload_f32(freq, {c.rotary_dim / 2});
    ops::RopeArgs q{uint32_t(c.heads), uint32_t(c.head_dim), uint32_t(c.rotary_dim), 0, 0, c.neox, &inv_freq, c.scale};
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
    auto want = ref_rope(xv, pos, c.heads, c.head_dim, c.rotary_dim, 0, row, c.neox, freq, c.scale);
    for (size_t i = 0; i < xv.size(); ++i) q_done[i] = float(want[i]);  // exact where untouched
    want = ref_rope(q_done, pos, c.kv_heads, c.head_dim, c.rotary_dim, c.heads * c.head_dim, row, c.neox, freq,
                    c.scale);
    // inv_freq comes from the host and the angle pos * inv_freq is one fp32 product on both
    // sides, so only the device's cos/sin of the range-reduced angle and two products differ:
    // 1e-5 relative, 3e-6 absolute, at every position.
    EXPECT_TRUE(all_close(got, want, 1e-5, 3e-6));

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

// Positions up to 8k, where one ulp of the angle is ~1e-3 rad: the host's inv_freq bits decide.
TEST_F(RopeTest, LongPositionsAndScale) {
  check({64, 2, 2, 64, 64, true, 160000.f, 8192}, 400);
  check({16, 2, 1, 256, 256, true, 10000.f, 8192}, 410);  // Gemma's head_dim
  check({16, 2, 1, 128, 128, true, 10000.f, 4096, 1.2f}, 420);  // YaRN's attention factor
}

TEST_F(RopeTest, BadArgumentsThrow) {
  Tensor x = arena().alloc(DType::f32, {4, 64});
  Tensor pos = arena().alloc(DType::i32, {4}), pos5 = arena().alloc(DType::i32, {5});
  Tensor f16 = arena().alloc(DType::f32, {16}), f15 = arena().alloc(DType::f32, {15});
  Recorder rec(ctx());
  try {
    ops::rope(ctx(), rec, x, pos5, {2, 32, 32, 0, 0, true, &f16});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("positions is i32[5]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ops::rope(ctx(), rec, x, pos, {3, 32, 32, 0, 0, true, &f16}), std::invalid_argument);   // heads past the row
  EXPECT_THROW(ops::rope(ctx(), rec, x, pos, {2, 32, 33, 0, 0, true, &f16}), std::invalid_argument);   // rotary > head_dim
  EXPECT_THROW(ops::rope(ctx(), rec, x, pos, {2, 32, 31, 0, 0, true, &f16}), std::invalid_argument);   // odd rotary
  EXPECT_THROW(ops::rope(ctx(), rec, x, pos, {1, 32, 32, 40, 0, true, &f16}), std::invalid_argument);  // offset past the row
  EXPECT_THROW(ops::rope(ctx(), rec, x, pos, {2, 32, 32}), std::invalid_argument);                     // no inv_freq
  EXPECT_THROW(ops::rope(ctx(), rec, x, pos, {2, 32, 32, 0, 0, true, &f15}), std::invalid_argument);   // wrong size
  EXPECT_EQ(rec.num_dispatches(), 0u);
}

}  // namespace
}  // namespace vkcls::test
