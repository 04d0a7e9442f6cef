// STEP pooling (vLLM's pooler config for token_classify): only tokens whose id is
// step_tag_id, only the returned_token_ids label columns, activation after selection.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "poolers/activation.h"
#include "vkcls/engine.h"

namespace vkcls::test {
namespace {

const std::filesystem::path kModel =
    std::filesystem::path(VKCLS_TEST_DATA) / "models" / "bert-tokcls";

TEST(StepPooling, SelectsTaggedTokensAndLabelsBeforeActivation) {
  const std::string text = "Alice went to Paris . Bob stayed in Berlin . Done .";
  auto all = Engine::open({.model_dir = kModel.string(), .dtype = "f32"});
  RequestParams raw;
  raw.use_activation = false;
  auto every = all->token_classify({{text}}, raw);
  ASSERT_TRUE(every[0].ok()) << every[0].error;
  // the id of "." in this tokenizer: the token whose text is "."
  int32_t dot = -1;
  for (auto& t : every[0].tokens)
    if (t.token == ".") dot = t.token_id;
  ASSERT_GE(dot, 0);

  auto step = Engine::open(
      {.model_dir = kModel.string(),
       .dtype = "f32",
       .pooler = {.step_tag_id = dot, .returned_token_ids = std::vector<int32_t>{1, 3}}});
  auto got = step->token_classify({{text}});
  ASSERT_TRUE(got[0].ok()) << got[0].error;
  EXPECT_EQ(got[0].labels,
            (std::vector<std::string>{all->info().labels[1], all->info().labels[3]}));
  size_t k = 0;
  for (auto& t : every[0].tokens) {
    if (t.token_id != dot) continue;
    ASSERT_LT(k, got[0].tokens.size());
    std::vector<float> want = {t.probs[1], t.probs[3]};
    apply_activation(Activation::softmax, want);
    EXPECT_EQ(got[0].tokens[k].start, t.start);
    EXPECT_NEAR(got[0].tokens[k].probs[0], want[0], 1e-6);
    EXPECT_NEAR(got[0].tokens[k].probs[1], want[1], 1e-6);
    ++k;
  }
  EXPECT_EQ(k, 3u);
  EXPECT_EQ(got[0].tokens.size(), 3u);
  EXPECT_THROW(Engine::open({.model_dir = kModel.string(),
                             .pooler = {.returned_token_ids = std::vector<int32_t>{99}}}),
               Error);
}

}  // namespace
}  // namespace vkcls::test
