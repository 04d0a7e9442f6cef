// vLLM's pooling protocol as typed C++: request bodies parsed and validated into structs
// (every mistake a 400 naming the field, as vLLM's pydantic models do), and the response
// shapes (ClassificationResponse, PoolingResponse, ScoreResponse, RerankResponse,
// EmbeddingResponse, TokenizeResponse, ErrorResponse, UsageInfo) built from engine results.
// No HTTP and no engine calls here.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "server/embed_encoding.h"
#include "vkcls/engine.h"

namespace vkcls::server {

using json = nlohmann::ordered_json;

// An error response: HTTP status, message, the offending field.
struct ApiError : std::runtime_error {
  int status;
  std::optional<std::string> param;
  std::string type;  // "" = from the status
  ApiError(int s, const std::string& message, std::optional<std::string> p = std::nullopt,
           std::string t = "")
      : std::runtime_error(message), status(s), param(std::move(p)), type(std::move(t)) {}
};
ApiError bad_request(const std::string& message, std::optional<std::string> param = std::nullopt);
// The HTTP status of an engine error kind (invalid input 400, overloaded 429, device lost 503,
// ...).
int status_of(ErrorKind kind);
json error_json(int status, const std::string& message, const std::optional<std::string>& param,
                const std::string& type = "");
std::string dump(const json& j);  // compact; invalid UTF-8 replaced

struct Limits {
  size_t max_inputs_per_request = 2048;
  bool trust_request_chat_template = false;  // a request may bring its own `chat_template`
};

// `input`: a string, a list of strings, a list of token ids or a list of lists of token ids;
// or (/classify, /pooling) `messages`: one conversation for the model's chat template, with
// add_generation_prompt, continue_final_message, add_special_tokens (default false),
// chat_template (only with --trust-request-chat-template) and chat_template_kwargs.
struct Inputs {
  bool is_ids = false;
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> ids;
  std::optional<ChatInput> chat;
  size_t size() const { return chat ? 1 : is_ids ? ids.size() : texts.size(); }
  std::vector<TextInput> to_engine() const;
};

// Fields every pooling request has (PoolingBasicRequestMixin and friends).
struct Common {
  std::optional<std::string> model, request_id;
  RequestParams params;
};

struct ClassifyRequest {
  Common common;
  Inputs input;
};

struct PoolingRequest {
  Common common;
  Inputs input;
  std::optional<Task> task;
  EncodingFormat encoding;
};

struct EmbeddingRequest {
  Common common;
  Inputs input;
  EncodingFormat encoding;
};

// /score and /rerank: `instruction` and `chat_template_kwargs` (variables of the score template,
// vkcls serve --chat-template) land in common.params.
struct ScoreRequest {
  Common common;
  std::string first_name, second_name;  // which spelling the client used (for messages)
  std::vector<std::string> first, second;
  std::vector<TextInput> pairs() const;  // 1:1, 1:N or N:N
};

struct RerankRequest {
  Common common;
  std::string query;
  std::vector<std::string> documents;
  int64_t top_n = 0;
  bool return_documents = true;
};

struct TokenizeRequest {
  std::optional<std::string> model;
  std::string prompt;
  bool add_special_tokens = true, return_token_strs = false;
};

struct DetokenizeRequest {
  std::optional<std::string> model;
  std::vector<int32_t> tokens;
};

ClassifyRequest parse_classify(const json& body, const Limits& limits);
PoolingRequest parse_pooling(const json& body, const Limits& limits);
EmbeddingRequest parse_embedding(const json& body, const Limits& limits);
ScoreRequest parse_score(const json& body, const Limits& limits);
RerankRequest parse_rerank(const json& body, const Limits& limits);
TokenizeRequest parse_tokenize(const json& body);
DetokenizeRequest parse_detokenize(const json& body);

// Response bodies. `id` is the full id ("classify-<request id>"), `created` unix seconds.
struct ResponseMeta {
  std::string id, model;
  int64_t created = 0;
};
json usage_json(int64_t prompt_tokens);
json classify_response(const ResponseMeta& m, const std::vector<ClassifyResult>& results);
json pooling_response(const ResponseMeta& m, const Results& results, const PoolingRequest& req);
json embedding_response(const ResponseMeta& m, const std::vector<EmbedResult>& results,
                        const EncodingFormat& enc);
json score_response(const ResponseMeta& m, const std::vector<ScoreResult>& results);
// encoding_format bytes / bytes_only (vLLM's): the body is every output's values as embed_dtype,
// one after another; for bytes, `metadata` (the header of that name) is JSON {id, created,
// model, data: [{index, embed_dtype, endianness, start, end, shape}], usage}.
struct BinaryResponse {
  std::string body;
  std::optional<std::string> metadata;
};
BinaryResponse pooling_bytes_response(const ResponseMeta& m, const Results& results,
                                      const PoolingRequest& req);
BinaryResponse embedding_bytes_response(const ResponseMeta& m,
                                        const std::vector<EmbedResult>& results,
                                        const EncodingFormat& enc);
json rerank_response(const ResponseMeta& m, const RerankRequest& req,
                     const std::vector<ScoreResult>& results);

}  // namespace vkcls::server
