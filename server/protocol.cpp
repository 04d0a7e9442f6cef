#include "server/protocol.h"

#include <fmt/format.h>

#include <cstring>

namespace vkcls::server {

namespace {

const char* json_type(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    case json::value_t::number_float:
      return "number";
    default:
      return "integer";
  }
}

const char* error_type(int status) {
  switch (status) {
    case 400:
      return "BadRequestError";
    case 401:
      return "AuthenticationError";
    case 404:
      return "NotFoundError";
    case 413:
      return "RequestEntityTooLargeError";
    case 422:
      return "UnprocessableEntityError";
    case 429:
      return "TooManyRequestsError";
    case 503:
      return "ServiceUnavailableError";
    default:
      return status >= 500 ? "InternalServerError" : "BadRequestError";
  }
}

// request fields: absent or null -> nullopt; wrong type -> 400 naming the field

const json* field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<bool> get_bool(const json& body, const char* name) {
  const json* f = field(body, name);
  if (!f) return std::nullopt;
  if (!f->is_boolean())
    throw bad_request(fmt::format("{}: expected a boolean, got {}", name, json_type(*f)), name);
  return f->get<bool>();
}

std::optional<int64_t> get_int(const json& body, const char* name) {
  const json* f = field(body, name);
  if (!f) return std::nullopt;
  if (!f->is_number_integer())
    throw bad_request(fmt::format("{}: expected an integer, got {}", name, json_type(*f)), name);
  if (f->is_number_unsigned() && f->get<uint64_t>() > uint64_t(INT64_MAX))
    throw bad_request(fmt::format("{}: {} is out of range", name, f->get<uint64_t>()), name);
  return f->get<int64_t>();
}

std::optional<std::string> get_string(const json& body, const char* name) {
  const json* f = field(body, name);
  if (!f) return std::nullopt;
  if (!f->is_string())
    throw bad_request(fmt::format("{}: expected a string, got {}", name, json_type(*f)), name);
  return f->get<std::string>();
}

// string | [string] -> list of strings
std::vector<std::string> get_strings(const json& f, const char* name) {
  if (f.is_string()) return {f.get<std::string>()};
  if (!f.is_array())
    throw bad_request(
        fmt::format("{}: expected a string or a list of strings, got {}", name, json_type(f)),
        name);
  std::vector<std::string> out;
  for (size_t i = 0; i < f.size(); ++i) {
    if (!f[i].is_string())
      throw bad_request(fmt::format("{}[{}]: expected a string, got {}", name, i, json_type(f[i])),
                        name);
    out.push_back(f[i].get<std::string>());
  }
  return out;
}

std::vector<int32_t> get_ids(const json& a, const std::string& where, const char* param) {
  std::vector<int32_t> out;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_number_integer())
      throw bad_request(
          fmt::format("{}[{}]: expected a token id (integer), got {}", where, i, json_type(a[i])),
          param);
    if (a[i].is_number_unsigned() ? a[i].get<uint64_t>() > uint64_t(INT32_MAX)
                                  : a[i].get<int64_t>() < 0 || a[i].get<int64_t>() > INT32_MAX)
      throw bad_request(
          fmt::format("{}[{}]: token id {} is negative or too large", where, i, a[i].dump()),
          param);
    out.push_back(int32_t(a[i].get<int64_t>()));
  }
  return out;
}

