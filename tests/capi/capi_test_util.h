// What the C API tests share: paths, and the engines they use, each opened on first use (ctest
// runs every test in its own process: only the engines a test needs) and closed after the suite.
#pragma once
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "vkcls/vkcls.h"

namespace vkcls_test {

inline const std::string kRepo = VKCLS_SOURCE_DIR;
inline const std::string kDefaultModel = kRepo + "/assets/models/sentiment-minilm-l4";
inline const std::string kModels = kRepo + "/tests/data/models/";

inline bool contains(const char* s, const std::string& part) {
  return s && std::string(s).find(part) != std::string::npos;
}

inline vkcls_engine* open_model(const std::string& dir, int64_t max_batch_tokens = 0) {
  vkcls_options o;
  vkcls_options_init(&o);
  o.model_dir = dir.c_str();
  o.dtype = "f32";
  o.max_batch_tokens = max_batch_tokens;
  vkcls_engine* e = nullptr;
  vkcls_status s = vkcls_engine_open(&o, &e);
  EXPECT_EQ(s, VKCLS_OK) << vkcls_last_error();
  return e;
}

class CApi : public ::testing::Test {
 protected:
  // 512 tokens per device batch (the model's limit, the smallest allowed): long batches take
  // several device batches, which the progress and cancel tests need
  static vkcls_engine* sentiment() { return get(kDefaultModel, 512); }
  static vkcls_engine* ner() { return get(kModels + "bert-tokcls", 0); }
  static vkcls_engine* cross() { return get(kModels + "bert-crossencoder", 0); }
  static vkcls_engine* embedder() { return get(kModels + "bert-st-embedding", 0); }

 public:
  static void TearDownTestSuite() {
    for (auto& [dir, e] : engines()) vkcls_engine_close(e);
    engines().clear();
  }

 private:
  static std::map<std::string, vkcls_engine*>& engines() {
    static std::map<std::string, vkcls_engine*> open;
    return open;
  }
  static vkcls_engine* get(const std::string& dir, int64_t max_batch_tokens) {
    vkcls_engine*& e = engines()[dir];
    if (!e) e = open_model(dir, max_batch_tokens);
    return e;
  }
};

}  // namespace vkcls_test
