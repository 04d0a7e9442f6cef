// --pooler-config, field by field: parsing (vLLM's spellings and errors) and what each field
// does to the answers, checked against values computed here by hand from raw outputs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "models/safetensors.h"
#include "vkcls/engine.h"

namespace vkcls::test {
namespace {

namespace fs = std::filesystem;
const fs::path kModels = fs::path(VKCLS_TEST_DATA) / "models";

void expect_bad(const std::string& text, const std::string& field, const std::string& part) {
  try {
    parse_pooler_config(text);
    ADD_FAILURE() << "no error for " << text;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
    EXPECT_EQ(e.param(), "pooler_config." + field) << e.what();
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(PoolerConfig, ParsesEveryFieldAndVllmsAliases) {
  PoolerConfig c = parse_pooler_config(
      R"({"task": "embed", "seq_pooling_type": "mean", "tok_pooling_type": "STEP",
      "use_activation": false, "dimensions": 8, "logit_mean": 1.5, "logit_sigma": 2, "step_tag_id": 7,
      "returned_token_ids": [3, 1]})");
  EXPECT_EQ(c.task, Task::embed);
  EXPECT_EQ(c.seq_pooling_type, "MEAN");
  EXPECT_EQ(c.tok_pooling_type, "STEP");
  EXPECT_EQ(c.use_activation, false);
  EXPECT_EQ(c.dimensions, 8);
  EXPECT_EQ(c.logit_mean, 1.5);
  EXPECT_EQ(c.logit_sigma, 2.0);
  EXPECT_EQ(c.step_tag_id, 7);
  EXPECT_EQ(c.returned_token_ids, (std::vector<int32_t>{3, 1}));
  // pooling_type fills the kind it names; logit_bias is logit_mean, logit_scale is 1 / logit_sigma
  c = parse_pooler_config(R"({"pooling_type": "LAST", "logit_bias": 2.0, "logit_scale": 4.0})");
  EXPECT_EQ(c.seq_pooling_type, "LAST");
  EXPECT_FALSE(c.tok_pooling_type);
  EXPECT_EQ(c.logit_mean, 2.0);
  EXPECT_EQ(c.logit_sigma, 0.25);
  EXPECT_EQ(parse_pooler_config(R"({"pooling_type": "ALL"})").tok_pooling_type, "ALL");
  EXPECT_FALSE(parse_pooler_config("{}").task);
}

// Issue 14: --pooler-config nested 200,000 deep overflowed the stack; now invalid_input
// naming the limit.
TEST(PoolerConfig, DeeplyNestedJsonIsRefusedNamingTheLimit) {
  try {
    parse_pooler_config("{\"task\": " + std::string(200000, '[') + std::string(200000, ']') + "}");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
    EXPECT_NE(std::string(e.what()).find("nested deeper than the limit of 128"), std::string::npos)
        << e.what();
  }
}

TEST(PoolerConfig, RefusesWhatVllmRefuses) {
  expect_bad(R"({"logit_sigma": 0})", "logit_sigma", "logit_sigma cannot be 0 (division by zero)");
  expect_bad(R"({"logit_scale": 0})", "logit_scale", "logit_scale cannot be 0 (division by zero)");
  expect_bad(R"({"logit_bias": 1, "logit_mean": 1})", "logit_bias",
             "Cannot set both `logit_bias` and `logit_mean`");
  expect_bad(R"({"logit_scale": 1, "logit_sigma": 1})", "logit_scale", "Cannot set both");
  expect_bad(R"({"pooling_type": "CLS", "seq_pooling_type": "MEAN"})", "pooling_type",
             "Cannot set both");
  expect_bad(R"({"pooling_type": "MAX"})", "pooling_type", "MAX");
  expect_bad(R"({"seq_pooling_type": "ALL"})", "seq_pooling_type", "CLS, MEAN, LAST");
  expect_bad(R"({"tok_pooling_type": "MEAN"})", "tok_pooling_type", "ALL, STEP");
  expect_bad(R"({"task": "generate"})", "task", "generate");
  expect_bad(R"({"normalize": true})", "normalize", "unknown field");
  expect_bad(R"({"dimensions": 0})", "dimensions", "positive");
  expect_bad(R"({"use_activation": "yes"})", "use_activation", "boolean");
  expect_bad(R"({"returned_token_ids": [1, -2]})", "returned_token_ids", "-2");
  expect_bad(R"({"step_tag_id": 1.5})", "step_tag_id", "integer");
  try {
    parse_pooler_config("[1]");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.param(), "pooler_config");
  }
}

std::unique_ptr<Engine> open(const std::string& model, const std::string& pooler) {
  return Engine::open({.model_dir = (kModels / model).string(),
                       .dtype = "f32",
                       .pooler = parse_pooler_config(pooler)});
}

double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

// Calibration: activation((logit - logit_mean) / logit_sigma), vLLM's Platt scaling, on a
// one-label model (sigmoid) where it changes the answer.
TEST(PoolerConfig, CalibrationShiftsTheActivation) {
  const std::vector<TextInput> in = {{"where is the station", "near the bridge"},
                                     {"a cat", "trains stop here"}};
  auto plain = open("bert-crossencoder", "{}");
  RequestParams raw;
  raw.use_activation = false;
  auto logits = plain->score_pairs(in, raw);
  for (const char* cfg : {R"({"logit_bias": 2.0})", R"({"logit_mean": 2.0})"}) {
    auto got = open("bert-crossencoder", cfg)->score_pairs(in);
    for (size_t i = 0; i < in.size(); ++i)
      EXPECT_NEAR(got[i].score, sigmoid(logits[i].score - 2.0), 1e-6) << cfg;
  }
  auto scaled =
      open("bert-crossencoder", R"({"logit_mean": -1.0, "logit_sigma": 0.5})")->classify(in);
  auto scaled2 =
      open("bert-crossencoder", R"({"logit_bias": -1.0, "logit_scale": 2.0})")->classify(in);
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_NEAR(scaled[i].probs[0], sigmoid((logits[i].score + 1.0) / 0.5), 1e-6);
    EXPECT_NEAR(scaled2[i].probs[0], scaled[i].probs[0], 1e-7);
  }
}

TEST(PoolerConfig, UseActivationIsTheDefaultOfTheRequestFlag) {
  auto e = open("bert-seqcls", R"({"use_activation": false})");
  auto raw = e->classify({{"the movie was great"}});
  RequestParams on;
  on.use_activation = true;
  auto act = e->classify({{"the movie was great"}}, on);
  double sum_raw = 0, sum_act = 0;
  for (float x : raw[0].probs) sum_raw += x;
  for (float x : act[0].probs) sum_act += x;
  EXPECT_NEAR(sum_act, 1.0, 1e-5);
  EXPECT_GT(std::abs(sum_raw - 1.0), 1e-3) << "use_activation false must give logits";
}

// hidden state rows of one text through the engine's raw path
std::vector<float> hidden(Engine& e, const std::string& text) {
  auto t = e.tokenize(text, true);
  return e.forward_ids({{t.ids, std::vector<int32_t>(t.ids.size(), 0)}}, "hidden").at(0);
}

TEST(PoolerConfig, PoolingTypeChoosesTheRowsForEmbedAndClassify) {
  const std::string text = "the movie was great";
  auto cls = open("bert-seqcls", "{}");
  std::vector<float> h = hidden(*cls, text);
  const size_t H = size_t(cls->info().hidden_size), n = h.size() / H;
  auto row_mean = [&] {
    std::vector<double> m(H, 0);
    for (size_t t = 0; t < n; ++t)
      for (size_t d = 0; d < H; ++d) m[d] += h[t * H + d] / double(n);
    return m;
  }();
  RequestParams raw;
  raw.normalize = false;
  auto emb_mean = open("bert-seqcls", R"({"pooling_type": "MEAN"})")->embed({{text}}, raw);
  auto emb_last = open("bert-seqcls", R"({"seq_pooling_type": "LAST"})")->embed({{text}}, raw);
  auto emb_cls = cls->embed({{text}}, raw);
  for (size_t d = 0; d < H; ++d) {
    EXPECT_NEAR(emb_mean[0].embedding[d], row_mean[d], 1e-5);
    EXPECT_NEAR(emb_last[0].embedding[d], h[(n - 1) * H + d], 1e-6);
    EXPECT_NEAR(emb_cls[0].embedding[d], h[d], 1e-6);
  }
  EXPECT_EQ(open("bert-seqcls", R"({"pooling_type": "MEAN"})")->info().seq_pooling, "MEAN");

  // classify with MEAN: the head (pooler dense + tanh, classifier) on the mean row, by hand
  WeightStore w = WeightStore::open_dir((kModels / "bert-seqcls").string());
  auto pw = w.to_f32("bert.pooler.dense.weight"), pb = w.to_f32("bert.pooler.dense.bias");
  auto cw = w.to_f32("classifier.weight"), cb = w.to_f32("classifier.bias");
  std::vector<double> pooled(H);
  for (size_t o = 0; o < H; ++o) {
    double s = pb[o];
    for (size_t i = 0; i < H; ++i) s += pw[o * H + i] * row_mean[i];
    pooled[o] = std::tanh(s);
  }
  RequestParams logits;
  logits.use_activation = false;
  auto got = open("bert-seqcls", R"({"pooling_type": "MEAN"})")->classify({{text}}, logits);
  ASSERT_EQ(got[0].probs.size(), 3u);
  for (size_t c = 0; c < 3; ++c) {
    double s = cb[c];
    for (size_t i = 0; i < H; ++i) s += cw[c * H + i] * pooled[i];
    EXPECT_NEAR(got[0].probs[c], s, 1e-4);
  }
}

TEST(PoolerConfig, DimensionsTaskAndTheirLimits) {
  auto e = open("bert-st-embedding", R"({"dimensions": 8, "task": "embed"})");
  auto r = e->embed({{"a short text"}});
  ASSERT_TRUE(r[0].ok());
  EXPECT_EQ(r[0].embedding.size(), 8u);
  EXPECT_EQ(e->info().default_task, "embed");
  EXPECT_EQ(open("bert-tokcls", "{}")->info().default_task, "token_classify");
  EXPECT_EQ(open("bert-tokcls", R"({"task": "embed"})")->info().default_task, "embed");
  EXPECT_THROW(open("bert-st-embedding", R"({"task": "classify"})"), Error);   // no classifier
  EXPECT_THROW(open("bert-st-embedding", R"({"dimensions": 4096})"), Error);   // over hidden
  EXPECT_THROW(open("bert-tokcls", R"({"returned_token_ids": [7]})"), Error);  // 7 labels: 0..6
  EXPECT_EQ(open("bert-tokcls", R"({"step_tag_id": 5})")->info().tok_pooling, "STEP");
}

}  // namespace
}  // namespace vkcls::test
