// The C API's other tasks (token classification, score, rerank, embed) against each other and
// the model, progress callbacks, a call cancelled from the engine's thread (deterministically:
// from the progress callback), calls from several threads, results that outlive the engine.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "tests/capi/capi_test_util.h"

namespace vkcls_test {
namespace {

TEST_F(CApi, TokenClassifyTagsEveryTokenAndGroupsEntities) {
  const char* texts[] = {"John Smith lives in Berlin and works at Siemens."};
  vkcls_params p;
  vkcls_params_init(&p);
  p.aggregation = VKCLS_AGGREGATION_NONE;
  vkcls_token_result* r = nullptr;
  ASSERT_EQ(vkcls_token_classify(ner(), texts, 1, &p, &r), VKCLS_OK) << vkcls_last_error();
  ASSERT_EQ(r->count, 1u);
  const vkcls_token_item& it = r->items[0];
  ASSERT_EQ(it.status, VKCLS_OK) << it.error;
  ASSERT_EQ(it.num_labels, 7u);
  EXPECT_STREQ(it.labels[0], "O");
  EXPECT_EQ(int64_t(it.num_tokens), it.prompt_tokens);
  EXPECT_EQ(it.tokens[0].special, 1);
  // the fixture's vocabulary is small: "John" is several tokens, the first starts the text
  EXPECT_EQ(it.tokens[1].special, 0);
  EXPECT_EQ(it.tokens[1].start, 0);
  EXPECT_GE(it.tokens[1].end, 1);
  EXPECT_LE(it.tokens[1].end, 4);
  float sum = 0;
  for (size_t l = 0; l < it.num_labels; ++l) sum += it.tokens[1].probs[l];
  EXPECT_NEAR(sum, 1.0, 1e-5);
  for (size_t k = 0; k < it.num_entities; ++k)
    EXPECT_STRNE(it.entities[k].entity, "O");  // ignored by default

  // nothing ignored: one entity per non-special token
  p.ignore_labels = texts;  // any non-NULL pointer with no labels
  p.num_ignore_labels = 0;
  vkcls_token_result* all = nullptr;
  ASSERT_EQ(vkcls_token_classify(ner(), texts, 1, &p, &all), VKCLS_OK) << vkcls_last_error();
  EXPECT_EQ(all->items[0].num_entities, it.num_tokens - 2);
  EXPECT_EQ(all->items[0].entities[0].index, 1);
  EXPECT_STREQ(all->items[0].entities[0].word, it.tokens[1].text);
  EXPECT_EQ(all->items[0].entities[0].start, 0);
  vkcls_token_result_free(all);

  // token ids: the same probabilities
  vkcls_tokens* t = nullptr;
  ASSERT_EQ(vkcls_tokenize(ner(), texts[0], 1, &t), VKCLS_OK);
  const int32_t* ids[] = {t->ids};
  size_t lengths[] = {t->count};
  vkcls_token_result* by_ids = nullptr;
  ASSERT_EQ(vkcls_token_classify_ids(ner(), ids, lengths, 1, nullptr, &by_ids), VKCLS_OK);
  ASSERT_EQ(by_ids->items[0].num_tokens, it.num_tokens);
  EXPECT_EQ(by_ids->items[0].tokens[2].probs[3], it.tokens[2].probs[3]);
  vkcls_token_result_free(by_ids);
  vkcls_tokens_free(t);
  vkcls_token_result_free(r);
  vkcls_token_result_free(nullptr);

  p.aggregation = 99;
  EXPECT_EQ(vkcls_token_classify(ner(), texts, 1, &p, &r), VKCLS_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(vkcls_last_error_param(), "aggregation");
  vkcls_params_init(&p);
  const char* null_label[] = {nullptr};
  p.ignore_labels = null_label;
  p.num_ignore_labels = 1;
  EXPECT_EQ(vkcls_token_classify(ner(), texts, 1, &p, &r), VKCLS_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(vkcls_last_error(), "ignore_labels[0]")) << vkcls_last_error();
}

TEST_F(CApi, ScoreAndRerankAgree) {
  const char* query = "where is the station";
  const char* docs[] = {"the river is wide", "the station is behind the church", "bad \xff",
                        "trains leave from the station every hour"};
  vkcls_score_result *s = nullptr, *rr = nullptr, *top = nullptr;
  ASSERT_EQ(vkcls_score(cross(), query, docs, 4, nullptr, &s), VKCLS_OK) << vkcls_last_error();
  ASSERT_EQ(s->count, 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(s->items[i].index, i);
  EXPECT_EQ(s->items[2].status, VKCLS_ERROR_INVALID_INPUT);
  for (size_t i : {0, 1, 3}) {
    ASSERT_EQ(s->items[i].status, VKCLS_OK) << s->items[i].error;
    EXPECT_GT(s->items[i].score, 0.f);  // sigmoid
    EXPECT_LT(s->items[i].score, 1.f);
  }
  ASSERT_EQ(vkcls_rerank(cross(), query, docs, 4, 0, nullptr, &rr), VKCLS_OK);
  ASSERT_EQ(rr->count, 4u);
  EXPECT_EQ(rr->items[3].index, 2u);  // the failed one last
  for (size_t k = 0; k < 4; ++k) EXPECT_EQ(rr->items[k].score, s->items[rr->items[k].index].score);
  for (size_t k = 0; k + 2 < 4; ++k) EXPECT_GE(rr->items[k].score, rr->items[k + 1].score);
  ASSERT_EQ(vkcls_rerank(cross(), query, docs, 4, 2, nullptr, &top), VKCLS_OK);
  ASSERT_EQ(top->count, 2u);
  EXPECT_EQ(top->items[0].index, rr->items[0].index);
  EXPECT_EQ(top->items[1].index, rr->items[1].index);
  vkcls_score_result_free(top);
  vkcls_score_result_free(rr);

  // a whole pair as token ids
  vkcls_tokens* t = nullptr;
  ASSERT_EQ(vkcls_tokenize(cross(), "the station is near", 1, &t), VKCLS_OK);
  const int32_t* ids[] = {t->ids};
  size_t lengths[] = {t->count};
  vkcls_score_result* by_ids = nullptr;
  ASSERT_EQ(vkcls_score_ids(cross(), ids, lengths, 1, nullptr, &by_ids), VKCLS_OK)
      << vkcls_last_error();
  ASSERT_EQ(by_ids->items[0].status, VKCLS_OK) << by_ids->items[0].error;
  EXPECT_EQ(by_ids->items[0].prompt_tokens, int64_t(t->count));
  vkcls_score_result_free(by_ids);
  vkcls_tokens_free(t);
  vkcls_score_result_free(s);
  vkcls_score_result_free(nullptr);

  EXPECT_EQ(vkcls_score(cross(), nullptr, docs, 1, nullptr, &s), VKCLS_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(vkcls_last_error_param(), "query");
  EXPECT_EQ(vkcls_rerank(cross(), query, nullptr, 1, 0, nullptr, &s), VKCLS_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(vkcls_last_error_param(), "documents");
}

TEST_F(CApi, EmbeddingsAreNormalisedAndTruncatable) {
  const char* texts[] = {"a sentence to embed", "another one"};
  vkcls_embed_result* r = nullptr;
  ASSERT_EQ(vkcls_embed(embedder(), texts, 2, nullptr, &r), VKCLS_OK) << vkcls_last_error();
  const vkcls_model_info* info = nullptr;
  ASSERT_EQ(vkcls_engine_info(embedder(), &info), VKCLS_OK);
  ASSERT_EQ(r->items[0].status, VKCLS_OK) << r->items[0].error;
  ASSERT_EQ(int64_t(r->items[0].dimensions), info->hidden_size);
  double norm = 0;
  for (size_t d = 0; d < r->items[0].dimensions; ++d)
    norm += double(r->items[0].embedding[d]) * r->items[0].embedding[d];
  EXPECT_NEAR(norm, 1.0, 1e-4);

  vkcls_params p;
  vkcls_params_init(&p);
  p.dimensions = 8;
  p.normalize = 0;
  vkcls_embed_result* small = nullptr;
  ASSERT_EQ(vkcls_embed(embedder(), texts, 1, &p, &small), VKCLS_OK) << vkcls_last_error();
  EXPECT_EQ(small->items[0].dimensions, 8u);
  vkcls_embed_result_free(small);
  p.dimensions = 100000;
  EXPECT_EQ(vkcls_embed(embedder(), texts, 1, &p, &small), VKCLS_ERROR_INVALID_INPUT);
  EXPECT_STREQ(vkcls_last_error_param(), "dimensions");

  vkcls_tokens* t = nullptr;
  ASSERT_EQ(vkcls_tokenize(embedder(), texts[1], 1, &t), VKCLS_OK);
  const int32_t* ids[] = {t->ids};
  size_t lengths[] = {t->count};
  vkcls_embed_result* by_ids = nullptr;
  ASSERT_EQ(vkcls_embed_ids(embedder(), ids, lengths, 1, nullptr, &by_ids), VKCLS_OK);
  ASSERT_EQ(by_ids->items[0].dimensions, r->items[1].dimensions);
  for (size_t d = 0; d < r->items[1].dimensions; ++d)
    ASSERT_EQ(by_ids->items[0].embedding[d], r->items[1].embedding[d]) << d;
  vkcls_embed_result_free(by_ids);
  vkcls_tokens_free(t);
  vkcls_embed_result_free(r);
  vkcls_embed_result_free(nullptr);
}

// ---- progress and cancellation

std::vector<std::string> long_batch(size_t n) {
  std::vector<std::string> texts;
  for (size_t i = 0; i < n; ++i) {
    std::string t = "text " + std::to_string(i) + ":";
    for (int w = 0; w < 60; ++w) t += " a rather good film";
    texts.push_back(t);  // ~250 tokens: two per 512-token device batch
  }
  return texts;
}

struct Progress {
  std::vector<std::pair<size_t, size_t>> calls;
  vkcls_cancel_token* cancel_at_first = nullptr;
  std::thread::id thread;
};

void on_progress(size_t done, size_t total, void* user) {
  auto* p = static_cast<Progress*>(user);
  p->calls.emplace_back(done, total);
  p->thread = std::this_thread::get_id();
  if (p->cancel_at_first && p->calls.size() == 1) {
    EXPECT_EQ(vkcls_cancel(p->cancel_at_first), VKCLS_OK);
  }
}

TEST_F(CApi, ProgressIsReportedAfterEveryDeviceBatch) {
  std::vector<std::string> texts = long_batch(6);
  std::vector<const char*> ptrs;
  for (auto& t : texts) ptrs.push_back(t.c_str());
  Progress prog;
  vkcls_params p;
  vkcls_params_init(&p);
  p.progress = on_progress;
  p.progress_user_data = &prog;
  vkcls_classify_result* r = nullptr;
  ASSERT_EQ(vkcls_classify(sentiment(), ptrs.data(), ptrs.size(), &p, &r), VKCLS_OK)
      << vkcls_last_error();
  for (size_t i = 0; i < r->count; ++i) EXPECT_EQ(r->items[i].status, VKCLS_OK);
  vkcls_classify_result_free(r);
  ASSERT_GE(prog.calls.size(), 3u);  // 6 inputs, at most 2 per device batch
  for (size_t k = 0; k < prog.calls.size(); ++k) {
    EXPECT_EQ(prog.calls[k].second, 6u);
    if (k) {
      EXPECT_GT(prog.calls[k].first, prog.calls[k - 1].first);
    }
  }
  EXPECT_EQ(prog.calls.back().first, 6u);
  EXPECT_NE(prog.thread, std::this_thread::get_id());  // the engine's thread
}

TEST_F(CApi, ACancelFromTheEnginesThreadStopsTheCallAtTheNextBatch) {
  std::vector<std::string> texts = long_batch(20);  // 10 device batches or more
  std::vector<const char*> ptrs;
  for (auto& t : texts) ptrs.push_back(t.c_str());
  vkcls_cancel_token* token = nullptr;
  ASSERT_EQ(vkcls_cancel_token_new(&token), VKCLS_OK);
  Progress prog;
  prog.cancel_at_first = token;
  vkcls_params p;
  vkcls_params_init(&p);
  p.progress = on_progress;
  p.progress_user_data = &prog;
  p.cancel = token;
  vkcls_classify_result* r = nullptr;
  ASSERT_EQ(vkcls_classify(sentiment(), ptrs.data(), ptrs.size(), &p, &r), VKCLS_ERROR_CANCELLED);
  EXPECT_TRUE(contains(vkcls_last_error(), "cancelled")) << vkcls_last_error();
  ASSERT_NE(r, nullptr);  // the items that ran keep their results
  ASSERT_EQ(r->count, 20u);
  // the first device batch ran (its progress call cancelled), and at most the one launched
  // while it ran (two slots); everything after was dropped before it reached the device
  size_t ok = 0, cancelled = 0;
  for (size_t i = 0; i < r->count; ++i) {
    ok += r->items[i].status == VKCLS_OK;
    cancelled += r->items[i].status == VKCLS_ERROR_CANCELLED;
  }
  EXPECT_GE(ok, 1u);
  EXPECT_LE(ok, 4u);
  EXPECT_EQ(ok + cancelled, 20u);
  EXPECT_EQ(r->items[0].status, VKCLS_OK) << r->items[0].error;
  EXPECT_STREQ(r->items[0].label, "positive");
  EXPECT_EQ(r->items[19].status, VKCLS_ERROR_CANCELLED);
  EXPECT_TRUE(contains(r->items[19].error, "cancelled")) << r->items[19].error;
  EXPECT_LE(prog.calls.size(), 2u);
  vkcls_classify_result_free(r);

  // the token stays cancelled: a later call runs nothing (no progress at all)
  Progress none;
  p.progress_user_data = &none;
  ASSERT_EQ(vkcls_classify(sentiment(), ptrs.data(), 2, &p, &r), VKCLS_ERROR_CANCELLED);
  ASSERT_EQ(r->count, 2u);
  EXPECT_EQ(r->items[0].status, VKCLS_ERROR_CANCELLED);
  EXPECT_EQ(r->items[1].status, VKCLS_ERROR_CANCELLED);
  EXPECT_TRUE(none.calls.empty());
  vkcls_classify_result_free(r);
  vkcls_cancel_token_free(token);
  vkcls_cancel_token_free(nullptr);

  // a fresh token that nobody cancels changes nothing; the engine is still usable
  ASSERT_EQ(vkcls_cancel_token_new(&token), VKCLS_OK);
  p.cancel = token;
  p.progress = nullptr;
  ASSERT_EQ(vkcls_classify(sentiment(), ptrs.data(), 3, &p, &r), VKCLS_OK) << vkcls_last_error();
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(r->items[i].status, VKCLS_OK);
  vkcls_classify_result_free(r);
  vkcls_cancel_token_free(token);

  EXPECT_EQ(vkcls_cancel(nullptr), VKCLS_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(vkcls_cancel_token_new(nullptr), VKCLS_ERROR_INVALID_ARGUMENT);
}

TEST_F(CApi, CallsFromSeveralThreadsShareTheEngine) {
  const char* texts[] = {"I loved every minute of it", "a dull and tiresome film"};
  vkcls_classify_result* alone = nullptr;
  ASSERT_EQ(vkcls_classify(sentiment(), texts, 2, nullptr, &alone), VKCLS_OK);
  std::vector<vkcls_classify_result*> got(4, nullptr);
  std::vector<vkcls_status> status(4);
  std::vector<std::thread> threads;
  for (size_t k = 0; k < 4; ++k)
    threads.emplace_back(
        [&, k] { status[k] = vkcls_classify(sentiment(), texts, 2, nullptr, &got[k]); });
  for (auto& t : threads) t.join();
  for (size_t k = 0; k < 4; ++k) {
    ASSERT_EQ(status[k], VKCLS_OK);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_STREQ(got[k]->items[i].label, alone->items[i].label);
      EXPECT_NEAR(got[k]->items[i].probs[0], alone->items[i].probs[0], 1e-5);
    }
    vkcls_classify_result_free(got[k]);
  }
  vkcls_classify_result_free(alone);
}

TEST(CApiBasics, TheLastErrorIsPerThread) {
  EXPECT_EQ(vkcls_devices(nullptr), VKCLS_ERROR_INVALID_ARGUMENT);
  std::string other = "unset";
  std::thread([&] { other = vkcls_last_error(); }).join();
  EXPECT_EQ(other, "");
  EXPECT_TRUE(contains(vkcls_last_error(), "out is NULL"));
}

TEST(CApiBasics, ResultsOutliveTheEngine) {
  vkcls_engine* e = open_model(kDefaultModel);
  ASSERT_NE(e, nullptr);
  const char* texts[] = {"what a lovely day"};
  vkcls_classify_result* r = nullptr;
  ASSERT_EQ(vkcls_classify(e, texts, 1, nullptr, &r), VKCLS_OK);
  vkcls_engine_close(e);
  EXPECT_STREQ(r->items[0].label, "positive");
  vkcls_classify_result_free(r);
}

}  // namespace
}  // namespace vkcls_test
