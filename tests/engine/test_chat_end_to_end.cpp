// Chat inputs and score templates end to end on the decoder fixtures, against transformers
// (tests/engine/chat/end_to_end.json, made by make_end_to_end.py beside it):
//  - a Qwen2 / Qwen3 classifier given `messages`: the same token ids as the conversation
//    rendered by apply_chat_template, and the same probabilities as transformers classifying it;
//  - converted LLM rerankers (Qwen3-Reranker yes/no, mxbai-rerank-v2 "1"/"0", bge-reranker-v2-gemma
//    "Yes") with vLLM's score templates (assets/templates/): the rendered prompt's ids, and the
//    score transformers' CausalLM gives at the last position; `instruction` both as the request
//    field and as a chat_template_kwargs entry.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/frontend.h"
#include "vkcls/engine.h"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using namespace vkcls;

namespace {

const fs::path kData = VKCLS_TEST_DATA;
const fs::path kRoot = kData.parent_path().parent_path();

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const json& refs() {
  static const json j = json::parse(read(kRoot / "tests/engine/chat/end_to_end.json"));
  return j;
}

ChatInput chat_of(const json& c) {
  ChatInput chat;
  chat.messages_json = c["messages"].dump();
  chat.add_generation_prompt = c.value("add_generation_prompt", false);
  if (c.contains("chat_template_kwargs"))
    chat.chat_template_kwargs_json = c["chat_template_kwargs"].dump();
  return chat;
}

// The reference's template variables as a request gives them: `instruction` as its own field
// (as_field) or inside chat_template_kwargs.
RequestParams score_params(const json& c, bool as_field) {
  RequestParams p;
  json kwargs = c["chat_template_kwargs"];
  if (as_field && kwargs.contains("instruction")) {
    p.instruction = kwargs["instruction"].get<std::string>();
    kwargs.erase("instruction");
  }
  if (!kwargs.empty()) p.chat_template_kwargs_json = kwargs.dump();
  return p;
}

EngineOptions options_of(const json& c) {
  EngineOptions o;
  o.model_dir = (kData / c["model"].get<std::string>()).string();
  o.dtype = "f32";
  o.chat_template = read(kRoot / c["template"].get<std::string>());
  if (c.contains("hf_overrides")) o.hf_overrides = c["hf_overrides"].dump();
  return o;
}

}  // namespace

TEST(ChatEndToEnd, ClassifierWithMessagesMatchesTransformers) {
  ASSERT_EQ(refs()["classify"].size(), 4u);
  for (const json& c : refs()["classify"]) {
    SCOPED_TRACE(c["model"].get<std::string>() + " " + c["template"].get<std::string>());
    auto engine = Engine::open(options_of(c));
    TextInput in;
    in.chat = chat_of(c);
    std::vector<ClassifyResult> r = engine->classify({in});
    ASSERT_EQ(r.size(), 1u);
    ASSERT_TRUE(r[0].ok()) << r[0].error;
    EXPECT_EQ(r[0].prompt_tokens, int64_t(c["ids"].size()));
    EXPECT_EQ(r[0].label, c["label"].get<std::string>());
    std::vector<float> want = c["probs"];
    ASSERT_EQ(r[0].probs.size(), want.size());
    for (size_t k = 0; k < want.size(); ++k) EXPECT_NEAR(r[0].probs[k], want[k], 1e-4) << k;
  }
}

TEST(ChatEndToEnd, ScoreTemplatePromptIdsMatchTransformers) {
  for (const json& c : refs()["score"]) {
    SCOPED_TRACE(c["model"].get<std::string>() + " " + c["document"].get<std::string>());
    EngineOptions o = options_of(c);
    FrontEndLimits limits{4096, 1 << 30, 0, /*pair_as_one_text=*/true};
    FrontEnd fe(o.model_dir, limits, o.chat_template);
    ASSERT_TRUE(fe.has_score_template());
    TextInput pair{c["query"].get<std::string>(), c["document"].get<std::string>()};
    for (bool as_field : {false, true}) {
      PreparedInput p = fe.prepare(Task::score, pair, score_params(c, as_field));
      ASSERT_TRUE(p.ok()) << p.error;
      EXPECT_EQ(p.rendered, c["text"].get<std::string>());
      ASSERT_EQ(p.windows.size(), 1u);
      EXPECT_EQ(p.windows[0].ids, c["ids"].get<std::vector<int32_t>>());
    }
  }
}

TEST(ChatEndToEnd, ConvertedRerankersWithScoreTemplatesMatchTransformers) {
  size_t n = 0;
  std::string last_model;
  std::unique_ptr<Engine> engine;
  for (const json& c : refs()["score"]) {
    SCOPED_TRACE(c["model"].get<std::string>() + " " + c["document"].get<std::string>());
    if (c["model"] != last_model) engine = Engine::open(options_of(c));
    last_model = c["model"];
    for (bool as_field : {false, true}) {
      std::vector<ScoreResult> r =
          engine->score(c["query"], {c["document"].get<std::string>()}, score_params(c, as_field));
      ASSERT_EQ(r.size(), 1u);
      ASSERT_TRUE(r[0].ok()) << r[0].error;
      EXPECT_EQ(r[0].prompt_tokens, int64_t(c["ids"].size()));
      EXPECT_NEAR(r[0].score, c["score"].get<float>(), 2e-4);
      ++n;
    }
  }
  EXPECT_EQ(n, 2 * refs()["score"].size());
}

TEST(ChatEndToEnd, ScoreTemplateVariablesNeedAScoreTemplate) {
  const json& c = refs()["score"][0];
  EngineOptions o = options_of(c);
  o.chat_template.reset();  // the converted reranker without a score template
  auto engine = Engine::open(o);
  RequestParams p;
  p.instruction = "find the answer";
  try {
    engine->score("q", {"d"}, p);
    FAIL() << "instruction without a score template was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
    EXPECT_EQ(e.param(), "instruction");
    EXPECT_NE(std::string(e.what()).find("--chat-template"), std::string::npos) << e.what();
  }
  // without a template a converted reranker scores query + document as one text (vLLM's rule)
  std::vector<ScoreResult> r = engine->score("q", {"d"});
  ASSERT_TRUE(r[0].ok()) << r[0].error;

  // with one: the variables are for score requests only, and kwargs must be an object
  auto templated = Engine::open(options_of(c));
  RequestParams kw;
  kw.chat_template_kwargs_json = R"({"instruction": "x"})";
  TextInput text{"hello"};
  try {
    templated->classify({text}, kw);
    FAIL() << "chat_template_kwargs on classify was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.param(), "chat_template_kwargs");
  }
  kw.chat_template_kwargs_json = "[1, 2]";
  r = templated->score("q", {"d"}, kw);
  ASSERT_FALSE(r[0].ok());
  EXPECT_EQ(r[0].error_kind, ErrorKind::invalid_input);
  EXPECT_NE(r[0].error.find("chat_template_kwargs"), std::string::npos) << r[0].error;
}
