// Golden comparisons with transformers / jinja2 (fixtures from gen_fixtures.py):
// byte-identical text, or the same kind of error (raise_exception's and
// transformers' messages verbatim).
#include <map>
#include <set>

#include "fixtures.h"

namespace vkcls::templates::testing {
namespace {

TEST(TemplateGolden, UnitCases) {
  ojson data = read_fixture("unit_cases.json");
  TemplateOptions options = fixed_clock_options(data["versions"]);
  size_t n = 0;
  for (const auto& c : data["cases"]) {
    std::string src = c["template"].get<std::string>();
    Outcome got = run([&] { return Template::parse(src, options).render(c["context"]); });
    std::string diff = compare(c["expected"], got);
    EXPECT_TRUE(diff.empty()) << c["name"].get<std::string>() << ": " << src << "\n" << diff;
    ++n;
  }
  EXPECT_GT(n, 150u);
}

ChatRequest request_of(const ojson& conv, const ojson& kwargs) {
  ChatRequest r;
  r.messages = conv["messages"];
  if (conv.contains("tools")) r.tools = conv["tools"];
  if (conv.contains("documents")) r.documents = conv["documents"];
  r.add_generation_prompt = conv.value("add_generation_prompt", false);
  if (conv.contains("continue_final_message")) {
    const ojson& c = conv["continue_final_message"];
    if (c.is_string())
      r.continue_final_message = c.get<std::string>();
    else if (c.get<bool>())
      r.continue_final_message = "content";
  }
  if (conv.contains("chat_template")) r.chat_template = conv["chat_template"].get<std::string>();
  r.chat_template_kwargs = kwargs.is_object() ? kwargs : ojson::object();
  return r;
}

TEST(TemplateGolden, ChatTemplatesOfModelFamilies) {
  ojson data = read_fixture("chat_cases.json");
  ojson conversations = read_fixture("conversations.json");
  TemplateOptions options = fixed_clock_options(data["versions"]);
  std::map<std::string, ChatTemplates> templates;
  std::map<std::string, std::pair<int, int>> per_family;  // passed, total
  for (const auto& c : data["cases"]) {
    std::string name = c["template"].get<std::string>();
    if (!templates.count(name)) {
      std::string source = read_text(fixture_path("chat_templates/" + name + ".jinja"));
      templates.emplace(
          name, ChatTemplates::from_sources({{"default", source}}, c["special_tokens"], options));
    }
    ChatRequest r =
        request_of(conversations[c["conversation"].get<std::string>()], c["chat_template_kwargs"]);
    Outcome got = run([&] { return apply_chat_template(templates.at(name), r); });
    std::string diff = compare(c["expected"], got);
    auto& counts = per_family[c["family"].get<std::string>()];
    ++counts.second;
    if (diff.empty()) ++counts.first;
    EXPECT_TRUE(diff.empty()) << name << " x " << c["conversation"].get<std::string>() << " "
                              << c["chat_template_kwargs"].dump() << ": " << diff;
  }
  EXPECT_GE(per_family.size(), 20u);
  for (const auto& [family, counts] : per_family)
    std::cout << "  " << family << ": " << counts.first << "/" << counts.second << "\n";
}

TEST(TemplateGolden, VllmScoreTemplates) {
  ojson data = read_fixture("score_cases.json");
  std::set<std::string> seen;
  for (const auto& c : data["cases"]) {
    std::string name = c["template"].get<std::string>();
    std::string source = read_text(std::string(VKCLS_SCORE_TEMPLATES) + "/" + name);
    ChatTemplates t = ChatTemplates::from_sources({}, c["special_tokens"]);
    ChatRequest r;
    r.messages = ojson::array({{{"role", "query"}, {"content", c["query"]}},
                               {{"role", "document"}, {"content", c["document"]}}});
    r.chat_template = source;
    r.chat_template_kwargs = c["chat_template_kwargs"];
    Outcome got = run([&] { return apply_chat_template(t, r); });
    std::string diff = compare(c["expected"], got);
    EXPECT_TRUE(diff.empty()) << name << " " << c["query"].dump() << ": " << diff;
    seen.insert(name);
  }
  EXPECT_EQ(seen.size(), 4u);
}

TEST(TemplateGolden, ModelFolders) {
  ojson data = read_fixture("model_dir_cases.json");
  for (const auto& c : data["cases"]) {
    std::string dir = fixture_path("model_dirs/" + c["dir"].get<std::string>());
    Outcome got = run([&] {
      ChatTemplates t = ChatTemplates::load(dir);
      if (!c["special_tokens"].contains("load_error")) {
        EXPECT_EQ(t.special_tokens(), c["special_tokens"]) << dir;
      }
      return apply_chat_template(
          t, request_of(c["request"], c["request"].value("chat_template_kwargs", ojson::object())));
    });
    std::string diff = compare(c["expected"], got);
    EXPECT_TRUE(diff.empty()) << c["dir"].get<std::string>() << " "
                              << c["request"].dump().substr(0, 200) << ": " << diff;
  }
}

}  // namespace
}  // namespace vkcls::templates::testing
