// libFuzzer target for the template renderer. Input: template bytes, a NUL,
// then a JSON context (an object; anything else renders with a default
// conversation). Parses and renders with small limits, and when the context
// has "messages" also goes through apply_chat_template. Every failure must be
// one of the renderer's typed errors: anything else (a crash, a hang past the
// limits, a leak, another exception) is a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "templates/chat_template.h"
#include "templates/jinja.h"

namespace {

using ojson = nlohmann::ordered_json;

vkcls::templates::TemplateOptions fuzz_options() {
  vkcls::templates::TemplateOptions o;
  o.limits.max_template_bytes = 64 * 1024;
  o.limits.max_nesting = 48;
  o.limits.max_call_depth = 16;
  o.limits.max_render_depth = 300;
  o.limits.max_output_bytes = 256 * 1024;
  o.limits.max_steps = 200000;
  return o;
}

const ojson& default_context() {
  static const ojson ctx = ojson::parse(R"({
    "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "Hello <b>"},
                 {"role": "assistant", "content": "Hi", "tool_calls": [{"type": "function",
                  "function": {"name": "f", "arguments": {"x": 1}}}]},
                 {"role": "tool", "content": "42"}],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object",
              "properties": {"x": {"type": "integer"}}}}}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>",
    "n": 3, "f": 1.5, "s": "text", "l": [1, "a", null, [2]], "d": {"k": "v"}})");
  return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t nul = input.find('\0');
  std::string_view source = input.substr(0, nul);
  ojson context = default_context();
  if (nul != std::string_view::npos) {
    ojson parsed = ojson::parse(input.substr(nul + 1), nullptr, false);
    if (parsed.is_object()) context = std::move(parsed);
  }
  static const vkcls::templates::TemplateOptions options = fuzz_options();
  try {
    auto t = vkcls::templates::Template::parse(source, options);
    try {
      (void)t.render(context);
    } catch (const vkcls::templates::TemplateError&) {
    }
    if (context.contains("messages")) {
      vkcls::templates::ChatRequest r;
      r.messages = context["messages"];
      if (context.contains("tools")) r.tools = context["tools"];
      // any JSON value: only `true` asks for the prompt (value() would throw on a non-boolean)
      auto agp = context.find("add_generation_prompt");
      r.add_generation_prompt = agp != context.end() && agp->is_boolean() && agp->get<bool>();
      if (context.contains("continue")) r.continue_final_message = "content";
      try {
        (void)vkcls::templates::apply_chat_template(t, ojson{{"bos_token", "<s>"}}, r);
      } catch (const vkcls::templates::TemplateError&) {
      } catch (const vkcls::templates::ChatTemplateError&) {
      }
    }
  } catch (const vkcls::templates::TemplateError&) {
  }
  return 0;
}
