#include "templates/chat_template.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/json_bounded.h"
#include "templates/unicode.h"

namespace vkcls::templates {
namespace {

using ojson = nlohmann::ordered_json;
using Kind = ChatTemplateError::Kind;

// transformers' SPECIAL_TOKENS_ATTRIBUTES, in order.
const char* const kSpecialTokens[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                      "pad_token", "cls_token", "mask_token"};
// Reasoning is copied under these names; the first is the one templates read.
const char* const kReasoningFields[] = {"reasoning_content", "thinking", "reasoning"};
const char* const kContinueTag = "CONTINUE_FINAL_MESSAGE_TAG ";

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw ChatTemplateError(Kind::BadConfig, "cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ojson read_json(const std::filesystem::path& p) {
  try {
    return json_parse_bounded<ojson>(read_file(p), kJsonConfigLimits);
  } catch (const JsonParseError& e) {
    throw ChatTemplateError(Kind::BadConfig,
                            fmt::format("{} is not valid JSON: {}", p.string(), e.what()));
  }
}

// A special token as tokenizer_config.json writes it: "<s>" or an AddedToken
// object {"__type": "AddedToken", "content": "<s>", ...}.
std::optional<std::string> token_string(const ojson& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return std::nullopt;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

ojson special_tokens_of(const ojson& config, const std::filesystem::path& dir) {
  ojson tokens = ojson::object();
  for (const char* name : kSpecialTokens) {
    if (!config.contains(name)) continue;
    if (auto s = token_string(config[name])) tokens[name] = *s;
  }
  // Model-specific tokens: other *_token keys and an extra_special_tokens object.
  for (auto it = config.begin(); it != config.end(); ++it) {
    const std::string& key = it.key();
    if (std::find(std::begin(kSpecialTokens), std::end(kSpecialTokens), key) !=
        std::end(kSpecialTokens))
      continue;
    if (!ends_with(key, "_token")) continue;
    if (auto s = token_string(it.value())) tokens[key] = *s;
  }
  if (config.contains("extra_special_tokens") && config["extra_special_tokens"].is_object()) {
    for (auto it = config["extra_special_tokens"].begin();
         it != config["extra_special_tokens"].end(); ++it)
      if (auto s = token_string(it.value())) tokens[it.key()] = *s;
  }
  // Legacy special_tokens_map.json, read when the config has no added_tokens_decoder.
  std::filesystem::path map_file = dir / "special_tokens_map.json";
  if (!config.contains("added_tokens_decoder") && std::filesystem::exists(map_file)) {
    ojson map = read_json(map_file);
    if (map.is_object()) {
      for (const char* name : kSpecialTokens) {
        if (!map.contains(name)) continue;
        if (auto s = token_string(map[name])) tokens[name] = *s;
      }
    }
  }
  // transformers lists them in SPECIAL_TOKENS_ATTRIBUTES order, model-specific ones after.
  ojson ordered = ojson::object();
  for (const char* name : kSpecialTokens)
    if (tokens.contains(name)) ordered[name] = tokens[name];
  for (auto it = tokens.begin(); it != tokens.end(); ++it)
    if (!ordered.contains(it.key())) ordered[it.key()] = it.value();
  return ordered;
}

}  // namespace

ChatTemplates ChatTemplates::load(const std::filesystem::path& dir,
                                  const TemplateOptions& options) {
  if (!std::filesystem::is_directory(dir))
    throw ChatTemplateError(Kind::BadConfig, "model folder not found: " + dir.string());
  std::map<std::string, std::string> named;
  std::filesystem::path jinja = dir / "chat_template.jinja";
  if (std::filesystem::exists(jinja)) named["default"] = read_file(jinja);
  std::filesystem::path extra = dir / "additional_chat_templates";
  if (std::filesystem::is_directory(extra)) {
    for (const auto& entry : std::filesystem::directory_iterator(extra)) {
      if (entry.path().extension() == ".jinja")
        named[entry.path().stem().string()] = read_file(entry.path());
    }
  }
  ojson config = ojson::object();
  std::filesystem::path config_file = dir / "tokenizer_config.json";
  if (std::filesystem::exists(config_file)) {
    config = read_json(config_file);
    if (!config.is_object())
      throw ChatTemplateError(Kind::BadConfig, config_file.string() + " is not a JSON object");
  }
  // Template files win over the config's chat_template.
  bool from_list = false;
  if (named.empty() && config.contains("chat_template")) {
    const ojson& ct = config["chat_template"];
    if (ct.is_string()) {
      named["default"] = ct.get<std::string>();
    } else if (ct.is_array()) {
      from_list = true;
      for (const auto& entry : ct) {
        if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() ||
            !entry.contains("template") || !entry["template"].is_string())
          throw ChatTemplateError(Kind::BadConfig,
                                  "tokenizer_config.json chat_template list entries must be "
                                  "{\"name\": string, \"template\": string}");
        named[entry["name"].get<std::string>()] = entry["template"].get<std::string>();
      }
    } else if (!ct.is_null()) {
      throw ChatTemplateError(Kind::BadConfig,
                              "tokenizer_config.json chat_template must be a string or a list");
    }
  }
  ChatTemplates t = from_sources(named, special_tokens_of(config, dir), options);
  if (from_list) t.by_name_ = true;  // a list in the config is a dict of templates, even of one
  return t;
}

ChatTemplates ChatTemplates::from_sources(const std::map<std::string, std::string>& named,
                                          const nlohmann::ordered_json& special_tokens,
                                          const TemplateOptions& options) {
  ChatTemplates t;
  t.options_ = options;
  t.special_tokens_ = special_tokens.is_object() ? special_tokens : ojson::object();
  for (const auto& [name, source] : named)
    t.templates_.emplace(name, Template::parse(source, options));
  t.by_name_ = named.size() > 1 || (named.size() == 1 && !named.count("default"));
  return t;
}

std::vector<std::string> ChatTemplates::names() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : templates_) out.push_back(name);
  return out;
}