Inputs get_inputs(const json& body, const char* name, const Limits& limits) {
  const json* f = field(body, name);
  if (!f) throw bad_request(fmt::format("{}: field required", name), name);
  Inputs in;
  const char* expected =
      "a string, a list of strings, a list of token ids or a list of lists of token ids";
  if (f->is_string()) {
    in.texts.push_back(f->get<std::string>());
  } else {
    if (!f->is_array())
      throw bad_request(fmt::format("{}: expected {}, got {}", name, expected, json_type(*f)),
                        name);
    if (f->empty()) throw bad_request(fmt::format("{}: the list is empty", name), name);
    const json& first = (*f)[0];
    if (first.is_string()) {
      in.texts = get_strings(*f, name);
    } else if (first.is_number_integer()) {
      in.is_ids = true;
      in.ids.push_back(get_ids(*f, name, name));
    } else if (first.is_array()) {
      in.is_ids = true;
      for (size_t i = 0; i < f->size(); ++i) {
        if (!(*f)[i].is_array())
          throw bad_request(fmt::format("{}[{}]: expected a list of token ids, got {}", name, i,
                                        json_type((*f)[i])),
                            name);
        in.ids.push_back(get_ids((*f)[i], fmt::format("{}[{}]", name, i), name));
        if (in.ids.back().empty())
          throw bad_request(fmt::format("{}[{}]: the list of token ids is empty", name, i), name);
      }
    } else {
      throw bad_request(
          fmt::format("{}: expected {}, got a list of {}", name, expected, json_type(first)), name);
    }
  }
  if (in.size() > limits.max_inputs_per_request)
    throw bad_request(
        fmt::format(
            "{}: {} inputs, more than the limit of {} per request (--max-inputs-per-request)", name,
            in.size(), limits.max_inputs_per_request),
        name);
  return in;
}

void check_count(size_t n, const char* param, const Limits& limits) {
  if (n > limits.max_inputs_per_request)
    throw bad_request(
        fmt::format(
            "{}: {} inputs, more than the limit of {} per request (--max-inputs-per-request)",
            param, n, limits.max_inputs_per_request),
        param);
}

Common get_common(const json& body) {
  Common out;
  out.model = get_string(body, "model");
  out.request_id = get_string(body, "request_id");
  RequestParams& p = out.params;
  if (auto t = get_int(body, "truncate_prompt_tokens")) {
    if (*t < -1 || *t == 0)
      throw bad_request(
          fmt::format(
              "truncate_prompt_tokens: {} must be -1 (the model's maximum) or a positive count",
              *t),
          "truncate_prompt_tokens");
    p.truncate_prompt_tokens = *t;
  }
  if (auto s = get_string(body, "truncation_side")) {
    if (*s != "left" && *s != "right")
      throw bad_request(fmt::format("truncation_side: '{}' is not 'left' or 'right'", *s),
                        "truncation_side");
    p.truncation_side = *s;
  }
  if (auto b = get_bool(body, "add_special_tokens")) p.add_special_tokens = *b;
  p.use_activation = get_bool(body, "use_activation");
  // deprecated spellings vLLM still reads for score / rerank
  if (!p.use_activation) p.use_activation = get_bool(body, "activation");
  if (!p.use_activation) p.use_activation = get_bool(body, "softmax");
  if (auto pr = get_int(body, "priority")) p.priority = *pr;
  // vLLM's Literal: vkcls never pads; its models mask padding, so "max_length" changes nothing
  if (auto pad = get_string(body, "padding"); pad && *pad != "max_length" && *pad != "do_not_pad")
    throw bad_request(fmt::format("padding: '{}' is not 'max_length' or 'do_not_pad'", *pad),
                      "padding");
  // vLLM's limits (1 to 1024 characters); requests share cached KV pages only with the same salt
  if (auto salt = get_string(body, "cache_salt")) {
    size_t chars = 0;
    for (unsigned char ch : *salt) chars += (ch & 0xC0) != 0x80;
    if (chars < 1 || chars > 1024)
      throw bad_request(fmt::format("cache_salt: {} characters; it must have 1 to 1024", chars),
                        "cache_salt");
    p.cache_salt = *salt;
  }
  if (body.contains("normalize"))
    throw bad_request("Parameter `normalize` was removed; use `use_activation` instead.",
                      "normalize");
  get_string(body, "user");
  return out;
}

