// The default model that ships in assets/models: vkcls reproduces the held-out accuracy
// stated in its model card (computed with transformers by tools/train_default_model.py),
// and agrees with transformers' probabilities on the README's sample texts.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "vkcls/engine.h"

namespace vkcls::test {
namespace {

namespace fs = std::filesystem;
const fs::path kRepo = fs::path(VKCLS_TEST_DATA).parent_path().parent_path();

nlohmann::json read_json(const fs::path& p) {
  std::ifstream f(p);
  return nlohmann::json::parse(f);
}

TEST(DefaultModel, HeldOutAccuracyAsStated) {
  auto expected = read_json(kRepo / "tests/data/default_model/expected.json");
  fs::path model = kRepo / expected["model"].get<std::string>();
  auto engine = Engine::open({.model_dir = model.string(), .dtype = "f32"});
  auto hf = expected["hf_predictions"].get<std::vector<std::string>>();
  std::vector<TextInput> texts;
  std::vector<std::string> labels;
  std::ifstream f(kRepo / "tests/data/default_model/heldout.jsonl");
  for (std::string line; std::getline(f, line);) {
    auto j = nlohmann::json::parse(line);
    texts.push_back({j["text"].get<std::string>()});
    labels.push_back(j["label"].get<std::string>());
  }
  ASSERT_EQ(int64_t(texts.size()), expected["n"].get<int64_t>());
  auto results = engine->classify(texts);
  int correct = 0, disagree = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].error;
    correct += results[i].label == labels[i];
    disagree += results[i].label != hf.at(i);
  }
  EXPECT_LE(disagree, 1) << "texts where vkcls and transformers predict different labels";
  double acc = double(correct) / texts.size();
  std::printf("default model %s: held-out accuracy %.4f (%d/%zu), stated %.4f\n", model.filename().c_str(), acc,
              correct, texts.size(), expected["accuracy"].get<double>());
  // fp32 on the device vs transformers fp32 on the CPU: at most one borderline text may flip
  EXPECT_NEAR(acc, expected["accuracy"].get<double>(), 1.0 / texts.size() + 1e-9);
}

TEST(DefaultModel, SamplesMatchTransformers) {
  auto expected = read_json(kRepo / "tests/data/default_model/expected.json");
  fs::path model = kRepo / expected["model"].get<std::string>();
  auto ref = read_json(model / "reference.json");
  auto engine = Engine::open({.model_dir = model.string(), .dtype = "f32"});
  for (auto& s : ref["samples"]) {
    auto r = engine->classify({{s["text"].get<std::string>()}});
    ASSERT_TRUE(r[0].ok()) << r[0].error;
    EXPECT_EQ(r[0].label, s["label"].get<std::string>()) << s["text"];
    auto probs = s["probs"].get<std::vector<float>>();
    for (size_t k = 0; k < probs.size(); ++k) EXPECT_NEAR(r[0].probs[k], probs[k], 1e-4) << s["text"];
  }
}

}  // namespace
}  // namespace vkcls::test
