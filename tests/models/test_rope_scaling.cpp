// RoPE frequencies from config.json (models/rope_scaling.h) against the inv_freq buffers that
// transformers 5.23 computed for the decoder fixtures (reference.safetensors rope_inv_freq), for
// default, linear, dynamic (the unscaled buffer), llama3 and yarn, in both config spellings: bit
// for bit, except where torch's own float32 pow (vectorised, 1-ulp accurate) is not correctly
// rounded: rope_inv_freq rounds the exact power, so such an entry may differ by one ulp. Of the
// 17 buffers only gemma's theta^(222/256) does (torch 2942.72705, exact 2942.72729). And the
// errors for what is not supported.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "models/config.h"
#include "models/rope_scaling.h"
#include "models/safetensors.h"
#include "vkcls/types.h"

namespace vkcls::test {
namespace {

namespace fs = std::filesystem;
const fs::path kDecoders = fs::path(VKCLS_TEST_DATA) / "decoders";

TEST(RopeScaling, InvFreqEqualsTransformersBitForBit) {
  int checked = 0;
  size_t total_off = 0;
  for (const auto& e : fs::directory_iterator(kDecoders)) {
    if (!fs::exists(e.path() / "reference.safetensors")) continue;
    WeightStore ref = WeightStore::open_file((e.path() / "reference.safetensors").string());
    if (!ref.has("rope_inv_freq")) continue;  // GPT-2: learned positions
    SCOPED_TRACE(e.path().filename().string());
    ModelConfig cfg = load_model_config(e.path().string());
    std::vector<float> want = ref.to_f32("rope_inv_freq");
    RopeScaling r = rope_scaling_from_config(cfg, int64_t(want.size()) * 2);
    ASSERT_EQ(r.inv_freq.size(), want.size());
    size_t one_ulp = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      int32_t a, b;
      std::memcpy(&a, &r.inv_freq[i], 4);
      std::memcpy(&b, &want[i], 4);
      if (a == b) continue;
      ++one_ulp;
      EXPECT_EQ(std::abs(a - b), 1)
          << r.kind << " inv_freq[" << i << "]: " << r.inv_freq[i] << " vs " << want[i];
    }
    EXPECT_LE(one_ulp, want.size() / 100) << r.kind << ": " << one_ulp << " entries one ulp off";
    total_off += one_ulp;
    if (r.kind == "yarn") {
      EXPECT_NEAR(r.attention_scale, 0.1 * std::log(4.0) + 1.0, 1e-7);  // factor 4
    } else {
      EXPECT_EQ(r.attention_scale, 1.f);
    }
    ++checked;
  }
  EXPECT_GE(checked, 16);    // every folder but GPT-2
  EXPECT_LE(total_off, 2u);  // gemma-seqcls and gemma-bge-reranker-causallm, entry 111
}

ModelConfig config_with(const nlohmann::json& extra) {
  nlohmann::json j = {{"model_type", "llama"},         {"hidden_size", 64},
                      {"num_hidden_layers", 1},        {"num_attention_heads", 4},
                      {"intermediate_size", 96},       {"vocab_size", 10},
                      {"max_position_embeddings", 128}};
  j.update(extra);
  return parse_model_config(j, "test config.json");
}

// Dynamic NTK: the default frequencies up to max_position_embeddings, then the formula's base
// for the input's own length (transformers' _compute_dynamic_ntk_parameters).
TEST(RopeScaling, DynamicDependsOnLength) {
  RopeScaling r = rope_scaling_from_config(
      config_with({{"rope_scaling", {{"type", "dynamic"}, {"factor", 2.0}}}}), 16);
  EXPECT_TRUE(r.per_length());
  EXPECT_EQ(r.inv_freq_for_length(128), r.inv_freq);
  std::vector<float> f300 = r.inv_freq_for_length(300), f1024 = r.inv_freq_for_length(1024);
  EXPECT_EQ(f300[0], 1.f);                    // i = 0: base^0
  EXPECT_LT(f300.back(), r.inv_freq.back());  // longer inputs: lower frequencies
  EXPECT_LT(f1024.back(), f300.back());
  const double base = 10000.0 * std::pow(2.0 * 300 / 128 - 1.0, 16.0 / 14.0);
  EXPECT_NEAR(f300[1], 1.0 / std::pow(base, 2.0 / 16), 1e-7);
}

TEST(RopeScaling, UnsupportedOrBadScalingIsAModelError) {
  auto kind_of = [](const nlohmann::json& extra) {
    try {
      rope_scaling_from_config(config_with(extra), 16);
    } catch (const Error& e) {
      return e.kind();
    }
    return ErrorKind::none;
  };
  EXPECT_EQ(kind_of({{"rope_scaling", {{"rope_type", "longrope"}, {"factor", 2.0}}}}),
            ErrorKind::model);
  EXPECT_EQ(kind_of({{"rope_scaling", {{"rope_type", "linear"}, {"factor", 0.5}}}}),
            ErrorKind::model);
  EXPECT_EQ(kind_of({{"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}}}}),
            ErrorKind::model);
  EXPECT_EQ(kind_of({{"rope_scaling", {{"rope_type", 3}}}}), ErrorKind::model);
  EXPECT_EQ(kind_of({{"rope_scaling", nullptr}}), ErrorKind::none);
  EXPECT_EQ(kind_of({{"rope_parameters", {{"rope_type", "default"}, {"rope_theta", 1e6}}}}),
            ErrorKind::none);
}

}  // namespace
}  // namespace vkcls::test
