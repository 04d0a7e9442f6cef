// A model's chat templates and transformers' apply_chat_template(tokenize=False):
// finding the templates in a model folder, choosing one by name, and rendering
// a conversation with the variables transformers passes (messages, tools,
// documents, add_generation_prompt, the special tokens, extra kwargs),
// continue_final_message included.
//
//   auto templates = vkcls::templates::ChatTemplates::load(model_dir);
//   ChatRequest req;
//   req.messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "Hi"}])");
//   req.add_generation_prompt = true;
//   std::string prompt = vkcls::templates::apply_chat_template(templates, req);
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "templates/jinja.h"

namespace vkcls::templates {

// A request the chat template layer refuses (HTTP 400 / CLI usage error); the
// messages are transformers' where it has one.
class ChatTemplateError : public std::runtime_error {
 public:
  enum class Kind {
    NoTemplate,            // the model has no chat template and none was given
    NoDefault,             // several named templates, none called "default", no name given
    BadConfig,             // tokenizer_config.json / chat_template files unreadable or malformed
    EmptyConversation,     // messages is empty
    BadMessage,            // a message is not an object, or messages is not an array
    BadTools,              // tools / documents are not arrays of objects
    BadKwargs,             // chat_template_kwargs is not an object or names a reserved variable
    PromptAndContinue,     // add_generation_prompt together with continue_final_message
    ContinueFinalMessage,  // continue_final_message cannot be applied (see message)
  };
  ChatTemplateError(Kind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

class ChatTemplates {
 public:
  // transformers' loading order: DIR/chat_template.jinja (the "default") and
  // DIR/additional_chat_templates/*.jinja (named by file stem) win over
  // tokenizer_config.json "chat_template" (a string, or a list of
  // {"name", "template"}). Special tokens (bos_token, eos_token, unk_token,
  // sep_token, pad_token, cls_token, mask_token, and the names of an
  // extra_special_tokens object) come from tokenizer_config.json, strings or
  // AddedToken objects {"content": ...}, else special_tokens_map.json.
  // A folder without any template loads empty (see has_template()).
  // Throws ChatTemplateError(BadConfig) and the template's TemplateSyntaxError.
  static ChatTemplates load(const std::filesystem::path& model_dir,
                            const TemplateOptions& options = {});

  // Templates by name ("default" for a single one) and the special tokens the
  // templates see, {"bos_token": "<s>", ...}.
  static ChatTemplates from_sources(const std::map<std::string, std::string>& named,
                                    const nlohmann::ordered_json& special_tokens,
                                    const TemplateOptions& options = {});

  bool has_template() const { return !templates_.empty(); }
  std::vector<std::string> names() const;
  const nlohmann::ordered_json& special_tokens() const { return special_tokens_; }
  const TemplateOptions& options() const { return options_; }

  // transformers' get_chat_template: with named templates, `name_or_source`
  // names one, or else is a template's source, and without it "tool_use" is
  // chosen when tools are given and the model has one, else "default". With a
  // single template, `name_or_source` is always a source.
  // Throws ChatTemplateError(NoTemplate / NoDefault) or TemplateSyntaxError.
  Template select(const std::optional<std::string>& name_or_source, bool has_tools) const;

 private:
  std::map<std::string, Template> templates_;
  bool by_name_ = false;  // transformers keeps a dict of named templates (else one string)
  nlohmann::ordered_json special_tokens_ = nlohmann::ordered_json::object();
  TemplateOptions options_;
};

struct ChatRequest {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // OpenAI-style messages
  nlohmann::ordered_json tools;      // null, or an array of tool schemas
  nlohmann::ordered_json documents;  // null, or an array of objects
  bool add_generation_prompt = false;
  // Off when empty; "content" is transformers' continue_final_message=True,
  // another name continues that field (e.g. "reasoning_content").
  std::string continue_final_message;
  nlohmann::ordered_json chat_template_kwargs = nlohmann::ordered_json::object();
  std::optional<std::string> chat_template;  // a template name or source (see select())
};

// tokenizer.apply_chat_template(messages, tools=..., documents=...,
// add_generation_prompt=..., continue_final_message=..., tokenize=False,
// **chat_template_kwargs). Throws ChatTemplateError, TemplateSyntaxError
// (a bad per-request template) and the template's render errors
// (TemplateRaisedError for raise_exception, TemplateRenderError, TemplateLimitError).
std::string apply_chat_template(const ChatTemplates& templates, const ChatRequest& request);
// Same with one template already chosen.
std::string apply_chat_template(const Template& chat_template,
                                const nlohmann::ordered_json& special_tokens,
                                const ChatRequest& request);

}  // namespace vkcls::templates
