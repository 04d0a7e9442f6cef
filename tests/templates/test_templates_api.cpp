// The renderer's API: error positions, typed errors, every limit, options,
// thread safety, and the chat layer's request checks.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

#include "fixtures.h"

namespace vkcls::templates::testing {
namespace {

struct Where {
  int line, column;
};

Where syntax_error_at(const std::string& src) {
  try {
    Template::parse(src);
  } catch (const TemplateSyntaxError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("line " + std::to_string(e.line()) + ", column " +
                                              std::to_string(e.column()) + ": ",
                                          0),
              0u)
        << e.what();
    return {e.line(), e.column()};
  }
  ADD_FAILURE() << "no syntax error for " << src;
  return {0, 0};
}

TEST(TemplateApi, SyntaxErrorsCarryLineAndColumn) {
  struct Case {
    std::string src;
    int line, column;
  } cases[] = {
      {"line one\n{% if x %}\n  {% endfi %}", 3, 6},   // unknown tag: at its name
      {"{{ 1 + }}", 1, 8},                             // expression expected: at the }}
      {"a\n{{ x | nosuch }}", 2, 8},                   // unknown filter: at its name
      {"{{ x is nosuch }}", 1, 9},                     // unknown test
      {"\n\n  {{ 'abc }}", 3, 6},                      // unterminated string
      {"{% for x in y %}{{ x }}", 1, 24},              // unclosed for: at the end
      {"{{ (1 + 2 }}", 1, 11},                         // unbalanced bracket
      {"{% set 1 = 2 %}", 1, 8},                       // bad assignment target
      {"{{ 'x'.encode() }}", 1, 8},                    // a Python method the renderer lacks
      {"{% include 'x.jinja' %}", 1, 4},               // statements that load other templates
      {"{% macro m(a=1, b) %}{% endmacro %}", 1, 17},  // non-default after default
      {"{% break %}", 1, 4},                           // break outside a loop
      {"{{ 1 }}\r\n{{ 2 +* 3 }}", 2, 7},               // CRLF counts as one line
  };
  for (const auto& c : cases) {
    Where w = syntax_error_at(c.src);
    EXPECT_EQ(w.line, c.line) << c.src;
    EXPECT_EQ(w.column, c.column) << c.src;
  }
}

TEST(TemplateApi, RaiseExceptionIsTypedWithTheMessageVerbatim) {
  auto t = Template::parse(
      "ok\n{% if messages|length > 1 %}{{ raise_exception('Only ' ~ 1 ~ ' message') }}{% endif %}");
  EXPECT_EQ(t.render(ojson{{"messages", {1}}}), "ok\n");
  try {
    t.render(ojson{{"messages", {1, 2}}});
    FAIL() << "no error";
  } catch (const TemplateRaisedError& e) {
    EXPECT_STREQ(e.what(), "Only 1 message");
    EXPECT_EQ(e.message(), "Only 1 message");
    EXPECT_EQ(e.line(), 2);
  }
}

TEST(TemplateApi, RenderErrorsNameTheKindAndPosition) {
  auto expect_kind = [](const std::string& src, RenderErrorKind kind, int line) {
    try {
      Template::parse(src).render(ojson::object());
      ADD_FAILURE() << "no error for " << src;
    } catch (const TemplateRenderError& e) {
      EXPECT_EQ(e.kind(), kind) << src << ": " << e.what();
      EXPECT_EQ(e.line(), line) << src << ": " << e.what();
    }
  };
  expect_kind("a\n{{ x.y }}", RenderErrorKind::Undefined, 2);
  expect_kind("{{ 'a' + 1 }}", RenderErrorKind::Type, 1);
  expect_kind("\n\n{{ 1 // 0 }}", RenderErrorKind::ZeroDivision, 3);
  expect_kind("{% for a, b in [1] %}{% endfor %}", RenderErrorKind::Type, 1);
  expect_kind("{% set l = [] %}{{ l.append(1) }}", RenderErrorKind::Security, 1);
  expect_kind("{{ 9223372036854775807 + 1 }}", RenderErrorKind::Overflow, 1);
  expect_kind("{% set x = 1 %}{% set x.y = 2 %}", RenderErrorKind::Runtime, 1);
  EXPECT_STREQ(render_error_kind_name(RenderErrorKind::Undefined), "UndefinedError");
}

TemplateLimitError limit_error(const std::string& src, const TemplateOptions& o,
                               const ojson& ctx = ojson::object()) {
  try {
    Template::parse(src, o).render(ctx);
  } catch (const TemplateLimitError& e) {
    return e;
  }
  ADD_FAILURE() << "no limit error for " << src;
  return TemplateLimitError(TemplateLimit::Steps, 0, "none", 0, 0);
}

TEST(TemplateApi, EveryLimitIsATypedErrorNamingIt) {
  TemplateOptions o;
  o.limits.max_template_bytes = 100;
  auto e = limit_error(std::string(101, 'x'), o);
  EXPECT_EQ(e.limit(), TemplateLimit::TemplateBytes);
  EXPECT_NE(std::string(e.what()).find("max_template_bytes (100)"), std::string::npos) << e.what();

  o = {};
  o.limits.max_nesting = 20;
  e = limit_error("{{ " + std::string(30, '(') + "1" + std::string(30, ')') + " }}", o);
  EXPECT_EQ(e.limit(), TemplateLimit::Nesting);
  std::string ifs;
  for (int i = 0; i < 30; ++i) ifs += "{% if true %}";
  e = limit_error(ifs, o);  // statements nested in each other
  EXPECT_EQ(e.limit(), TemplateLimit::Nesting);
  std::string chain = "{{ x";
  for (int i = 0; i < 30; ++i) chain += " + x";
  e = limit_error(chain + " }}", o);  // a long left-leaning chain is deep too
  EXPECT_EQ(e.limit(), TemplateLimit::Nesting);
  // Constants fold as they are parsed (jinja2's optimizer), so a constant chain is shallow.
  std::string constant = "{{ 1";
  for (int i = 0; i < 30; ++i) constant += " + 1";
  EXPECT_EQ(Template::parse(constant + " }}", o).render(ojson::object()), "31");
  EXPECT_EQ(e.limit(), TemplateLimit::Nesting);
  EXPECT_NE(std::string(e.what()).find("max_nesting (20)"), std::string::npos);

  o = {};
  o.limits.max_call_depth = 10;
  e = limit_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", o);
  EXPECT_EQ(e.limit(), TemplateLimit::CallDepth);
  EXPECT_EQ(e.limit_value(), 10u);
  EXPECT_NE(std::string(e.what()).find("max_call_depth"), std::string::npos);

  o = {};
  o.limits.max_render_depth = 40;
  e = limit_error("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(30) }}",
                  o);
  EXPECT_EQ(e.limit(), TemplateLimit::RenderDepth);

  o = {};
  o.limits.max_output_bytes = 1000;
  e = limit_error("{% for i in range(1000) %}0123456789{% endfor %}", o);
  EXPECT_EQ(e.limit(), TemplateLimit::OutputBytes);
  e = limit_error("{{ 'x' * 1000000000000 }}", o);  // refused before allocating
  EXPECT_EQ(e.limit(), TemplateLimit::OutputBytes);
  e = limit_error(
      "{% set ns = namespace(s='ab') %}{% for i in range(20) %}{% set ns.s = ns.s ~ ns.s %}{% "
      "endfor %}",
      o);
  EXPECT_EQ(e.limit(), TemplateLimit::OutputBytes);

  o = {};
  o.limits.max_steps = 1000000;
  auto start = std::chrono::steady_clock::now();
  e = limit_error(
      "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", o);
  EXPECT_EQ(e.limit(), TemplateLimit::Steps);
  EXPECT_NE(std::string(e.what()).find("max_steps"), std::string::npos);
  e = limit_error(
      "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% "
      "endfor %}",
      o);
  EXPECT_EQ(e.limit(), TemplateLimit::Steps);  // list doubling: bounded work and memory
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_STREQ(template_limit_name(TemplateLimit::Steps), "max_steps");
}

TEST(TemplateApi, WhitespaceOptions) {
  TemplateOptions plain;
  plain.trim_blocks = false;
  plain.lstrip_blocks = false;
  plain.keep_trailing_newline = true;
  const std::string src = "  {% if true %}\n  x\n  {% endif %}\n";
  EXPECT_EQ(Template::parse(src).render(ojson::object()), "  x\n");
  EXPECT_EQ(Template::parse(src, plain).render(ojson::object()), "  \n  x\n  \n");
}

TEST(TemplateApi, StrftimeNowReadsTheClock) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char year[8];
  std::strftime(year, sizeof year, "%Y", &tm);
  EXPECT_EQ(Template::parse("{{ strftime_now('%Y') }}").render(ojson::object()), year);
  TemplateOptions o;
  o.clock = [] { return std::chrono::system_clock::from_time_t(1721995200); };
  EXPECT_EQ(Template::parse("{{ strftime_now('%Y-%m') }}", o).render(ojson::object()), "2024-07");
}