Template ChatTemplates::select(const std::optional<std::string>& name_or_source,
                               bool has_tools) const {
  if (!by_name_) {  // one template: a given string is a template source, never a name
    if (name_or_source) return Template::parse(*name_or_source, options_);
    if (templates_.empty())
      throw ChatTemplateError(
          Kind::NoTemplate,
          "Cannot use chat template functions because tokenizer.chat_template is not set and no "
          "template argument was passed! For information about writing templates and setting the "
          "tokenizer.chat_template attribute, please see the documentation at "
          "https://huggingface.co/docs/transformers/main/en/chat_templating");
    return templates_.begin()->second;
  }
  if (name_or_source) {
    auto it = templates_.find(*name_or_source);
    if (it != templates_.end()) return it->second;
    return Template::parse(*name_or_source, options_);
  }
  if (has_tools && templates_.count("tool_use")) return templates_.at("tool_use");
  if (templates_.count("default")) return templates_.at("default");
  std::string names;
  for (const auto& [name, t] : templates_) names += (names.empty() ? "'" : ", '") + name + "'";
  throw ChatTemplateError(
      Kind::NoDefault,
      "This model has multiple chat templates with no default specified! Please "
      "either pass a chat template or the name of the template you wish to use "
      "to the `chat_template` argument. Available template names are [" +
          names + "].");
}

std::string apply_chat_template(const ChatTemplates& templates, const ChatRequest& request) {
  return apply_chat_template(templates.select(request.chat_template, !request.tools.is_null()),
                             templates.special_tokens(), request);
}

namespace {

// _alias_reasoning_fields: {"thinking": r, **message, "reasoning_content": r}.
ojson alias_reasoning(const ojson& message) {
  const ojson* reasoning = nullptr;
  for (const char* f : kReasoningFields) {
    if (message.contains(f) && !message[f].is_null()) {
      reasoning = &message[f];
      break;
    }
  }
  if (!reasoning) return message;
  ojson out = ojson::object();
  out["thinking"] = *reasoning;
  for (auto it = message.begin(); it != message.end(); ++it) out[it.key()] = it.value();
  out["reasoning_content"] = *reasoning;
  return out;
}

std::string strip(const std::string& s) {
  return std::string(detail::py_strip(s, nullptr, true, true));
}

}  // namespace

