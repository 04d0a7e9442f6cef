// Chat inputs in the front end: a conversation rendered with a chat template and tokenized,
// against transformers' apply_chat_template(tokenize=True) on the same tokenizer (golden ids in
// tests/engine/chat/chat_cases.json, made by make_chat_cases.py beside it), and the errors a
// conversation or a template can give. The front end needs no device.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/frontend.h"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

const fs::path kData = VKCLS_TEST_DATA;
const fs::path kRoot = kData.parent_path().parent_path();

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const vkcls::FrontEndLimits kLimits{4096, 1 << 30, 0};

json cases() {
  return json::parse(read(kRoot / "tests/engine/chat/chat_cases.json"))["cases"];
}

vkcls::ChatInput chat_of(const json& c, bool as_structs) {
  vkcls::ChatInput chat;
  if (as_structs) {
    for (const auto& m : c["messages"])
      chat.messages.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
  } else {
    chat.messages_json = c["messages"].dump();
  }
  chat.add_generation_prompt = c.value("add_generation_prompt", false);
  chat.continue_final_message = c.value("continue_final_message", false);
  chat.add_special_tokens = c.value("add_special_tokens", false);
  if (c.contains("chat_template_kwargs"))
    chat.chat_template_kwargs_json = c["chat_template_kwargs"].dump();
  return chat;
}

vkcls::TextInput input_of(vkcls::ChatInput chat) {
  vkcls::TextInput in;
  in.chat = std::move(chat);
  return in;
}

const vkcls::RequestParams kParams;

}  // namespace

TEST(ChatInput, TokenIdsMatchTransformersApplyChatTemplate) {
  size_t n = 0;
  for (const auto& c : cases()) {
    SCOPED_TRACE(c["name"].get<std::string>());
    vkcls::FrontEnd fe((kData / c["model"].get<std::string>()).string(), kLimits,
                       read(kRoot / c["template"].get<std::string>()));
    // both spellings of a conversation: ChatMessage structs and OpenAI JSON
    for (bool as_structs : {false, true}) {
      vkcls::PreparedInput p =
          fe.prepare(vkcls::Task::classify, input_of(chat_of(c, as_structs)), kParams);
      if (c.contains("error")) {
        ASSERT_FALSE(p.ok());
        EXPECT_EQ(p.kind, vkcls::ErrorKind::invalid_input);
        EXPECT_NE(p.error.find(c["error"].get<std::string>()), std::string::npos) << p.error;
        continue;
      }
      ASSERT_TRUE(p.ok()) << p.error;
      ASSERT_EQ(p.windows.size(), 1u);
      EXPECT_EQ(p.rendered, c["text"].get<std::string>());
      EXPECT_EQ(p.windows[0].ids, c["ids"].get<std::vector<int32_t>>());
      ++n;
    }
  }
  EXPECT_GE(n, 18u);
}