EncodingFormat get_encoding(const json& body) {
  using K = EncodingFormat::Kind;
  EncodingFormat e;
  if (auto f = get_string(body, "encoding_format")) {
    if (*f == "base64")
      e.kind = K::base64;
    else if (*f == "bytes")
      e.kind = K::bytes;
    else if (*f == "bytes_only")
      e.kind = K::bytes_only;
    else if (*f != "float")
      throw bad_request(
          fmt::format("encoding_format: '{}' is not one of float, base64, bytes, bytes_only", *f),
          "encoding_format");
  }
  if (auto d = get_string(body, "embed_dtype")) {
    auto dtype = embed_dtype_from_name(*d);
    if (!dtype)
      throw bad_request(fmt::format("embed_dtype: '{}' is not one of float32, float16, bfloat16, "
                                    "fp8_e4m3, fp8_e5m2",
                                    *d),
                        "embed_dtype");
    e.dtype = *dtype;
  }
  if (auto en = get_string(body, "endianness")) {
    if (*en != "native" && *en != "little" && *en != "big")
      throw bad_request(fmt::format("endianness: '{}' is not 'native', 'little' or 'big'", *en),
                        "endianness");
    e.big_endian = *en == "big";
    e.endianness = *en;
  }
  return e;
}

void get_dimensions(const json& body, RequestParams& p) {
  if (auto d = get_int(body, "dimensions")) {
    if (*d < 1)
      throw bad_request(fmt::format("dimensions: {} must be a positive number of dimensions", *d),
                        "dimensions");
    p.dimensions = *d;
  }
}

}  // namespace

ApiError bad_request(const std::string& message, std::optional<std::string> param) {
  return ApiError(400, message, std::move(param));
}

int status_of(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::none:
      return 200;
    case ErrorKind::invalid_input:
    case ErrorKind::too_long:
    case ErrorKind::unsupported:
      return 400;
    case ErrorKind::not_found:
      return 404;
    case ErrorKind::overloaded:
      return 429;
    case ErrorKind::cancelled:
      return 499;
    case ErrorKind::device_lost:
      return 503;
    case ErrorKind::model:
    case ErrorKind::out_of_memory:
    case ErrorKind::internal:
      return 500;
  }
  return 500;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json error_json(int status, const std::string& message, const std::optional<std::string>& param,
                const std::string& type) {
  json e;
  e["message"] = message;
  e["type"] = type.empty() ? error_type(status) : type;
  e["param"] = param ? json(*param) : json(nullptr);
  e["code"] = status;
  return json{{"error", std::move(e)}};
}

std::vector<TextInput> Inputs::to_engine() const {
  std::vector<TextInput> out;
  if (chat) {
    out.emplace_back();
    out.back().chat = *chat;
  } else if (is_ids)
    for (const auto& v : ids) {
      TextInput t;
      t.token_ids = v;
      out.push_back(std::move(t));
    }
  else
    for (const auto& s : texts) out.push_back({s, std::nullopt});
  return out;
}

std::vector<TextInput> ScoreRequest::pairs() const {
  std::vector<TextInput> out;
  for (size_t i = 0; i < second.size(); ++i)
    out.push_back({first.size() == 1 ? first[0] : first[i], second[i]});
  return out;
}

constexpr const char* kUntrustedTemplate =
    "Chat template is passed with request, but --trust-request-chat-template is not set. "
    "Refused request with untrusted chat template.";

// `chat_template_kwargs` (chat and score requests): a JSON object, dumped for the front end; ""
// when absent. A template smuggled in as the `chat_template` kwarg needs the same trust as one
// given directly.
static std::string get_template_kwargs(const json& body, const Limits& limits) {
  const json* kw = field(body, "chat_template_kwargs");
  if (!kw) return "";
  if (!kw->is_object())
    throw bad_request(
        fmt::format("chat_template_kwargs: expected an object, got {}", json_type(*kw)),
        "chat_template_kwargs");
  if (kw->contains("chat_template") && !limits.trust_request_chat_template)
    throw bad_request(kUntrustedTemplate, "chat_template_kwargs");
  return kw->dump();
}

static void reject_messages(const json& body) {
  if (body.contains("messages"))
    throw bad_request("messages: this route takes `input`, not a conversation", "messages");
}

