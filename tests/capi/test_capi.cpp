// The C API (include/vkcls/vkcls.h), linked against libvkcls.so alone (these binaries see only
// its exported vkcls_* symbols): versions and statuses, devices, opening (and every way it
// fails), classify over texts, pairs and token ids, the tokenizer, and the errors a caller can
// cause: NULL arguments, bad struct_size, a bad model path, bad UTF-8, parameters out of range,
// a task the model cannot do; each with a status and a message. test_capi_tasks.cpp: the other
// tasks, progress and cancellation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <string>
#include <thread>

#include "tests/capi/capi_test_util.h"

namespace vkcls_test {
namespace {

TEST(CApiBasics, VersionAndStatusNames) {
  EXPECT_STREQ(vkcls_version(), VKCLS_VERSION_STRING);
  EXPECT_STREQ(vkcls_version(), VKCLS_EXPECTED_VERSION);  // the project's, from CMake
  EXPECT_STREQ(vkcls_status_name(VKCLS_OK), "ok");
  EXPECT_STREQ(vkcls_status_name(VKCLS_ERROR_INVALID_ARGUMENT), "invalid_argument");
  EXPECT_STREQ(vkcls_status_name(VKCLS_ERROR_CANCELLED), "cancelled");
  EXPECT_STREQ(vkcls_status_name(VKCLS_ERROR_INTERNAL), "internal");
  EXPECT_STREQ(vkcls_status_name(vkcls_status(99)), "unknown");
  for (int s = VKCLS_OK; s <= VKCLS_ERROR_INTERNAL; ++s)
    EXPECT_STRNE(vkcls_status_name(vkcls_status(s)), "unknown") << s;
}

TEST(CApiBasics, DevicesAreListedAndOneIsChosen) {
  vkcls_device_list* list = nullptr;
  ASSERT_EQ(vkcls_devices(&list), VKCLS_OK) << vkcls_last_error();
  ASSERT_NE(list, nullptr);
  ASSERT_GE(list->count, 1u);
  ASSERT_GE(list->chosen, 0);
  ASSERT_LT(size_t(list->chosen), list->count);
  EXPECT_GT(std::strlen(list->reason), 0u);
  for (size_t i = 0; i < list->count; ++i) {
    const vkcls_device& d = list->devices[i];
    EXPECT_EQ(d.index, i);
    EXPECT_GT(std::strlen(d.name), 0u);
    EXPECT_GT(std::strlen(d.type_name), 0u);
    EXPECT_TRUE(contains(d.api_version, "1.")) << d.api_version;
    EXPECT_LE(int(d.type), 4);
  }
  vkcls_device_list_free(list);
  vkcls_device_list_free(nullptr);
  EXPECT_EQ(vkcls_devices(nullptr), VKCLS_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(vkcls_last_error(), "out is NULL")) << vkcls_last_error();
}

TEST(CApiBasics, OpenErrorsHaveAStatusAndAMessage) {
  vkcls_options o;
  vkcls_options_init(&o);
  EXPECT_EQ(o.struct_size, sizeof(vkcls_options));
  EXPECT_EQ(o.device, -1);
  vkcls_engine* e = reinterpret_cast<vkcls_engine*>(&o);  // must be reset to NULL on failure

  EXPECT_EQ(vkcls_engine_open(&o, nullptr), VKCLS_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(vkcls_engine_open(nullptr, &e), VKCLS_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(e, nullptr);
  EXPECT_STREQ(vkcls_last_error_param(), "options");

  EXPECT_EQ(vkcls_engine_open(&o, &e), VKCLS_ERROR_INVALID_ARGUMENT);  // no model_dir
  EXPECT_TRUE(contains(vkcls_last_error(), "model_dir")) << vkcls_last_error();

  o.model_dir = "/nonexistent/model";
  EXPECT_EQ(vkcls_engine_open(&o, &e), VKCLS_ERROR_NOT_FOUND);
  EXPECT_TRUE(contains(vkcls_last_error(), "/nonexistent/model")) << vkcls_last_error();
  EXPECT_EQ(e, nullptr);

  o.model_dir = kDefaultModel.c_str();
  o.struct_size = sizeof(vkcls_options) + 8;  // a newer header than the library
  EXPECT_EQ(vkcls_engine_open(&o, &e), VKCLS_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(vkcls_last_error(), "struct_size")) << vkcls_last_error();
  EXPECT_STREQ(vkcls_last_error_param(), "struct_size");
  o.struct_size = 0;
  EXPECT_EQ(vkcls_engine_open(&o, &e), VKCLS_ERROR_INVALID_ARGUMENT);

  vkcls_options_init(&o);
  o.model_dir = kDefaultModel.c_str();
  o.device = 999;
  EXPECT_EQ(vkcls_engine_open(&o, &e), VKCLS_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(vkcls_last_error(), "999")) << vkcls_last_error();

  o.device = -1;
  o.pooler_config_json = "{\"logit_sigma\": 0}";
  EXPECT_EQ(vkcls_engine_open(&o, &e), VKCLS_ERROR_INVALID_INPUT);
  EXPECT_TRUE(contains(vkcls_last_error(), "logit_sigma")) << vkcls_last_error();
  EXPECT_EQ(e, nullptr);
  vkcls_engine_close(nullptr);
}

TEST(CApiBasics, AShorterStructSizeKeepsTheDefaultsOfTheFieldsPastIt) {
  vkcls_options o;
  vkcls_options_init(&o);
  o.model_dir = kDefaultModel.c_str();
  o.dtype = "not-a-dtype";  // past struct_size: not read
  o.struct_size = offsetof(vkcls_options, dtype);
  vkcls_engine* e = nullptr;
  ASSERT_EQ(vkcls_engine_open(&o, &e), VKCLS_OK) << vkcls_last_error();
  EXPECT_STREQ(vkcls_last_error(), "");
  vkcls_engine_close(e);
}

TEST_F(CApi, InfoDescribesTheModel) {
  const vkcls_model_info* info = nullptr;
  ASSERT_EQ(vkcls_engine_info(sentiment(), &info), VKCLS_OK);
  EXPECT_STREQ(info->model_type, "bert");
  EXPECT_STREQ(info->architecture, "BertForSequenceClassification");
  ASSERT_EQ(info->num_labels, 2u);
  EXPECT_STREQ(info->labels[0], "negative");
  EXPECT_STREQ(info->labels[1], "positive");
  EXPECT_EQ(info->has_labels, 1);
  EXPECT_EQ(info->max_model_len, 512);
  EXPECT_EQ(info->max_batch_tokens, 512);
  EXPECT_EQ(info->hidden_size, 384);
  EXPECT_STREQ(info->activation, "softmax");
  EXPECT_STREQ(info->dtype, "f32");
  EXPECT_GT(info->weight_bytes, 0u);
  bool classify = false;
  for (size_t i = 0; i < info->num_tasks; ++i) classify |= !std::strcmp(info->tasks[i], "classify");
  EXPECT_TRUE(classify);
  EXPECT_EQ(vkcls_engine_info(nullptr, &info), VKCLS_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(info, nullptr);
  EXPECT_EQ(vkcls_engine_info(sentiment(), nullptr), VKCLS_ERROR_INVALID_ARGUMENT);
}

TEST_F(CApi, ClassifyLabelsTexts) {
  const char* texts[] = {"I absolutely love this phone, the battery lasts all day.",
                         "The package arrived broken and support never answered."};
  vkcls_params p;
  vkcls_params_init(&p);
  p.top_k = 2;
  vkcls_classify_result* r = nullptr;
  ASSERT_EQ(vkcls_classify(sentiment(), texts, 2, &p, &r), VKCLS_OK) << vkcls_last_error();
  EXPECT_STREQ(vkcls_last_error(), "");
  ASSERT_EQ(r->count, 2u);
  const vkcls_classify_item& a = r->items[0];
  ASSERT_EQ(a.status, VKCLS_OK) << a.error;
  EXPECT_STREQ(a.error, "");
  EXPECT_STREQ(a.label, "positive");
  EXPECT_EQ(a.label_index, 1);
  EXPECT_EQ(a.has_label, 1);
  ASSERT_EQ(a.num_classes, 2u);
  EXPECT_NEAR(a.probs[0] + a.probs[1], 1.0, 1e-5);
  EXPECT_GT(a.probs[1], 0.9);
  ASSERT_EQ(a.num_top_k, 2u);
  EXPECT_STREQ(a.top_k[0].label, "positive");
  EXPECT_EQ(a.top_k[0].score, a.probs[1]);
  EXPECT_GT(a.prompt_tokens, 5);
  EXPECT_STREQ(r->items[1].label, "negative");
  vkcls_classify_result_free(r);

  // NULL params: the defaults (no top-k); an empty batch is fine
  ASSERT_EQ(vkcls_classify(sentiment(), texts, 1, nullptr, &r), VKCLS_OK);
  EXPECT_EQ(r->items[0].num_top_k, 0u);
  vkcls_classify_result_free(r);
  ASSERT_EQ(vkcls_classify(sentiment(), nullptr, 0, nullptr, &r), VKCLS_OK);
  EXPECT_EQ(r->count, 0u);
  vkcls_classify_result_free(r);
  vkcls_classify_result_free(nullptr);
}

TEST_F(CApi, BadInputFailsOnlyItsOwnItem) {
  std::string too_long;
  for (int i = 0; i < 700; ++i) too_long += "movie ";
  const char* texts[] = {"a fine day", "bad \xff\xfe utf-8", "", too_long.c_str(), "awful"};
  vkcls_classify_result* r = nullptr;
  ASSERT_EQ(vkcls_classify(sentiment(), texts, 5, nullptr, &r), VKCLS_OK) << vkcls_last_error();
  ASSERT_EQ(r->count, 5u);
  EXPECT_EQ(r->items[0].status, VKCLS_OK);
  EXPECT_EQ(r->items[1].status, VKCLS_ERROR_INVALID_INPUT);
  EXPECT_TRUE(contains(r->items[1].error, "UTF-8")) << r->items[1].error;
  EXPECT_EQ(r->items[1].num_classes, 0u);
  EXPECT_EQ(r->items[2].status, VKCLS_ERROR_INVALID_INPUT);
  EXPECT_TRUE(contains(r->items[2].error, "empty")) << r->items[2].error;
  EXPECT_EQ(r->items[3].status, VKCLS_ERROR_TOO_LONG);
  EXPECT_TRUE(contains(r->items[3].error, "512")) << r->items[3].error;
  EXPECT_EQ(r->items[4].status, VKCLS_OK);
  vkcls_classify_result_free(r);
}

TEST_F(CApi, CallLevelErrorsLeaveNoResult) {
  const char* texts[] = {"fine", nullptr};
  vkcls_classify_result* r = reinterpret_cast<vkcls_classify_result*>(&texts);
  EXPECT_EQ(vkcls_classify(sentiment(), texts, 2, nullptr, &r), VKCLS_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(vkcls_last_error(), "texts[1] is NULL")) << vkcls_last_error();
  EXPECT_EQ(r, nullptr);
  EXPECT_EQ(vkcls_classify(sentiment(), nullptr, 1, nullptr, &r), VKCLS_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(vkcls_classify(nullptr, texts, 1, nullptr, &r), VKCLS_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(vkcls_last_error_param(), "engine");
  EXPECT_EQ(vkcls_classify(sentiment(), texts, 1, nullptr, nullptr), VKCLS_ERROR_INVALID_ARGUMENT);

  vkcls_params p;
  vkcls_params_init(&p);
  p.truncate_prompt_tokens = 1000;  // above the model's 512
  EXPECT_EQ(vkcls_classify(sentiment(), texts, 1, &p, &r), VKCLS_ERROR_INVALID_INPUT);
  EXPECT_STREQ(vkcls_last_error_param(), "truncate_prompt_tokens");
  EXPECT_TRUE(contains(vkcls_last_error(), "512")) << vkcls_last_error();
  EXPECT_EQ(r, nullptr);
  vkcls_params_init(&p);
  p.struct_size = 1;
  EXPECT_EQ(vkcls_classify(sentiment(), texts, 1, &p, &r), VKCLS_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(vkcls_last_error(), "vkcls_params.struct_size is 1")) << vkcls_last_error();
  vkcls_params_init(&p);
  p.truncation_side = "middle";
  EXPECT_EQ(vkcls_classify(sentiment(), texts, 1, &p, &r), VKCLS_ERROR_INVALID_INPUT);
  EXPECT_STREQ(vkcls_last_error_param(), "truncation_side");

  // a task the model cannot do
  vkcls_embed_result* er = nullptr;
  vkcls_token_result* tr = nullptr;
  EXPECT_EQ(vkcls_token_classify(sentiment(), texts, 1, nullptr, &tr), VKCLS_ERROR_UNSUPPORTED);
  EXPECT_TRUE(contains(vkcls_last_error(), "token_classify")) << vkcls_last_error();
  EXPECT_EQ(tr, nullptr);
  (void)er;
  // and a success clears the last error
  ASSERT_EQ(vkcls_classify(sentiment(), texts, 1, nullptr, &r), VKCLS_OK);
  EXPECT_STREQ(vkcls_last_error(), "");
  EXPECT_STREQ(vkcls_last_error_param(), "");
  vkcls_classify_result_free(r);
}

TEST_F(CApi, TruncationParameters) {
  std::string long_text;
  for (int i = 0; i < 700; ++i) long_text += "movie ";
  const char* texts[] = {long_text.c_str()};
  vkcls_params p;
  vkcls_params_init(&p);
  p.truncate_prompt_tokens = 10;
  p.truncation_side = "left";
  vkcls_classify_result* r = nullptr;
  ASSERT_EQ(vkcls_classify(sentiment(), texts, 1, &p, &r), VKCLS_OK) << vkcls_last_error();
  ASSERT_EQ(r->items[0].status, VKCLS_OK) << r->items[0].error;
  EXPECT_EQ(r->items[0].prompt_tokens, 10);
  vkcls_classify_result_free(r);
  p.truncate_prompt_tokens = -1;
  p.use_activation = 0;  // raw logits: no longer a distribution
  ASSERT_EQ(vkcls_classify(sentiment(), texts, 1, &p, &r), VKCLS_OK) << vkcls_last_error();
  EXPECT_EQ(r->items[0].prompt_tokens, 512);
  EXPECT_GT(std::fabs(r->items[0].probs[0] + r->items[0].probs[1] - 1.0), 1e-3);
  vkcls_classify_result_free(r);
}

TEST_F(CApi, PairsAndTokenIdsGiveTheSameAnswersAsText) {
  const char* text = "what a lovely day";
  vkcls_tokens* t = nullptr;
  ASSERT_EQ(vkcls_tokenize(sentiment(), text, 1, &t), VKCLS_OK) << vkcls_last_error();
  ASSERT_GE(t->count, 3u);
  EXPECT_STREQ(t->tokens[0], "[CLS]");
  EXPECT_STREQ(t->tokens[t->count - 1], "[SEP]");
  EXPECT_EQ(t->starts[1], 0);
  EXPECT_EQ(t->ends[1], 4);  // "what"
  const int32_t* ids[] = {t->ids};
  size_t lengths[] = {t->count};
  vkcls_classify_result *by_text = nullptr, *by_ids = nullptr, *pair = nullptr;
  ASSERT_EQ(vkcls_classify(sentiment(), &text, 1, nullptr, &by_text), VKCLS_OK);
  ASSERT_EQ(vkcls_classify_ids(sentiment(), ids, lengths, 1, nullptr, &by_ids), VKCLS_OK)
      << vkcls_last_error();
  ASSERT_EQ(by_ids->items[0].status, VKCLS_OK) << by_ids->items[0].error;
  EXPECT_EQ(by_ids->items[0].prompt_tokens, int64_t(t->count));
  EXPECT_EQ(by_ids->items[0].probs[0], by_text->items[0].probs[0]);
  EXPECT_EQ(by_ids->items[0].probs[1], by_text->items[0].probs[1]);

  const char* second[] = {"and a lovely night"};
  ASSERT_EQ(vkcls_classify_pairs(sentiment(), &text, second, 1, nullptr, &pair), VKCLS_OK);
  ASSERT_EQ(pair->items[0].status, VKCLS_OK) << pair->items[0].error;
  EXPECT_GT(pair->items[0].prompt_tokens, by_text->items[0].prompt_tokens);
  vkcls_classify_result_free(by_text);
  vkcls_classify_result_free(by_ids);
  vkcls_classify_result_free(pair);

  // without special tokens: two fewer
  vkcls_tokens* bare = nullptr;
  ASSERT_EQ(vkcls_tokenize(sentiment(), text, 0, &bare), VKCLS_OK);
  EXPECT_EQ(bare->count + 2, t->count);
  vkcls_tokens_free(bare);
  vkcls_tokens_free(t);
  vkcls_tokens_free(nullptr);
}

TEST_F(CApi, TokenIdAndTokenizerErrors) {
  vkcls_tokens* t = reinterpret_cast<vkcls_tokens*>(this);
  EXPECT_EQ(vkcls_tokenize(sentiment(), "ok \xc3\x28", 1, &t), VKCLS_ERROR_INVALID_INPUT);
  EXPECT_TRUE(contains(vkcls_last_error(), "invalid UTF-8 at byte 3")) << vkcls_last_error();
  EXPECT_EQ(t, nullptr);
  EXPECT_EQ(vkcls_tokenize(sentiment(), nullptr, 1, &t), VKCLS_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(vkcls_tokenize(nullptr, "x", 1, &t), VKCLS_ERROR_INVALID_ARGUMENT);

  const int32_t good[] = {101, 2000, 102};
  const int32_t outside[] = {101, 999999, 102};
  const int32_t* ids[] = {good, outside, nullptr};
  size_t lengths[] = {3, 3, 0};
  vkcls_classify_result* r = nullptr;
  ASSERT_EQ(vkcls_classify_ids(sentiment(), ids, lengths, 3, nullptr, &r), VKCLS_OK);
  EXPECT_EQ(r->items[0].status, VKCLS_OK) << r->items[0].error;
  EXPECT_EQ(r->items[1].status, VKCLS_ERROR_INVALID_INPUT);
  EXPECT_TRUE(contains(r->items[1].error, "999999")) << r->items[1].error;
  EXPECT_EQ(r->items[2].status, VKCLS_ERROR_INVALID_INPUT);  // no ids
  vkcls_classify_result_free(r);
  lengths[2] = 4;  // NULL ids with a length
  EXPECT_EQ(vkcls_classify_ids(sentiment(), ids, lengths, 3, nullptr, &r),
            VKCLS_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(vkcls_last_error(), "ids[2] is NULL")) << vkcls_last_error();
  EXPECT_EQ(vkcls_classify_ids(sentiment(), nullptr, lengths, 1, nullptr, &r),
            VKCLS_ERROR_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace vkcls_test