TEST(ChatInput, TemplateErrorsAreInvalidInputNamingTheField) {
  const std::string qwen = (kData / "decoders/qwen3-seqcls").string();
  vkcls::FrontEnd fe(qwen, kLimits,
                     read(kRoot / "tests/templates/chat_templates/Qwen-Qwen2.5-7B-Instruct.jinja"));
  auto error_of = [&](const vkcls::ChatInput& chat) {
    try {
      fe.render_chat(chat);
    } catch (const vkcls::Error& e) {
      EXPECT_EQ(e.kind(), vkcls::ErrorKind::invalid_input);
      return e.param() + " | " + e.what();
    }
    return std::string("no error");
  };
  vkcls::ChatInput both;
  both.messages = {{"user", "hi"}};
  both.add_generation_prompt = both.continue_final_message = true;
  EXPECT_EQ(error_of(both).rfind("continue_final_message | continue_final_message: ", 0), 0u);
  EXPECT_EQ(error_of({}).rfind("messages | messages: Cannot apply chat template to an empty", 0),
            0u);
  vkcls::ChatInput bad_json;
  bad_json.messages_json = "[{\"role\": ";
  EXPECT_EQ(error_of(bad_json).rfind("messages | messages: not valid JSON", 0), 0u);
  vkcls::ChatInput bad_kwargs;
  bad_kwargs.messages = {{"user", "hi"}};
  bad_kwargs.chat_template_kwargs_json = "[1]";
  EXPECT_EQ(error_of(bad_kwargs).rfind("chat_template_kwargs | ", 0), 0u) << error_of(bad_kwargs);
  // a per-request template: its raise_exception, its syntax error with line and column
  vkcls::ChatInput raising;
  raising.messages = {{"user", "hi"}};
  raising.chat_template = "{{ raise_exception('Only ' ~ 'assistants here') }}";
  EXPECT_EQ(error_of(raising),
            "messages | messages: the chat template raised an error: Only assistants here");
  vkcls::ChatInput broken = raising;
  broken.chat_template = "{% for m in messages %}\n{{ m.content }";
  EXPECT_EQ(error_of(broken).rfind("chat_template | chat_template: line 2, column", 0), 0u)
      << error_of(broken);

  // a chat input is a conversation only, and not for score
  vkcls::TextInput mixed = input_of(raising);
  mixed.text = "also a text";
  vkcls::PreparedInput p = fe.prepare(vkcls::Task::classify, mixed, kParams);
  EXPECT_EQ(p.kind, vkcls::ErrorKind::invalid_input);
  EXPECT_EQ(p.error.rfind("messages: a chat input has no text", 0), 0u) << p.error;
  vkcls::TextInput ok = input_of(both);
  ok.chat->continue_final_message = false;
  EXPECT_TRUE(fe.prepare(vkcls::Task::classify, ok, kParams).ok());
  p = fe.prepare(vkcls::Task::score, ok, kParams);
  EXPECT_EQ(p.error.rfind("messages: score takes", 0), 0u) << p.error;
}

TEST(ChatInput, NoTemplateAndBrokenEngineTemplate) {
  const std::string bert = (kData / "models/bert-seqcls").string();
  vkcls::FrontEnd plain(bert, kLimits);
  EXPECT_FALSE(plain.has_chat_template());
  vkcls::ChatInput chat;
  chat.messages = {{"user", "hi"}};
  vkcls::PreparedInput p = plain.prepare(vkcls::Task::classify, input_of(chat), kParams);
  EXPECT_EQ(p.kind, vkcls::ErrorKind::invalid_input);
  EXPECT_NE(p.error.find("chat_template: Cannot use chat template functions"), std::string::npos)
      << p.error;
  // text inputs are unaffected
  vkcls::TextInput text;
  text.text = "hi";
  EXPECT_TRUE(plain.prepare(vkcls::Task::classify, text, kParams).ok());
  // a template given to the engine (--chat-template) is parsed when it opens
  try {
    vkcls::FrontEnd bad(bert, kLimits, std::string("{% if messages %}never closed"));
    FAIL() << "a broken template loaded";
  } catch (const vkcls::Error& e) {
    EXPECT_EQ(e.kind(), vkcls::ErrorKind::invalid_input);
    EXPECT_EQ(e.param(), "chat_template");
    EXPECT_NE(std::string(e.what()).find("line 1, column"), std::string::npos) << e.what();
  }
}

// The template in the model folder (tokenizer_config.json "chat_template"), found at load.
TEST(ChatInput, ModelFolderTemplate) {
  const fs::path src = kData / "decoders/qwen3-seqcls";
  const fs::path dir = fs::temp_directory_path() / ("vkcls_chat_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(src / "tokenizer.json", dir / "tokenizer.json",
                fs::copy_options::overwrite_existing);
  json config = json::parse(read(src / "tokenizer_config.json"));
  config["chat_template"] =
      read(kRoot / "tests/templates/chat_templates/Qwen-Qwen2.5-7B-Instruct.jinja");
  std::ofstream(dir / "tokenizer_config.json") << config.dump();

  vkcls::FrontEnd fe(dir.string(), kLimits);
  EXPECT_TRUE(fe.has_chat_template());
  json expected;
  for (const auto& c : cases())
    if (c["name"] == "qwen_chatml") expected = c;
  ASSERT_FALSE(expected.is_null());
  vkcls::PreparedInput p =
      fe.prepare(vkcls::Task::classify, input_of(chat_of(expected, false)), kParams);
  ASSERT_TRUE(p.ok()) << p.error;
  EXPECT_EQ(p.windows[0].ids, expected["ids"].get<std::vector<int32_t>>());
  // special tokens written by the template are single added tokens
  EXPECT_EQ(p.windows[0].tokens[0], "<|im_start|>");
  fs::remove_all(dir);
}