TEST(TemplateApi, OneTemplateRendersFromManyThreads) {
  auto t = Template::parse(read_text(fixture_path("chat_templates/Qwen-Qwen3-0.6B.jinja")));
  ojson conv = read_fixture("conversations.json")["tool_call_round_trip"];
  ojson ctx = {
      {"messages", conv["messages"]}, {"tools", conv["tools"]}, {"add_generation_prompt", true}};
  std::string want = t.render(ctx);
  std::vector<std::thread> threads;
  std::vector<int> ok(8, 0);
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < 50; ++k) ok[static_cast<size_t>(i)] += t.render(ctx) == want;
    });
  for (auto& th : threads) th.join();
  for (int n : ok) EXPECT_EQ(n, 50);
}

TEST(TemplateApi, ContextMustBeAnObjectAndKeepsKeyOrder) {
  auto t = Template::parse("{% for k, v in d.items() %}{{ k }}{% endfor %}|{{ d|tojson }}");
  ojson ordered = ojson::parse(R"({"d": {"z": 1, "a": 2}})");
  EXPECT_EQ(t.render(ordered), "za|{\"z\": 1, \"a\": 2}");
  EXPECT_EQ(t.render(nlohmann::json::parse(R"({"d": {"z": 1, "a": 2}})")),
            "az|{\"a\": 2, \"z\": 1}");
  EXPECT_THROW(t.render(ojson::array()), TemplateRenderError);
  // Invalid UTF-8 in inputs becomes U+FFFD rather than reaching the output.
  EXPECT_EQ(Template::parse("{{ s }}").render(ojson{{"s", std::string("a\xff")}}), "a\xEF\xBF\xBD");
}

