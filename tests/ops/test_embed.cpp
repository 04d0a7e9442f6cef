// ops::embed (f32 and f16 tables, split word tables) against tests/ops/cpu_reference.cpp (double).
#include <cstdlib>
#include <optional>

#include "tests/ops/cpu_reference.h"
#include "tests/ops/op_test.h"

namespace vkcls::test {
namespace {

// n ids uniform in [lo, hi) (all lo when the range is empty).
std::vector<int32_t> random_ids(size_t n, int32_t lo, int32_t hi, uint32_t seed) {
  if (hi <= lo) return std::vector<int32_t>(n, lo);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> d(lo, hi - 1);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

struct Case {
  int64_t tokens, hidden, vocab;
  int64_t max_pos = 0, types = 0;  // 0: no table
  float word_scale = 1.f;
  uint64_t max_binding_bytes = 0;  // 0: no split
  uint32_t expect_dispatches = 1;
};

class EmbedTest : public OpTest {
 protected:
  void check(Case c, DType dt, uint32_t seed, int32_t bad_ids = 0) {
    SCOPED_TRACE(testing::Message() << dtype_name(dt) << " tokens " << c.tokens << " hidden " << c.hidden
                                    << " vocab " << c.vocab << " pos " << c.max_pos << " types " << c.types
                                    << " split at " << c.max_binding_bytes << " bytes");
    // Out-of-range ids (bad_ids > 0) include negatives and ids >= rows of each table.
    auto ids = random_ids(c.tokens, -bad_ids, int32_t(c.vocab) + bad_ids, seed);
    auto pos_ids = random_ids(c.tokens, -bad_ids, int32_t(c.max_pos) + bad_ids, seed + 1);
    auto type_ids = random_ids(c.tokens, -bad_ids, int32_t(c.types) + bad_ids, seed + 2);
    auto word = random_vector(c.vocab * c.hidden, seed + 3);
    auto pos = random_vector(c.max_pos * c.hidden, seed + 4);
    auto type = random_vector(c.types * c.hidden, seed + 5);

    Tensor t_ids = upload_i32(ids, {c.tokens});
    Tensor t_word = upload_f32(word, {c.vocab, c.hidden}, dt);
    Tensor t_pos_ids, t_pos, t_type_ids, t_type;
    ops::EmbedArgs args;
    args.word_scale = c.word_scale;
    if (c.max_pos) {
      t_pos_ids = upload_i32(pos_ids, {c.tokens});
      t_pos = upload_f32(pos, {c.max_pos, c.hidden}, dt);
      args.pos_ids = &t_pos_ids;
      args.pos_table = &t_pos;
    }
    if (c.types) {
      t_type_ids = upload_i32(type_ids, {c.tokens});
      t_type = upload_f32(type, {c.types, c.hidden}, dt);
      args.type_ids = &t_type_ids;
      args.type_table = &t_type;
    }
    Tensor y = arena().alloc(DType::f32, {c.tokens, c.hidden});
    Recorder rec(ctx());
    {
      std::optional<MaxBindingBytes> split;
      if (c.max_binding_bytes) split.emplace(c.max_binding_bytes);
      ops::embed(ctx(), rec, t_ids, t_word, y, args);
    }
    EXPECT_EQ(rec.num_dispatches(), c.expect_dispatches);
    rec.submit_and_wait();
    auto got = download_f32(y);

    if (dt == DType::f32) {
      // fp32 sum of three O(1) terms: 1e-5 relative, 1e-6 absolute where they cancel.
      EXPECT_TRUE(all_close(got, ref_embed(ids, word, pos_ids, pos, type_ids, type, c.hidden, c.word_scale), 1e-5,
                            1e-6));
    } else {
      // Against the f16-rounded tables the device reads: as exact as fp32 (1e-5, 1e-6).
      auto want16 = ref_embed(ids, round_to_f16(word), pos_ids, round_to_f16(pos), type_ids, round_to_f16(type),
                              c.hidden, c.word_scale);
      EXPECT_TRUE(all_close(got, want16, 1e-5, 1e-6));
      // Against the unrounded tables: three terms each off by <= 2^-11 relative
      // (|term| <= word_scale): 1e-2 relative, 2e-3 * word_scale absolute.
      auto want = ref_embed(ids, word, pos_ids, pos, type_ids, type, c.hidden, c.word_scale);
      EXPECT_TRUE(all_close(got, want, 1e-2, 2e-3 * c.word_scale));
    }
  }
};

// BERT-like (word + position + token type), odd hidden sizes, and Gemma-like (scaled word only).
const Case kCases[] = {
    {1, 1, 1, 1, 1},
    {7, 13, 100, 16, 2},
    {300, 768, 1000, 512, 2},
    {129, 127, 50, 0, 0},
    {13, 129, 333, 0, 3},
    {2000, 7, 1001, 2048, 0},
    {17, 64, 500, 0, 0, 8.f},
};

TEST_F(EmbedTest, F32Tables) {
  uint32_t seed = 1;
  for (Case c : kCases) check(c, DType::f32, seed += 10);
}

TEST_F(EmbedTest, F16Tables) {
  uint32_t seed = 100;
  for (Case c : kCases) check(c, DType::f16, seed += 10);
}

TEST_F(EmbedTest, OutOfRangeIdsGiveZeros) {
  // ids in [-5, rows + 5): the invalid ones contribute zeros and read nothing out of bounds.
  check({200, 64, 40, 30, 2}, DType::f32, 300, 5);
  check({200, 13, 40, 30, 2}, DType::f16, 310, 5);
}

TEST_F(EmbedTest, WordTableSplitIntoThreeRanges) {
  // f32 hidden 64: 256-byte rows; 100000 bytes -> 390 rows per binding: 390 + 390 + 220.
  check({300, 64, 1000, 512, 2, 1.f, 100000, 3}, DType::f32, 400);
  // f16 hidden 13: 26-byte rows; aligned offsets need multiples of 8 rows (16-byte
  // alignment on lavapipe): 10000 bytes -> 384 rows: 384 + 384 + 232.
  check({300, 13, 1000, 512, 2, 1.f, 10000, 3}, DType::f16, 410);
  // Scaled, with invalid ids, no other tables.
  Case c{257, 32, 700, 0, 0, 2.f, 32 * 4 * 250, 3};
  check(c, DType::f32, 420, 3);
}

TEST_F(EmbedTest, BadArgumentsThrow) {
  Tensor ids = arena().alloc(DType::i32, {5}), ids_f = arena().alloc(DType::f32, {5});
  Tensor word = arena().alloc(DType::f32, {10, 8}), word16 = arena().alloc(DType::f16, {10, 8});
  Tensor y = arena().alloc(DType::f32, {5, 8}), y_bad = arena().alloc(DType::f32, {5, 9});
  Recorder rec(ctx());
  try {
    ops::embed(ctx(), rec, ids, word, y_bad);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("y is f32[5, 9]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ops::embed(ctx(), rec, ids_f, word, y), std::invalid_argument);
  ops::EmbedArgs mixed;  // a f16 position table with a f32 word table
  mixed.pos_ids = &ids;
  mixed.pos_table = &word16;
  EXPECT_THROW(ops::embed(ctx(), rec, ids, word, y, mixed), std::invalid_argument);
  ops::EmbedArgs half_pair;  // pos_table without pos_ids
  half_pair.pos_table = &word;
  EXPECT_THROW(ops::embed(ctx(), rec, ids, word, y, half_pair), std::invalid_argument);
  EXPECT_EQ(rec.num_dispatches(), 0u);
}

}  // namespace
}  // namespace vkcls::test