// vLLM's chat pooling requests (ClassificationChatRequest, PoolingChatRequest): `messages`
// instead of `input`. Messages are checked further by the chat template layer (front end).
static Inputs get_chat_inputs(const json& body, const Limits& limits) {
  if (body.contains("input"))
    throw bad_request("messages: give either `input` or `messages`, not both", "messages");
  const json& m = body["messages"];
  if (!m.is_array())
    throw bad_request(
        fmt::format("messages: expected a list of message objects, got {}", json_type(m)),
        "messages");
  if (m.empty()) throw bad_request("messages: the list is empty", "messages");
  for (size_t i = 0; i < m.size(); ++i)
    if (!m[i].is_object())
      throw bad_request(
          fmt::format("messages[{}]: expected a message object, got {}", i, json_type(m[i])),
          "messages");
  ChatInput chat;
  chat.messages_json = m.dump();
  chat.add_generation_prompt = get_bool(body, "add_generation_prompt").value_or(false);
  chat.continue_final_message = get_bool(body, "continue_final_message").value_or(false);
  if (chat.add_generation_prompt && chat.continue_final_message)
    throw bad_request(
        "Cannot set both `continue_final_message` and `add_generation_prompt` to True.",
        "continue_final_message");
  chat.add_special_tokens = get_bool(body, "add_special_tokens").value_or(false);
  if (auto t = get_string(body, "chat_template")) {
    if (!limits.trust_request_chat_template) throw bad_request(kUntrustedTemplate, "chat_template");
    chat.chat_template = *t;
  }
  chat.chat_template_kwargs_json = get_template_kwargs(body, limits);
  Inputs in;
  in.chat = std::move(chat);
  return in;
}

// Score templates (a --chat-template rendering [query, document]): `instruction` and
// `chat_template_kwargs` become template variables (the front end checks a template is there).
static void get_score_template_fields(const json& body, RequestParams& p, const Limits& limits) {
  p.instruction = get_string(body, "instruction");
  p.chat_template_kwargs_json = get_template_kwargs(body, limits);
  // vLLM's: each document (query) keeps its first k tokens; k must be positive
  for (auto [name, out] : {std::pair{"max_tokens_per_doc", &p.max_tokens_per_doc},
                           std::pair{"max_tokens_per_query", &p.max_tokens_per_query}})
    if (auto k = get_int(body, name)) {
      if (*k < 1)
        throw bad_request(fmt::format("{}: {} must be a positive integer", name, *k), name);
      *out = *k;
    }
}

static Inputs get_inputs_or_chat(const json& body, const Limits& limits) {
  return body.contains("messages") ? get_chat_inputs(body, limits)
                                   : get_inputs(body, "input", limits);
}

ClassifyRequest parse_classify(const json& body, const Limits& limits) {
  ClassifyRequest r;
  r.common = get_common(body);
  r.input = get_inputs_or_chat(body, limits);
  if (auto k = get_int(body, "top_k")) r.common.params.top_k = *k;
  return r;
}

PoolingRequest parse_pooling(const json& body, const Limits& limits) {
  PoolingRequest r;
  r.common = get_common(body);
  if (auto t = get_string(body, "task")) {
    r.task = task_from_name(*t);
    if (!r.task || *r.task == Task::score)
      throw bad_request(fmt::format("task: '{}' is not one of classify, token_classify, embed", *t),
                        "task");
  }
  r.input = get_inputs_or_chat(body, limits);
  r.encoding = get_encoding(body);
  get_dimensions(body, r.common.params);
  if (auto a = get_string(body, "aggregation")) {
    static const std::pair<const char*, Aggregation> names[] = {{"none", Aggregation::none},
                                                                {"simple", Aggregation::simple},
                                                                {"first", Aggregation::first},
                                                                {"average", Aggregation::average},
                                                                {"max", Aggregation::max}};
    for (auto [n, v] : names)
      if (*a == n) r.common.params.aggregation = v;
    if (!r.common.params.aggregation)
      throw bad_request(
          fmt::format("aggregation: '{}' is not one of none, simple, first, average, max", *a),
          "aggregation");
    if (r.input.is_ids)
      throw bad_request("aggregation: needs text input (token offsets), not token ids",
                        "aggregation");
    if (r.encoding.binary())
      throw bad_request(
          "aggregation: entity spans are JSON; encoding_format bytes and "
          "bytes_only carry vectors only",
          "encoding_format");
  }
  if (const json* il = field(body, "ignore_labels"))
    r.common.params.ignore_labels = get_strings(*il, "ignore_labels");
  return r;
}

