// Bad input fails only itself, with a message naming the field and the limit; the
// rest of the batch completes with the same results it would have alone.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "vkcls/engine.h"

namespace vkcls::test {
namespace {

namespace fs = std::filesystem;
const fs::path kModels = fs::path(VKCLS_TEST_DATA) / "models";

std::string words(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += i ? " movie" : "movie";
  return s;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

class Errors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    engine_ =
        Engine::open({.model_dir = (kModels / "bert-seqcls").string(), .dtype = "f32"}).release();
  }
  static void TearDownTestSuite() { delete engine_; }
  static Engine* engine_;
};
Engine* Errors::engine_ = nullptr;

TEST_F(Errors, BadInputsFailAloneAndTheRestCompletes) {
  std::vector<TextInput> batch = {
      {"the movie was great"}, {""}, {words(700)}, {"where is the station"}};
  auto r = engine_->classify(batch);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_TRUE(r[0].ok() && r[3].ok());
  EXPECT_TRUE(contains(r[1].error, "text") && contains(r[1].error, "empty")) << r[1].error;
  // over-long without truncation: names the length and the limit
  EXPECT_TRUE(contains(r[2].error, "702 tokens") && contains(r[2].error, "512")) << r[2].error;
  auto alone = engine_->classify({batch[3]});
  EXPECT_EQ(alone[0].probs, r[3].probs);
}

// Request-level parameters are checked before anything is queued: a bad one fails the whole
// request (an Error naming the field and the limit), as vLLM answers 400.
void expect_param_error(Engine& e, const RequestParams& p, const std::string& field,
                        const std::string& part) {
  try {
    e.classify({{"short"}, {words(700)}}, p);
    ADD_FAILURE() << "no error for " << field;
  } catch (const Error& err) {
    EXPECT_EQ(err.kind(), ErrorKind::invalid_input);
    EXPECT_EQ(err.param(), field);
    EXPECT_TRUE(contains(err.what(), part)) << err.what();
  }
}

TEST_F(Errors, TruncationLimits) {
  RequestParams p;
  p.truncate_prompt_tokens = 1000;  // above the model's 512
  expect_param_error(*engine_, p, "truncate_prompt_tokens", "1000");
  expect_param_error(*engine_, p, "truncate_prompt_tokens", "512");
  p.truncate_prompt_tokens = -1;  // to the model's limit
  auto r = engine_->classify({{words(700)}}, p);
  ASSERT_TRUE(r[0].ok()) << r[0].error;
  EXPECT_EQ(r[0].prompt_tokens, 512);
  p.truncate_prompt_tokens = 10;
  p.truncation_side = "left";
  r = engine_->classify({{words(700)}}, p);
  ASSERT_TRUE(r[0].ok()) << r[0].error;
  EXPECT_EQ(r[0].prompt_tokens, 10);
  p.truncation_side = "middle";
  expect_param_error(*engine_, p, "truncation_side", "middle");
  p = {};
  p.truncate_prompt_tokens = 0;
  expect_param_error(*engine_, p, "truncate_prompt_tokens", "0");
  // too long without truncation: the input's own error, with its kind
  r = engine_->classify({{words(700)}});
  EXPECT_EQ(r[0].error_kind, ErrorKind::too_long);
}

// One text over max_input_bytes (1 MiB by default) fails alone, before it is tokenized (an
// 8 MB text took 2.3 s and 600 MB to tokenize); a text just under it is tokenized and
// truncated as usual. Pairs and chat inputs are bounded the same way.
TEST_F(Errors, InputBytesAreBoundedBeforeTokenizing) {
  const size_t limit = EngineOptions{}.max_input_bytes;
  ASSERT_EQ(limit, size_t(1) << 20);
  std::string under(limit, 'a'), over(limit + 1, 'a');
  for (size_t i = 0; i < limit; i += 6) under[i] = over[i] = ' ';
  RequestParams p;
  p.truncate_prompt_tokens = -1;
  auto r = engine_->classify({{over}, {under}, {"the movie was great"}}, p);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].error_kind, ErrorKind::too_long);
  EXPECT_TRUE(contains(r[0].error, fmt::format("{} bytes", limit + 1)) &&
              contains(r[0].error, fmt::format("{} bytes per input", limit)) &&
              contains(r[0].error, "max_input_bytes"))
      << r[0].error;
  ASSERT_TRUE(r[1].ok()) << r[1].error;
  EXPECT_EQ(r[1].prompt_tokens, 512);
  EXPECT_TRUE(r[2].ok());
  EXPECT_EQ(r[2].probs, engine_->classify({{"the movie was great"}}, p)[0].probs);

  TextInput pair{"where is it"};
  pair.text_pair = over;
  r = engine_->classify({pair}, p);
  EXPECT_EQ(r[0].error_kind, ErrorKind::too_long);
  EXPECT_TRUE(contains(r[0].error, "text_pair")) << r[0].error;
  EXPECT_THROW(engine_->tokenize(over, true), Error);

  // the limit is the engine's option; 0 lifts it
  auto small = Engine::open(
      {.model_dir = (kModels / "bert-seqcls").string(), .dtype = "f32", .max_input_bytes = 10});
  r = small->classify({{"the movie was great"}, {"a movie"}});
  EXPECT_EQ(r[0].error_kind, ErrorKind::too_long);
  EXPECT_TRUE(contains(r[0].error, "19 bytes") && contains(r[0].error, "10 bytes")) << r[0].error;
  EXPECT_TRUE(r[1].ok());
  auto unbounded = Engine::open(
      {.model_dir = (kModels / "bert-seqcls").string(), .dtype = "f32", .max_input_bytes = 0});
  EXPECT_TRUE(unbounded->classify({{over}}, p)[0].ok());
}

