// libFuzzer target for config.json (models/config.cpp): the bytes as a config.json, then as
// --hf-overrides merged into a small valid config. Every failure must be a ConfigError or a
// bounded-JSON error; anything else (a crash, a leak, another exception) is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/json_bounded.h"
#include "models/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    nlohmann::json j = vkcls::json_parse_bounded<nlohmann::json>(text);
    (void)vkcls::parse_model_config(j, "config.json");
  } catch (const vkcls::ConfigError&) {
  } catch (const vkcls::JsonParseError&) {
  }
  try {
    nlohmann::json base = {{"model_type", "bert"},     {"architectures", {"BertModel"}},
                           {"hidden_size", 32},        {"num_hidden_layers", 2},
                           {"num_attention_heads", 4}, {"intermediate_size", 64},
                           {"vocab_size", 100},        {"max_position_embeddings", 64}};
    nlohmann::json overrides = vkcls::json_parse_bounded<nlohmann::json>(text);
    vkcls::merge_overrides(base, overrides);
    (void)vkcls::parse_model_config(base, "config.json");
  } catch (const vkcls::ConfigError&) {
  } catch (const vkcls::JsonParseError&) {
  }
  return 0;
}