EmbeddingRequest parse_embedding(const json& body, const Limits& limits) {
  EmbeddingRequest r;
  r.common = get_common(body);
  reject_messages(body);
  r.input = get_inputs(body, "input", limits);
  r.encoding = get_encoding(body);
  get_dimensions(body, r.common.params);
  return r;
}

ScoreRequest parse_score(const json& body, const Limits& limits) {
  ScoreRequest r;
  r.common = get_common(body);
  const char* spellings[][2] = {
      {"queries", "documents"}, {"queries", "items"}, {"data_1", "data_2"}, {"text_1", "text_2"}};
  const char *n1 = nullptr, *n2 = nullptr;
  for (auto& s : spellings)
    if (field(body, s[0]) && field(body, s[1])) {
      n1 = s[0], n2 = s[1];
      break;
    }
  if (!n1) {
    for (auto& s : spellings) {
      if (field(body, s[0]))
        throw bad_request(fmt::format("{}: field required (with {})", s[1], s[0]), s[1]);
      if (field(body, s[1]))
        throw bad_request(fmt::format("{}: field required (with {})", s[0], s[1]), s[0]);
    }
    throw bad_request(
        "queries: field required: give `queries` and `documents` (or `text_1` and `text_2`, "
        "`data_1` and `data_2`)",
        "queries");
  }
  r.first_name = n1;
  r.second_name = n2;
  r.first = get_strings(*field(body, n1), n1);
  r.second = get_strings(*field(body, n2), n2);
  if (r.first.empty())
    throw bad_request(fmt::format("{}: at least one text element must be given", n1), n1);
  if (r.second.empty())
    throw bad_request(fmt::format("{}: at least one text element must be given", n2), n2);
  if (r.first.size() > 1 && r.first.size() != r.second.size())
    throw bad_request(
        fmt::format("Input lengths must be either 1:1, 1:N or N:N: {} has {}, {} has {}", n1,
                    r.first.size(), n2, r.second.size()),
        n2);
  check_count(r.second.size(), n2, limits);
  get_score_template_fields(body, r.common.params, limits);
  return r;
}

RerankRequest parse_rerank(const json& body, const Limits& limits) {
  RerankRequest r;
  r.common = get_common(body);
  const json* q = field(body, "query");
  if (!q) throw bad_request("query: field required", "query");
  if (!q->is_string())
    throw bad_request(fmt::format("query: expected a string, got {}", json_type(*q)), "query");
  r.query = q->get<std::string>();
  const json* d = field(body, "documents");
  if (!d) throw bad_request("documents: field required", "documents");
  r.documents = get_strings(*d, "documents");
  if (r.documents.empty())
    throw bad_request("documents: at least one document must be given", "documents");
  check_count(r.documents.size(), "documents", limits);
  r.top_n = get_int(body, "top_n").value_or(0);
  if (r.top_n < 0)
    throw bad_request(fmt::format("top_n: {} must be 0 (every document) or more", r.top_n),
                      "top_n");
  r.return_documents = get_bool(body, "return_documents").value_or(true);
  get_score_template_fields(body, r.common.params, limits);
  return r;
}

TokenizeRequest parse_tokenize(const json& body) {
  TokenizeRequest r;
  r.model = get_string(body, "model");
  if (body.contains("messages"))
    throw bad_request("messages: chat input is not supported by this server; send `prompt`",
                      "messages");
  auto prompt = get_string(body, "prompt");
  if (!prompt) throw bad_request("prompt: field required", "prompt");
  r.prompt = *prompt;
  r.add_special_tokens = get_bool(body, "add_special_tokens").value_or(true);
  r.return_token_strs = get_bool(body, "return_token_strs").value_or(false);
  return r;
}

DetokenizeRequest parse_detokenize(const json& body) {
  DetokenizeRequest r;
  r.model = get_string(body, "model");
  const json* t = field(body, "tokens");
  if (!t) throw bad_request("tokens: field required", "tokens");
  if (!t->is_array())
    throw bad_request(fmt::format("tokens: expected a list of token ids, got {}", json_type(*t)),
                      "tokens");
  r.tokens = get_ids(*t, "tokens", "tokens");
  return r;
}

}  // namespace vkcls::server
