// Paged KV memory end to end (causal decoders): chunked prefill equals one pass for every
// decoder family (every row's final hidden state, and the classifier's output), chunk sizes
// 16..2048, chunk boundaries inside pages and inside Gemma 2's sliding window, lengths up to 8k;
// the prefix cache computes a shared prefix once and changes no score; cache_salt keeps
// tenants apart; a cache too small for all requests at once makes them wait, not fail.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <thread>

#include "vkcls/engine.h"

namespace vkcls::test {
namespace {

const std::filesystem::path kDecoders = std::filesystem::path(VKCLS_TEST_DATA) / "decoders";

std::unique_ptr<Engine> open(const std::string& model, int64_t batch_tokens,
                             EngineOptions extra = {}) {
  extra.model_dir = (kDecoders / model).string();
  extra.max_batch_tokens = batch_tokens;
  extra.dtype = "f32";
  return Engine::open(extra);
}

std::vector<int32_t> random_ids(size_t n, uint32_t seed, int32_t vocab = 1000) {
  std::mt19937 rng(seed);
  std::vector<int32_t> v(n);
  for (int32_t& x : v) x = int32_t(3 + rng() % uint32_t(vocab - 3));
  return v;
}

// largest |a - b| over everything, and the largest |b| (the scale)
std::pair<double, double> diff(const std::vector<std::vector<float>>& a,
                               const std::vector<std::vector<float>>& b) {
  double worst = 0, scale = 0;
  EXPECT_EQ(a.size(), b.size());
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    EXPECT_EQ(a[i].size(), b[i].size()) << "input " << i;
    for (size_t j = 0; j < std::min(a[i].size(), b[i].size()); ++j) {
      worst = std::max(worst, double(std::abs(a[i][j] - b[i][j])));
      scale = std::max(scale, double(std::abs(b[i][j])));
    }
  }
  return {worst, scale};
}

struct Family {
  std::string model;
  std::string what;  // forward_ids kind besides "hidden"
};

class ChunkedPrefill : public ::testing::TestWithParam<Family> {};

TEST_P(ChunkedPrefill, EqualsOnePass) {
  const Family& f = GetParam();
  // no prefix cache: the second kind's sequences would start after the first kind's pages
  EngineOptions no_cache;
  no_cache.prefix_cache = false;
  auto one = open(f.model, 4096, no_cache);
  ASSERT_GT(one->info().kv_pages, 0) << "a causal decoder runs with paged KV memory";
  // lengths around page (16) and chunk boundaries, several sequences per batch
  std::vector<Engine::IdsInput> inputs;
  uint32_t seed = 1;
  for (size_t n : {1, 15, 16, 17, 33, 100, 257, 1000})
    inputs.push_back({random_ids(n, seed++), {}});
  std::vector<std::string> kinds = {"hidden"};
  if (!f.what.empty()) kinds.push_back(f.what);
  std::map<std::string, std::vector<std::vector<float>>> want;
  for (const std::string& k : kinds) want[k] = one->forward_ids(inputs, k);
  for (int64_t chunk : {16, 48, 2048}) {
    auto chunked = open(f.model, chunk, no_cache);
    ASSERT_EQ(chunked->info().max_batch_tokens, chunk);
    for (const std::string& k : kinds) {
      auto [worst, scale] = diff(chunked->forward_ids(inputs, k), want[k]);
      EXPECT_LE(worst, 1e-5 * std::max(1.0, scale))
          << f.model << " " << k << ", chunks of " << chunk << " (scale " << scale << ")";
    }
    if (chunk < 1000) {
      EXPECT_GT(chunked->stats().batches, 1000u / uint64_t(chunk));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Decoders, ChunkedPrefill,
    ::testing::Values(Family{"llama-seqcls", "classify"}, Family{"llama-seqcls-bias", "classify"},
                      Family{"llama-reward", "classify"}, Family{"llama-rope-linear", "classify"},
                      Family{"llama-rope-llama3", "classify"},
                      Family{"llama-rope-yarn", "classify"},
                      Family{"llama-rope-dynamic", "classify"}, Family{"qwen2-seqcls", ""},
                      Family{"qwen3-seqcls", "classify"}, Family{"qwen3-tokcls", "token_classify"},
                      Family{"gemma-seqcls", "classify"}, Family{"gemma2-seqcls", "classify"},
                      Family{"gpt2-seqcls", "classify"}),
    [](const auto& info) {
      std::string n = info.param.model;
      std::replace(n.begin(), n.end(), '-', '_');
      return n;
    });

// fp16 weights and an fp16 KV cache: chunks equal one pass as closely, and both stay near fp32.
TEST(ChunkedPrefillF16, EqualsOnePassAndStaysNearF32) {
  EngineOptions o;
  o.prefix_cache = false;
  std::vector<Engine::IdsInput> in = {{random_ids(300, 3), {}}, {random_ids(40, 4), {}}};
  auto f32 = open("qwen3-seqcls", 4096, o)->forward_ids(in, "classify");
  o.dtype = "f16";
  auto f16 = [&](int64_t batch) {
    o.model_dir = (kDecoders / "qwen3-seqcls").string();
    o.max_batch_tokens = batch;
    return Engine::open(o);
  };
  auto one = f16(4096);
  ASSERT_EQ(one->info().dtype, "f16");
  auto want = one->forward_ids(in, "classify");
  auto [worst, scale] = diff(f16(16)->forward_ids(in, "classify"), want);
  EXPECT_LE(worst, 1e-5 * std::max(1.0, scale));
  auto [drift, s32] = diff(want, f32);
  EXPECT_LE(drift, 2e-2 * std::max(1.0, s32)) << "fp16 against fp32";
}

// 8k tokens through chunks of 512 and 2048 (RoPE past the fixture's 1024 positions via
// --hf-overrides) against one pass.
TEST(ChunkedPrefillLong, EightThousandTokens) {
  EngineOptions o;
  o.hf_overrides = R"({"max_position_embeddings": 8192})";
  auto one = open("qwen3-seqcls", 8192, o);
  std::vector<Engine::IdsInput> in = {{random_ids(8192, 5), {}}, {random_ids(3000, 6), {}}};
  auto want = one->forward_ids(in, "hidden");
  for (int64_t chunk : {512, 2048}) {
    auto chunked = open("qwen3-seqcls", chunk, o);
    auto [worst, scale] = diff(chunked->forward_ids(in, "hidden"), want);
    EXPECT_LE(worst, 1e-5 * std::max(1.0, scale)) << "chunks of " << chunk;
  }
}

std::vector<ClassifyResult> classify_ids(Engine& e, const std::vector<std::vector<int32_t>>& ids,
                                         const std::string& salt = "") {
  Request r;
  r.task = Task::classify;
  for (const auto& v : ids) r.inputs.push_back({.token_ids = v});
  r.params.cache_salt = salt;
  r.params.use_activation = false;
  return e.submit(std::move(r))->take().classify;
}

// One 500-token query against 100 documents: the query's 31 full pages are computed once, 99
// sequences find them, and no score moves.
TEST(PrefixCache, RerankingComputesTheSharedQueryOnce) {
  std::vector<int32_t> query = random_ids(500, 7);
  std::vector<std::vector<int32_t>> docs;
  for (uint32_t d = 0; d < 100; ++d) {
    std::vector<int32_t> v = query;
    std::vector<int32_t> doc = random_ids(20, 100 + d);
    v.insert(v.end(), doc.begin(), doc.end());
    docs.push_back(v);
  }
  auto cached = open("llama-reward", 0);
  EngineOptions off;
  off.prefix_cache = false;
  auto plain = open("llama-reward", 0, off);
  ASSERT_TRUE(cached->info().prefix_cache);
  auto a = classify_ids(*cached, docs), b = classify_ids(*plain, docs);
  ASSERT_EQ(a.size(), 100u);
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_TRUE(a[i].ok()) << a[i].error;
    worst = std::max(worst, double(std::abs(a[i].probs[0] - b[i].probs[0])));
  }
  EXPECT_LE(worst, 1e-6);
  EngineStats s = cached->stats(), p = plain->stats();
  EXPECT_EQ(s.prefix_cache_hit_tokens, 99u * 496u);
  EXPECT_EQ(s.prefix_cache_query_tokens, 100u * 520u);
  EXPECT_EQ(p.prefix_cache_hit_tokens, 0u);
  EXPECT_EQ(s.tokens + 99u * 496u, p.tokens) << "the cached tokens were not computed";
}

TEST(PrefixCache, SaltsKeepTenantsApart) {
  auto e = open("qwen3-seqcls", 0);
  std::vector<std::vector<int32_t>> ids = {random_ids(100, 9)};
  auto first = classify_ids(*e, ids, "alice");
  EXPECT_EQ(e->stats().prefix_cache_hit_tokens, 0u);
  auto other = classify_ids(*e, ids, "bob");
  EXPECT_EQ(e->stats().prefix_cache_hit_tokens, 0u) << "bob found alice's pages";
  auto unsalted = classify_ids(*e, ids);
  EXPECT_EQ(e->stats().prefix_cache_hit_tokens, 0u) << "an unsalted request found salted pages";
  auto again = classify_ids(*e, ids, "alice");
  EXPECT_EQ(e->stats().prefix_cache_hit_tokens, 96u);  // 6 full pages of the 99 before the last
  EXPECT_EQ(first[0].probs, other[0].probs);
  for (size_t j = 0; j < first[0].probs.size(); ++j)
    EXPECT_NEAR(first[0].probs[j], again[0].probs[j], 1e-6);
}

TEST(PrefixCache, TokenClassifyNeverReadsCachedPages) {
  auto e = open("qwen3-tokcls", 0);
  Request r;
  r.task = Task::token_classify;
  r.inputs.push_back({.token_ids = random_ids(64, 3)});
  Request again = r;
  auto a = e->submit(std::move(r))->take().token_classify;
  auto b = e->submit(std::move(again))->take().token_classify;
  EXPECT_EQ(e->stats().prefix_cache_hit_tokens, 0u);
  ASSERT_TRUE(a[0].ok() && b[0].ok());
  EXPECT_EQ(a[0].tokens.size(), 64u);
  EXPECT_EQ(b[0].tokens.size(), 64u);
}

// A cache that holds about two long inputs: 32 requests from 16 threads, long and short, all
// answered as an unbounded cache answers them; one input longer than the whole cache is refused
// by name.
TEST(KvMemory, RequestsWaitForPagesAndAllComplete) {
  auto big = open("llama-seqcls", 256);
  const uint64_t per_token =
      big->info().kv_cache_bytes / uint64_t(big->info().kv_pages * big->info().kv_page_size);
  EngineOptions small;
  small.kv_cache_memory = 520 * per_token;
  auto e = open("llama-seqcls", 256, small);
  ASSERT_EQ(e->info().kv_pages, 32);  // 512 tokens

  std::vector<std::vector<int32_t>> inputs;
  for (uint32_t i = 0; i < 32; ++i)
    inputs.push_back(random_ids(i % 4 == 0 ? 300 : 20 + 7 * i, 40 + i));
  std::vector<std::vector<ClassifyResult>> got(inputs.size());
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 16; ++t)
    threads.emplace_back([&, t] {
      for (size_t i = t; i < inputs.size(); i += 16) got[i] = classify_ids(*e, {inputs[i]});
    });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto want = classify_ids(*big, {inputs[i]});
    ASSERT_EQ(got[i].size(), 1u);
    ASSERT_TRUE(got[i][0].ok()) << got[i][0].error;
    for (size_t j = 0; j < want[0].probs.size(); ++j)
      EXPECT_NEAR(got[i][0].probs[j], want[0].probs[j], 1e-5) << "input " << i;
  }
  EngineStats s = e->stats();
  EXPECT_EQ(s.kv_pages_in_use, 0) << "pages leaked";
  auto too_long = classify_ids(*e, {random_ids(600, 1), random_ids(10, 2)});
  EXPECT_EQ(too_long[0].error_kind, ErrorKind::too_long);
  EXPECT_NE(too_long[0].error.find("600 tokens need 38 KV-cache pages"), std::string::npos)
      << too_long[0].error;
  EXPECT_TRUE(too_long[1].ok()) << "the other input of the request was lost";
}

TEST(KvMemory, ABudgetBelowOnePageIsRefusedAtOpen) {
  EngineOptions o;
  o.kv_cache_memory = 100;
  try {
    open("llama-seqcls", 0, o);
    FAIL() << "opened";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
    EXPECT_NE(std::string(e.what()).find("kv_cache_memory: 100 bytes hold no KV page"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace vkcls::test