std::string apply_chat_template(const Template& chat_template,
                                const nlohmann::ordered_json& special_tokens,
                                const ChatRequest& request) {
  if (!request.messages.is_array())
    throw ChatTemplateError(Kind::BadMessage, "messages must be a list of message objects");
  if (request.messages.empty())
    throw ChatTemplateError(Kind::EmptyConversation,
                            "Cannot apply chat template to an empty conversation. Provide at least "
                            "one message.");
  const bool continuing = !request.continue_final_message.empty();
  if (continuing && request.add_generation_prompt)
    throw ChatTemplateError(
        Kind::PromptAndContinue,
        "continue_final_message and add_generation_prompt are not compatible. Use "
        "continue_final_message when you want the model to continue the final message, and "
        "add_generation_prompt when you want to add a header that will prompt it to start a new "
        "assistant message instead.");
  if (!request.tools.is_null()) {
    if (!request.tools.is_array())
      throw ChatTemplateError(Kind::BadTools, "tools must be a list of JSON schemas");
    for (const auto& tool : request.tools)
      if (!tool.is_object())
        throw ChatTemplateError(
            Kind::BadTools,
            "Tools should either be a JSON schema, or a callable function with "
            "type hints and a docstring suitable for auto-conversion to a schema.");
  }
  if (!request.documents.is_null()) {
    bool ok = request.documents.is_array();
    if (ok)
      for (const auto& d : request.documents) ok = ok && d.is_object();
    if (!ok)
      throw ChatTemplateError(Kind::BadTools,
                              "Documents should be a list of dicts with 'title' and 'text' keys!");
  }
  if (!request.chat_template_kwargs.is_null() && !request.chat_template_kwargs.is_object())
    throw ChatTemplateError(Kind::BadKwargs, "chat_template_kwargs must be an object");

  // Messages: None-valued keys dropped (apply_chat_template), reasoning aliased.
  ojson chat = ojson::array();
  for (const auto& m : request.messages) {
    if (!m.is_object())
      throw ChatTemplateError(Kind::BadMessage,
                              fmt::format("Chat messages should be dicts, dataclasses or pydantic "
                                          "models, but got {}.",
                                          m.dump()));
    ojson kept = ojson::object();
    for (auto it = m.begin(); it != m.end(); ++it)
      if (!it.value().is_null()) kept[it.key()] = it.value();
    chat.push_back(alias_reasoning(kept));
  }

  std::string final_message;
  if (continuing) {
    const std::string& field = request.continue_final_message;
    ojson& last = chat.back();
    if (!last.contains(field))
      throw ChatTemplateError(Kind::ContinueFinalMessage,
                              fmt::format("continue_final_message is set but the final message has "
                                          "no \"{}\" to continue!",
                                          field));
    const ojson value = last[field];
    std::vector<std::string> fields{field};
    if (std::find(std::begin(kReasoningFields), std::end(kReasoningFields), field) !=
        std::end(kReasoningFields)) {
      fields.clear();
      for (const char* f : kReasoningFields)
        if (last.contains(f) && last[f] == value) fields.push_back(f);
    }
    bool mentioned = std::any_of(fields.begin(), fields.end(), [&](const std::string& f) {
      return chat_template.source().find(f) != std::string::npos;
    });
    if (!mentioned)
      throw ChatTemplateError(
          Kind::ContinueFinalMessage,
          fmt::format("continue_final_message is set to \"{}\" but this is not an "
                      "accepted field in the chat_template",
                      field));
    if (value.is_array()) {
      bool found = false;
      for (auto it = last[field].rbegin(); it != last[field].rend(); ++it) {
        if (it->is_object() && it->contains("text")) {
          if (!(*it)["text"].is_string())
            throw ChatTemplateError(Kind::ContinueFinalMessage,
                                    "the final text block is not a string");
          final_message = (*it)["text"].get<std::string>();
          (*it)["text"] = final_message + kContinueTag;
          found = true;
          break;
        }
      }
      if (!found)
        throw ChatTemplateError(Kind::ContinueFinalMessage,
                                "continue_final_message is set but we could not find any text to "
                                "continue in the final message!");
    } else {
      if (!value.is_string())
        throw ChatTemplateError(Kind::ContinueFinalMessage,
                                fmt::format("continue_final_message: the final message's \"{}\" is "
                                            "not a string",
                                            field));
      final_message = value.get<std::string>();
      for (const auto& f : fields) last[f] = last[f].get<std::string>() + kContinueTag;
    }
  }

  ojson context = ojson::object();
  context["messages"] = std::move(chat);
  context["tools"] = request.tools;
  context["documents"] = request.documents;
  context["add_generation_prompt"] = request.add_generation_prompt;
  for (auto it = special_tokens.begin(); it != special_tokens.end(); ++it)
    context[it.key()] = it.value();
  if (request.chat_template_kwargs.is_object()) {
    for (auto it = request.chat_template_kwargs.begin(); it != request.chat_template_kwargs.end();
         ++it) {
      const std::string& k = it.key();
      if (k == "messages" || k == "tools" || k == "documents" || k == "add_generation_prompt")
        throw ChatTemplateError(Kind::BadKwargs,
                                fmt::format("chat_template_kwargs cannot set '{}' (it is a request "
                                            "field)",
                                            k));
      context[k] = it.value();
    }
  }
  std::string rendered = chat_template.render(context);
  if (!continuing) return rendered;

  const std::string stripped_tag = strip(kContinueTag);
  const std::string stripped_final = strip(final_message);
  if (rendered.find(stripped_final) == std::string::npos ||
      rendered.find(stripped_tag) == std::string::npos)
    throw ChatTemplateError(
        Kind::ContinueFinalMessage,
        "continue_final_message is set but the final message does not appear in the chat after "
        "applying the chat template! This can happen if the chat template deletes portions of the "
        "final message. Please verify the chat template and final message in your chat to ensure "
        "they are compatible.Final message to continue: " +
            stripped_final + "\nRendered chat:\n" + rendered);
  size_t tag_loc = rendered.rfind(stripped_tag);
  if (rendered.compare(tag_loc, std::string(kContinueTag).size(), kContinueTag) == 0)
    return rendered.substr(0, tag_loc);
  // The template trimmed the message's trailing whitespace: so do we.
  return std::string(
      detail::py_strip(std::string_view(rendered).substr(0, tag_loc), nullptr, false, true));
}

}  // namespace vkcls::templates
