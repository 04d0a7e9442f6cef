// The front end's chat inputs: the chat templates loaded with the tokenizer, and a
// conversation rendered to the text the tokenizer then sees (FrontEnd::prepare). The
// renderer's typed errors become Error(invalid_input) naming the field they concern.
#include <fmt/format.h>

#include "common/json_bounded.h"
#include "engine/frontend.h"
#include "templates/chat_template.h"

namespace vkcls {

namespace {

using ojson = nlohmann::ordered_json;
using templates::ChatTemplateError;

Error invalid(const std::string& message, const char* param) {
  return Error(ErrorKind::invalid_input, message, param);
}

ojson parse_json(const std::string& text, const char* field) {
  try {
    return json_parse_bounded<ojson>(text);
  } catch (const JsonParseError& e) {
    throw invalid(fmt::format("{}: not valid JSON ({})", field, e.what()), field);
  }
}

// The field a chat-template refusal is about.
const char* field_of(ChatTemplateError::Kind kind) {
  switch (kind) {
    case ChatTemplateError::Kind::NoTemplate:
    case ChatTemplateError::Kind::NoDefault:
    case ChatTemplateError::Kind::BadConfig:
      return "chat_template";
    case ChatTemplateError::Kind::BadKwargs:
      return "chat_template_kwargs";
    case ChatTemplateError::Kind::PromptAndContinue:
    case ChatTemplateError::Kind::ContinueFinalMessage:
      return "continue_final_message";
    case ChatTemplateError::Kind::BadTools:
      return "tools";
    case ChatTemplateError::Kind::EmptyConversation:
    case ChatTemplateError::Kind::BadMessage:
      break;
  }
  return "messages";
}

}  // namespace

FrontEnd::FrontEnd(const std::string& model_dir, const FrontEndLimits& limits,
                   const std::optional<std::string>& chat_template)
    : limits_(limits) {
  try {
    tok_ = std::make_unique<Tokenizer>(Tokenizer::from_model_dir(model_dir));
  } catch (const TokenizerError& e) {
    throw Error(ErrorKind::model, fmt::format("model folder '{}': {}", model_dir, e.what()));
  }
  strings_ = std::make_unique<TokenStrings>(*tok_, model_dir);

  // The folder's templates and special tokens; a template of its own that does not parse is
  // reported to chat inputs only, so the model still classifies plain text.
  ojson special_tokens = ojson::object();
  try {
    chat_ = std::make_unique<templates::ChatTemplates>(templates::ChatTemplates::load(model_dir));
    special_tokens = chat_->special_tokens();
  } catch (const ChatTemplateError& e) {
    chat_load_error_ = fmt::format("chat_template: the model's chat template: {}", e.what());
  } catch (const templates::TemplateError& e) {
    chat_load_error_ = fmt::format("chat_template: the model's chat template: {}", e.what());
  }
  if (chat_template) {
    score_template_ = true;
    try {
      chat_ = std::make_unique<templates::ChatTemplates>(
          templates::ChatTemplates::from_sources({{"default", *chat_template}}, special_tokens));
      chat_load_error_.clear();
    } catch (const templates::TemplateError& e) {
      throw invalid(fmt::format("chat_template: {}", e.what()), "chat_template");
    }
  }
}

FrontEnd::~FrontEnd() = default;

bool FrontEnd::has_chat_template() const {
  return chat_ && chat_->has_template();
}

std::string FrontEnd::render_chat(const ChatInput& chat) const {
  templates::ChatRequest req;
  if (!chat.messages_json.empty()) {
    req.messages = parse_json(chat.messages_json, "messages");
  } else {
    for (const ChatMessage& m : chat.messages)
      req.messages.push_back({{"role", m.role}, {"content", m.content}});
  }
  req.add_generation_prompt = chat.add_generation_prompt;
  if (chat.continue_final_message) req.continue_final_message = "content";
  if (!chat.chat_template_kwargs_json.empty())
    req.chat_template_kwargs = parse_json(chat.chat_template_kwargs_json, "chat_template_kwargs");
  req.chat_template = chat.chat_template;
  if (!chat_) throw invalid(chat_load_error_, "chat_template");
  try {
    return templates::apply_chat_template(*chat_, req);
  } catch (const ChatTemplateError& e) {
    const char* field = field_of(e.kind());
    throw invalid(fmt::format("{}: {}", field, e.what()), field);
  } catch (const templates::TemplateRaisedError& e) {
    // raise_exception(message): the template's own words, as transformers reports them
    throw invalid(fmt::format("messages: the chat template raised an error: {}", e.message()),
                  "messages");
  } catch (const templates::TemplateSyntaxError& e) {
    throw invalid(fmt::format("chat_template: {}", e.what()), "chat_template");
  } catch (const templates::TemplateRenderError& e) {
    throw invalid(fmt::format("messages: the chat template failed ({}): {}",
                              templates::render_error_kind_name(e.kind()), e.what()),
                  "messages");
  } catch (const templates::TemplateLimitError& e) {
    throw invalid(fmt::format("messages: the chat template stopped: {}", e.what()), "messages");
  }
}

std::string FrontEnd::render_score(const std::string& query, const std::string& document,
                                   const RequestParams& p) const {
  ChatInput chat;
  chat.messages = {{"query", query}, {"document", document}};
  ojson kwargs = ojson::object();
  if (!p.chat_template_kwargs_json.empty()) {
    kwargs = parse_json(p.chat_template_kwargs_json, "chat_template_kwargs");
    if (!kwargs.is_object())
      throw invalid("chat_template_kwargs: expected a JSON object", "chat_template_kwargs");
  }
  if (p.instruction) kwargs["instruction"] = *p.instruction;
  if (!kwargs.empty()) chat.chat_template_kwargs_json = kwargs.dump();
  return render_chat(chat);
}

}  // namespace vkcls