ChatTemplateError::Kind chat_error(const ChatTemplates& t, const ChatRequest& r) {
  try {
    apply_chat_template(t, r);
  } catch (const ChatTemplateError& e) {
    return e.kind();
  }
  ADD_FAILURE() << "no chat error";
  return ChatTemplateError::Kind::BadConfig;
}

TEST(ChatTemplateApi, RequestChecks) {
  auto t = ChatTemplates::from_sources(
      {{"default", "{% for m in messages %}{{ m.content }}{% endfor %}"}},
      ojson{{"eos_token", "</s>"}});
  ChatRequest r;
  r.messages = ojson::parse(R"([{"role": "user", "content": "hi"}])");
  EXPECT_EQ(apply_chat_template(t, r), "hi");
  ChatRequest both = r;
  both.add_generation_prompt = true;
  both.continue_final_message = "content";
  EXPECT_EQ(chat_error(t, both), ChatTemplateError::Kind::PromptAndContinue);
  ChatRequest empty = r;
  empty.messages = ojson::array();
  EXPECT_EQ(chat_error(t, empty), ChatTemplateError::Kind::EmptyConversation);
  ChatRequest bad = r;
  bad.messages = ojson::parse(R"(["not an object"])");
  EXPECT_EQ(chat_error(t, bad), ChatTemplateError::Kind::BadMessage);
  ChatRequest kw = r;
  kw.chat_template_kwargs = {{"messages", 1}};
  EXPECT_EQ(chat_error(t, kw), ChatTemplateError::Kind::BadKwargs);
  ChatRequest tools = r;
  tools.tools = ojson::parse(R"(["not a schema"])");
  EXPECT_EQ(chat_error(t, tools), ChatTemplateError::Kind::BadTools);
  ChatRequest cont = r;
  cont.continue_final_message = "reasoning_content";
  EXPECT_EQ(chat_error(t, cont), ChatTemplateError::Kind::ContinueFinalMessage);
  ChatTemplates none = ChatTemplates::from_sources({}, ojson::object());
  EXPECT_FALSE(none.has_template());
  EXPECT_EQ(chat_error(none, r), ChatTemplateError::Kind::NoTemplate);
  // kwargs override special tokens, as in transformers.
  auto tok =
      ChatTemplates::from_sources({{"default", "{{ eos_token }}"}}, ojson{{"eos_token", "</s>"}});
  ChatRequest over = r;
  over.chat_template_kwargs = {{"eos_token", "<end>"}};
  EXPECT_EQ(apply_chat_template(tok, over), "<end>");
}

// Issue 14: a tokenizer_config.json nested 200,000 deep is a BadConfig error naming the file and
// the limit, not a stack overflow.
TEST(ChatTemplateApi, DeeplyNestedTokenizerConfigIsRefused) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("vkcls_chat_deep_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "tokenizer_config.json")
      << "{\"chat_template\": \"x\", \"extra\": " + std::string(200000, '[') +
             std::string(200000, ']') + "}";
  try {
    ChatTemplates::load(dir.string());
    ADD_FAILURE() << "no error";
  } catch (const ChatTemplateError& e) {
    EXPECT_EQ(e.kind(), ChatTemplateError::Kind::BadConfig);
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nested deeper than the limit"), std::string::npos)
        << e.what();
  }
  fs::remove_all(dir);
}

TEST(ChatTemplateApi, LoadErrors) {
  EXPECT_THROW(ChatTemplates::load(fixture_path("model_dirs/does-not-exist")), ChatTemplateError);
  auto loaded = ChatTemplates::load(fixture_path("model_dirs/config_named_list"));
  EXPECT_EQ(loaded.names(), (std::vector<std::string>{"default", "rag", "tool_use"}));
  EXPECT_EQ(loaded.special_tokens().value("bos_token", ""), "<BOS_TOKEN>");
}

}  // namespace
}  // namespace vkcls::templates::testing