TEST_F(Errors, ScoreNeedsOneLabel) {
  try {
    engine_->score("query", {"doc"});
    FAIL() << "score on a 3-label model must throw";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "score")) << e.what();
    EXPECT_EQ(e.kind(), ErrorKind::unsupported);
  }
  EXPECT_THROW(engine_->token_classify({{"x"}}), Error);
}

TEST_F(Errors, RawLogitsWithoutActivation) {
  RequestParams p;
  p.use_activation = false;
  auto raw = engine_->classify({{"the movie was great"}}, p);
  auto act = engine_->classify({{"the movie was great"}});
  double sum = 0;
  for (float x : act[0].probs) sum += x;
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_NE(raw[0].probs, act[0].probs);
  EXPECT_EQ(raw[0].label_index, act[0].label_index);
}

// A model with one token type (RoBERTa-style) whose tokenizer marks the second text
// with type 1: pair input names the field and the limit; single texts still work.
TEST(ErrorsPairs, PairInputToModelWithoutPairTokenTypes) {
  fs::path dir = fs::temp_directory_path() / fmt::format("vkcls-pairtest-{}", ::getpid());
  fs::remove_all(dir);
  fs::copy(kModels / "roberta-seqcls", dir, fs::copy_options::recursive);
  std::ifstream f(dir / "tokenizer.json");
  auto tok = nlohmann::json::parse(f);
  f.close();
  tok["post_processor"] = {{"type", "TemplateProcessing"},
                           {"single",
                            {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                             {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                             {{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}}}},
                           {"pair",
                            {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                             {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                             {{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}},
                             {{"Sequence", {{"id", "B"}, {"type_id", 1}}}},
                             {{"SpecialToken", {{"id", "</s>"}, {"type_id", 1}}}}}},
                           {"special_tokens",
                            {{"<s>", {{"id", "<s>"}, {"ids", {0}}, {"tokens", {"<s>"}}}},
                             {"</s>", {{"id", "</s>"}, {"ids", {2}}, {"tokens", {"</s>"}}}}}}};
  std::ofstream(dir / "tokenizer.json") << tok.dump();
  auto engine = Engine::open({.model_dir = dir.string(), .dtype = "f32"});
  auto r = engine->classify({{"a premise", "a hypothesis"}, {"just one text"}});
  EXPECT_TRUE(contains(r[0].error, "text_pair") && contains(r[0].error, "type_vocab_size 1"))
      << r[0].error;
  EXPECT_TRUE(r[1].ok()) << r[1].error;
  fs::remove_all(dir);
}

TEST(ErrorsModel, MissingFolderAndBadOptions) {
  try {
    Engine::open({.model_dir = "/nonexistent/model"});
    FAIL() << "a missing folder must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::not_found);
  }
  try {
    Engine::open({.model_dir = (kModels / "bert-seqcls").string(), .dtype = "int4"});
    FAIL() << "a bad dtype must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
    EXPECT_EQ(e.param(), "dtype");
  }
}

}  // namespace

// A model larger than the device's memory is refused at open, before its weights are uploaded,
// with both numbers (VKCLS_DEVICE_MEMORY_BYTES stands in for a small GPU: lavapipe's heap is
// the host's memory).
TEST(ErrorsModel, ModelLargerThanDeviceMemoryNamesBothSizes) {
  const std::string dir = (kModels / "bert-seqcls").string();
  setenv("VKCLS_DEVICE_MEMORY_BYTES", "65536", 1);
  try {
    Engine::open({.model_dir = dir, .dtype = "f32"});
    unsetenv("VKCLS_DEVICE_MEMORY_BYTES");
    FAIL() << "a model over the device's memory was opened";
  } catch (const Error& e) {
    unsetenv("VKCLS_DEVICE_MEMORY_BYTES");
    EXPECT_EQ(e.kind(), ErrorKind::out_of_memory);
    EXPECT_TRUE(contains(e.what(), "does not fit") &&
                contains(e.what(), "0.1 MiB of device memory") && contains(e.what(), "as f32"))
        << e.what();
  }
  // the same folder opens on the real device, and its weights are what the check counted
  auto engine = Engine::open({.model_dir = dir, .dtype = "f32"});
  EXPECT_GT(engine->info().weight_bytes, 65536u);
}

}  // namespace vkcls::test
