// Packing: the same inputs give the same outputs whether sent one at a time or packed
// into batches of mixed lengths (several device batches per call), in input order.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "vkcls/engine.h"

namespace vkcls::test {
namespace {

namespace fs = std::filesystem;
const fs::path kModels = fs::path(VKCLS_TEST_DATA) / "models";

std::vector<TextInput> mixed_inputs() {
  std::vector<std::string> words = {"movie", "great", "the", "station", "bridge", "Alice", "Paris", "terrible",
                                    "was", "not", "really", "good", "bad", "old", "new", "city"};
  std::mt19937 rng(7);
  std::vector<TextInput> out;
  for (int len : {1, 3, 40, 7, 120, 2, 250, 17, 60, 5, 300, 9}) {
    std::string s;
    for (int i = 0; i < len; ++i) s += (i ? " " : "") + words[rng() % words.size()];
    TextInput in{s};
    if (len % 3 == 0) in.text_pair = "and the " + words[rng() % words.size()];
    out.push_back(in);
  }
  return out;
}

void expect_same(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6) << what << " [" << i << "]";
}

TEST(Batching, ClassifyOneAtATimeEqualsPacked) {
  // max_batch_tokens 512: the 12 inputs (~900 tokens) span several device batches
  auto engine = Engine::open({.model_dir = (kModels / "bert-seqcls").string(), .dtype = "f32", .max_batch_tokens = 512});
  auto inputs = mixed_inputs();
  auto packed = engine->classify(inputs);
  ASSERT_EQ(packed.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto single = engine->classify({inputs[i]});
    ASSERT_TRUE(single[0].ok() && packed[i].ok()) << single[0].error << packed[i].error;
    expect_same(packed[i].probs, single[0].probs, "input " + std::to_string(i));
    EXPECT_EQ(packed[i].label_index, single[0].label_index);
    EXPECT_EQ(packed[i].prompt_tokens, single[0].prompt_tokens);
  }
  // and in reverse order: results follow the inputs, not the packing
  std::vector<TextInput> reversed(inputs.rbegin(), inputs.rend());
  auto back = engine->classify(reversed);
  for (size_t i = 0; i < inputs.size(); ++i) expect_same(back[inputs.size() - 1 - i].probs, packed[i].probs, "reversed");
}

TEST(Batching, TokenClassifyOneAtATimeEqualsPacked) {
  auto engine = Engine::open({.model_dir = (kModels / "roberta-tokcls").string(), .dtype = "f32", .max_batch_tokens = 600});
  auto inputs = mixed_inputs();
  auto packed = engine->token_classify(inputs);
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto single = engine->token_classify({inputs[i]});
    ASSERT_TRUE(single[0].ok() && packed[i].ok());
    ASSERT_EQ(single[0].tokens.size(), packed[i].tokens.size());
    for (size_t t = 0; t < packed[i].tokens.size(); ++t) {
      expect_same(packed[i].tokens[t].probs, single[0].tokens[t].probs, "input " + std::to_string(i));
      EXPECT_EQ(packed[i].tokens[t].start, single[0].tokens[t].start);
      EXPECT_EQ(packed[i].tokens[t].end, single[0].tokens[t].end);
    }
  }
}

TEST(Batching, LargeBatchAcrossTokenizationChunks) {
  // > 512 inputs: tokenization of the next chunk overlaps the device work of this one
  auto engine = Engine::open({.model_dir = (kModels / "distilbert-seqcls").string(), .dtype = "f32"});
  std::vector<TextInput> inputs;
  for (int i = 0; i < 1100; ++i) inputs.push_back({i % 2 ? "the movie was great" : "where is the old station"});
  auto out = engine->classify(inputs);
  ASSERT_EQ(out.size(), inputs.size());
  for (size_t i = 2; i < out.size(); ++i) {
    ASSERT_TRUE(out[i].ok()) << out[i].error;
    expect_same(out[i].probs, out[i % 2].probs, "input " + std::to_string(i));
  }
}

}  // namespace
}  // namespace vkcls::test
