// Golden tests: every fixture model folder under tests/data/{models, rope_encoders}
// (built with Hugging Face transformers by each folder's make_fixtures.py) against the outputs
// HF computed on the same weights and inputs. fp32 path: logits within 1e-4 relative; fp16 path:
// within 2e-2; probabilities and argmax labels identical. Hidden states are compared where the
// fixture stores them (short inputs); logits and embeddings for every input, up to 8k tokens.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "models/safetensors.h"
#include "poolers/activation.h"
#include "vkcls/engine.h"

namespace vkcls::test {
namespace {

namespace fs = std::filesystem;
const fs::path kData = fs::path(VKCLS_TEST_DATA);
const char* const kRoots[] = {"models", "rope_encoders"};

// "root/folder" of every fixture with a reference.json
std::vector<std::string> fixture_folders() {
  std::vector<std::string> out;
  for (const char* root : kRoots) {
    if (!fs::exists(kData / root)) continue;
    for (auto& e : fs::directory_iterator(kData / root))
      if (fs::exists(e.path() / "reference.json"))
        out.push_back(std::string(root) + "/" + e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct Reference {
  nlohmann::json meta;
  WeightStore tensors;
  std::vector<float> f(const std::string& n) const { return tensors.to_f32(n); }
  bool has(const std::string& n) const { return tensors.has(n); }
  std::vector<int32_t> ids(const std::string& n) const {
    if (!tensors.has(n)) return {};
    const WeightView& v = tensors.get(n);
    std::vector<int32_t> out(v.numel());
    std::memcpy(out.data(), v.data, out.size() * 4);
    return out;
  }
};

Reference load_reference(const std::string& folder) {
  std::ifstream f(kData / folder / "reference.json");
  return {nlohmann::json::parse(f),
          WeightStore::open_file((kData / folder / "reference.safetensors").string())};
}

// |got - want| <= tol * max(|want|, floor * max|want_vector|, 0.1): relative, with a floor so
// that a logit near zero is judged against the scale of its vector (and of O(1) activations).
// fp32 uses floor 0.1. fp16 weights use floor 1 (normwise): these random fixtures amplify weight
// rounding (transformers itself, with fp16-rounded weights, moves distilbert-seqcls logits by 0.9%
// of their scale), so fp16 is held to 2e-2 of the vector's scale and to identical argmax.
::testing::AssertionResult close(const std::vector<float>& got, const std::vector<float>& want,
                                 double rtol, const std::string& what, double floor = 0.1) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure()
           << what << ": size " << got.size() << " vs " << want.size();
  double scale = 1e-3;
  for (float w : want) scale = std::max(scale, double(std::abs(w)));
  for (size_t i = 0; i < got.size(); ++i) {
    double err = std::abs(double(got[i]) - want[i]);
    if (!(err <= rtol * std::max({double(std::abs(want[i])), floor * scale, 0.1})))
      return ::testing::AssertionFailure()
             << what << "[" << i << "]: got " << got[i] << ", want " << want[i] << " (rel err "
             << err / std::max(std::abs(want[i]), 1e-12f) << ")";
  }
  return ::testing::AssertionSuccess();
}

int64_t argmax(const std::vector<float>& v) {
  return std::max_element(v.begin(), v.end()) - v.begin();
}

// Base folders: CLS and (fp32 only, to keep the suite short) MEAN pooling through the pooler
// config, for every input, against the pooled rows of HF's last hidden state.
void check_embeddings(const std::string& folder, const std::string& dtype, const Reference& ref,
                      const std::vector<Engine::IdsInput>& ids, double tol) {
  const double floor = dtype == "f16" ? 1.0 : 0.1;
  for (const char* pooling : {"CLS", "MEAN"}) {
    if (dtype == "f16" && pooling == std::string("MEAN")) continue;
    SCOPED_TRACE(pooling);
    auto engine = Engine::open(
        {.model_dir = (kData / folder).string(),
         .dtype = dtype,
         .pooler = parse_pooler_config(fmt::format(R"({{"pooling_type": "{}"}})", pooling))});
    auto got = engine->forward_ids(ids, "embed");
    const std::string key = pooling == std::string("CLS") ? "embedding_cls" : "embedding_mean";
    for (size_t i = 0; i < ids.size(); ++i)
      EXPECT_TRUE(close(got[i], ref.f(fmt::format("{}.{}", key, i)), tol * 2,
                        fmt::format("{}.{}", key, i), floor));
  }
}

// One model folder, one weight dtype: hidden states, logits, probabilities, argmax.
void check_ids_path(const std::string& folder, const std::string& dtype, const Reference& ref) {
  SCOPED_TRACE(folder + " " + dtype);
  auto engine = Engine::open({.model_dir = (kData / folder).string(), .dtype = dtype});
  // fp16 weights: 2e-2 of the vector's scale for the BERT family; the deeper-normed RoPE and
  // decoder fixtures (pre-norm, GLU MLPs, 8k tokens) amplify weight rounding more, so 5e-2 there.
  // The argmax must be identical in both.
  const bool bert_family = folder.rfind("models/", 0) == 0;
  const double tol = dtype == "f16" ? (bert_family ? 2e-2 : 5e-2) : 1e-4;
  const std::string head = ref.meta["head"];
  const auto& inputs = ref.meta["inputs"];
  std::vector<Engine::IdsInput> ids;
  for (size_t i = 0; i < inputs.size(); ++i)
    ids.push_back(
        {ref.ids(fmt::format("input_ids.{}", i)), ref.ids(fmt::format("token_type_ids.{}", i))});

  // hidden state after the first layer, and the last one, for the inputs the fixture keeps them
  for (const char* what : {"hidden1", "hidden"}) {
    const std::string key = what == std::string("hidden1") ? "hidden_states_1" : "last_hidden";
    std::vector<Engine::IdsInput> kept;
    std::vector<size_t> index;
    for (size_t i = 0; i < ids.size(); ++i)
      if (ref.has(fmt::format("{}.{}", key, i))) {
        kept.push_back(ids[i]);
        index.push_back(i);
      }
    auto got = engine->forward_ids(kept, what);
    for (size_t k = 0; k < kept.size(); ++k) {
      const std::string name = fmt::format("{}.{}", key, index[k]);
      EXPECT_TRUE(close(got[k], ref.f(name), tol * 2, name, dtype == "f16" ? 1.0 : 0.1));
    }
  }
  if (head.rfind("base", 0) == 0) {
    if (ref.has("embedding_cls.0")) check_embeddings(folder, dtype, ref, ids, tol);
    return;  // the models/ base folders' embeddings are checked in test_embed
  }

  auto str = [&](const char* key) {
    return ref.meta.contains(key) && ref.meta[key].is_string() ? ref.meta[key].get<std::string>()
                                                               : std::string();
  };
  const std::string expected_activation = str("activation");
  EXPECT_EQ(engine->info().activation,
            expected_activation == "none" ? "identity" : expected_activation);
  Activation act = expected_activation == "softmax"   ? Activation::softmax
                   : expected_activation == "sigmoid" ? Activation::sigmoid
                                                      : Activation::identity;
  auto logits = engine->forward_ids(ids, head == "tokcls" ? "token_classify" : "classify");
  const int64_t L = ref.meta["num_labels"];
  for (size_t i = 0; i < ids.size(); ++i) {
    auto want = ref.f(fmt::format("logits.{}", i));
    // fp32: 1e-4 of each element (with a floor of 0.1 x the vector's scale); past 2,048 tokens
    // 1e-4 of the vector's scale (normwise): fp32 sums over 8k keys differ from torch's in
    // order, so an element of an 8k-token sequence can be 1.2e-4 off itself (1.4e-5 normwise).
    const double floor = dtype == "f16" || ids[i].ids.size() > 2048 ? 1.0 : 0.1;
    EXPECT_TRUE(close(logits[i], want, tol, fmt::format("{} logits.{}", folder, i), floor));
    // long inputs store no probs: HF's activation of the stored logits (in fp32, as HF)
    std::vector<float> want_p =
        ref.has(fmt::format("probs.{}", i)) ? ref.f(fmt::format("probs.{}", i)) : want;
    if (!ref.has(fmt::format("probs.{}", i)))
      for (size_t r = 0; r * L < want_p.size(); ++r) {
        std::vector<float> row(want_p.begin() + r * L, want_p.begin() + (r + 1) * L);
        apply_activation(act, row);
        std::copy(row.begin(), row.end(), want_p.begin() + r * L);
      }
    for (size_t r = 0; r * L < logits[i].size(); ++r) {  // one row per sequence, or per token
      std::vector<float> got(logits[i].begin() + r * L, logits[i].begin() + (r + 1) * L);
      std::vector<float> wp(want_p.begin() + r * L, want_p.begin() + (r + 1) * L);
      apply_activation(act, got);
      EXPECT_TRUE(close(got, wp, tol, fmt::format("probs.{} row {}", i, r), floor));
      if (L > 1 && act != Activation::identity) {
        EXPECT_EQ(argmax(got), argmax(wp)) << "input " << i << " row " << r;
      }
    }
  }
}

// The text path: our tokenizer + engine give HF's probabilities for the fixture texts (up to
// 2,048 tokens: the longer ones are checked from ids, and the tokenizer's parity on long texts
// in tests/tokenizer).
void check_text_path(const std::string& folder, const Reference& ref) {
  SCOPED_TRACE(folder + " from text");
  auto engine = Engine::open({.model_dir = (kData / folder).string(), .dtype = "f32"});
  std::vector<TextInput> texts;
  std::vector<size_t> index;
  for (auto& in : ref.meta["inputs"]) {
    if (in.value("ids_only", false) || !in["text"].is_string()) continue;  // no text: ids only
    if (in["text"].get<std::string>().empty())
      continue;  // empty text is an error by design (test_errors)
    if (in["num_tokens"].get<int64_t>() > 2048) continue;
    TextInput t{in["text"].get<std::string>()};
    if (!in["text_pair"].is_null()) t.text_pair = in["text_pair"].get<std::string>();
    texts.push_back(t);
    index.push_back(in["index"].get<size_t>());
  }
  auto results = engine->classify(texts);
  for (size_t k = 0; k < results.size(); ++k) {
    ASSERT_TRUE(results[k].ok()) << results[k].error;
    EXPECT_TRUE(close(results[k].probs, ref.f(fmt::format("probs.{}", index[k])), 1e-4,
                      fmt::format("probs.{}", index[k])));
    EXPECT_EQ(results[k].label_index, ref.meta["inputs"][index[k]]["argmax"].get<int64_t>());
    EXPECT_EQ(results[k].prompt_tokens, ref.meta["inputs"][index[k]]["num_tokens"].get<int64_t>());
  }
}

// One test per folder (one process under ctest): both weight dtypes, then the text path.
class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, MatchesTransformers) {
  Reference ref = load_reference(GetParam());
  check_ids_path(GetParam(), "f32", ref);
  check_ids_path(GetParam(), "f16", ref);
  if (ref.meta["head"] == "seqcls") check_text_path(GetParam(), ref);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Golden, ::testing::ValuesIn(fixture_folders()),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           std::replace(n.begin(), n.end(), '/', '_');
                           return n;
                         });

}  // namespace
}  // namespace vkcls::test
