// vkcls — the value types of the C++ API: inputs, per-request parameters, the pooler
// configuration, results and typed errors. Plain structs with no dependencies, shared by the
// Engine (vkcls/engine.h) and the stages behind it (front end, pooler, output).
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace vkcls {

// What went wrong, for every layer to act on without reading messages: the server maps
// these to HTTP statuses, the CLI to exit codes, the C API to status codes.
enum class ErrorKind {
  none,
  invalid_input,  // a field is malformed or out of range (HTTP 400)
  too_long,       // the input has more tokens than the model / budget allows (400)
  unsupported,    // the model cannot do this task (400; vLLM: "Unsupported task")
  not_found,      // a model, file or route that does not exist (404)
  model,          // the model folder is broken or of an architecture vkcls cannot run
  overloaded,     // the queue is full (429)
  cancelled,      // the caller cancelled (or the client went away)
  device_lost,    // the Vulkan device failed or timed out; nothing more runs on it (503)
  out_of_memory,  // device memory or a memory budget is exhausted
  internal,       // a bug: anything else (500)
};
const char* error_kind_name(ErrorKind kind);

// The exception every layer throws. `param` names the offending field when there is one
// ("input", "truncate_prompt_tokens", "pooler_config.logit_sigma", ...).
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message, std::string param = "")
      : std::runtime_error(message), kind_(kind), param_(std::move(param)) {}
  ErrorKind kind() const { return kind_; }
  const std::string& param() const { return param_; }

 private:
  ErrorKind kind_;
  std::string param_;
};

// The pooling tasks, as vLLM names them.
enum class Task { classify, token_classify, score, embed };
const char* task_name(Task task);
std::optional<Task> task_from_name(const std::string& name);

// vLLM's PoolerConfig (--pooler-config JSON). Unset fields fall back to the
// sentence-transformers files, then to the model's own default.
struct PoolerConfig {
  std::optional<Task> task;                     // the task `/pooling` and the CLI run by default
  std::optional<std::string> seq_pooling_type;  // "CLS" | "MEAN" | "LAST" (classify, score, embed)
  std::optional<std::string> tok_pooling_type;  // "ALL" | "STEP" (token_classify)
  std::optional<bool> use_activation;           // default of the per-request flag
  std::optional<int64_t> dimensions;            // default Matryoshka dimensions for embed
  std::optional<double> logit_mean, logit_sigma;  // calibration: act((logit - mean) / sigma)
  std::optional<int32_t> step_tag_id;             // STEP pooling: keep tokens with this id
  std::optional<std::vector<int32_t>> returned_token_ids;  // STEP / ALL: keep these columns
};
// Parses vLLM's JSON spelling (pooling_type resolves to seq_/tok_pooling_type; the deprecated
// logit_bias = logit_mean and logit_scale = 1 / logit_sigma). Throws Error(invalid_input)
// naming the field, with vLLM's messages (e.g. "logit_sigma cannot be 0 (division by zero)").
PoolerConfig parse_pooler_config(const std::string& json_text);

// A conversation rendered with the model's chat template before tokenization, as
// transformers' apply_chat_template(..., tokenize=True) and vLLM's `messages` inputs do.
struct ChatMessage {
  std::string role;  // "system" | "user" | "assistant" | "tool" | ...
  std::string content;
};
struct ChatInput {
  // The conversation: `messages`, or (when set) `messages_json`, a JSON array of OpenAI-style
  // messages with any fields the template reads (tool_calls, content parts, ...).
  std::vector<ChatMessage> messages;
  std::string messages_json;
  bool add_generation_prompt = false;   // end with the template's assistant header
  bool continue_final_message = false;  // leave the last message open (not with the above)
  // Special tokens of the tokenizer's post-processor around the rendered text (BOS, CLS, ...);
  // off by default because templates write their own. A BOS the template already wrote is
  // not added a second time.
  bool add_special_tokens = false;
  std::string chat_template_kwargs_json;  // a JSON object of extra template variables, or ""
  // A template for this input (its source, or the name of one of the model's named
  // templates) instead of the model's; the server accepts one only when trusted.
  std::optional<std::string> chat_template;
};

// One input: a text, a pair (cross-encoders, NLI, rerankers), token ids used as given, or a
// conversation (`chat`, rendered by the front end; text and text_pair stay empty).
struct TextInput {
  std::string text;
  std::optional<std::string> text_pair;
  std::optional<std::vector<int32_t>> token_ids;  // instead of text: vLLM takes ids as they are
  std::optional<ChatInput> chat;
};

// Entity aggregation of token_classify, as the Hugging Face NER pipeline names it.
enum class Aggregation { none, simple, first, average, max };

// Per-request parameters, as vLLM names them. Every parameter is applied after the forward
// pass or in the front end, so requests with different parameters share device batches.
struct RequestParams {
  // nullopt: an input longer than the model's limit is an error naming both; -1: truncate to
  // the model's limit; k > 0: keep k tokens (k above the limit is an error).
  std::optional<int64_t> truncate_prompt_tokens;
  std::string truncation_side = "right";  // "right" | "left"
  bool add_special_tokens = true;         // text inputs (a chat input has its own, default off)
  std::optional<bool> use_activation;     // nullopt: the pooler config's default (true)
  int64_t priority = 0;                   // lower runs first (vLLM's priority scheduling)
  // classify: the k best labels in ClassifyResult::top_k (0: none, -1: all)
  int64_t top_k = 0;
  // embed: L2 normalisation (nullopt: use_activation, default true) and Matryoshka dimensions
  std::optional<bool> normalize;
  std::optional<int64_t> dimensions;
  // token_classify: entity spans (TokenClassifyResult::entities) as the HF pipeline groups
  // them; labels left out of the spans; stride > 0 runs a long text as overlapping windows
  // (the pipeline's stride) whose entities are merged.
  std::optional<Aggregation> aggregation;
  std::vector<std::string> ignore_labels = {"O"};
  int64_t stride = 0;
  // score with a score template (EngineOptions::chat_template renders each pair as
  // [{"role": "query"}, {"role": "document"}], vLLM's CrossEncoderIOProcessor): extra template
  // variables (a JSON object) and `instruction`, the variable of that name (Qwen3-Reranker's
  // template reads it). Either one without a score template is Error(invalid_input).
  std::string chat_template_kwargs_json;
  std::optional<std::string> instruction;
  // score: each side of a pair keeps its first k tokens (0: all) before it is paired or
  // templated (vLLM's max_tokens_per_query / max_tokens_per_doc on /score and /rerank)
  int64_t max_tokens_per_query = 0, max_tokens_per_doc = 0;
  // Prefix cache: only requests with the same salt share cached KV pages (vLLM's cache_salt,
  // 1 to 1024 characters; "" = no salt).
  std::string cache_salt;
};

struct LabelScore {
  std::string label;
  float score = 0;
  int64_t index = 0;
};

struct ClassifyResult {
  std::vector<float> probs;  // activated scores (softmax / sigmoid / identity), or logits
  int64_t label_index = -1;  // argmax
  std::string label;         // id2label[label_index], or LABEL_<i> when the config has none
  bool has_label = false;    // the label came from config.json's id2label
  int64_t num_classes = 0;
  std::vector<LabelScore> top_k;  // RequestParams::top_k, best first (stable for ties)
  int64_t prompt_tokens = 0;
  std::string error;  // non-empty: this input failed, the fields above are unset
  ErrorKind error_kind = ErrorKind::none;
  bool ok() const { return error.empty(); }
};

struct TokenScore {
  std::vector<float> probs;  // per label
  int32_t token_id = 0;
  std::string token;  // the tokenizer's token string
  int64_t start = 0,
          end = 0;  // character (code point) offsets into the input text; 0,0 for special tokens
  bool special = false;
};
struct EntitySpan {
  std::string entity;  // aggregation none: the token's label; else the entity group
  float score = 0;
  int64_t index = -1;  // aggregation none: the token's position (specials counted)
  std::string word;
  int64_t start = 0, end = 0;  // code points
};
struct TokenClassifyResult {
  std::vector<TokenScore> tokens;    // one per token (ALL pooling) or per step tag (STEP)
  std::vector<std::string> labels;   // column names, in order
  std::vector<EntitySpan> entities;  // RequestParams::aggregation
  int64_t prompt_tokens = 0;
  std::string error;
  ErrorKind error_kind = ErrorKind::none;
  bool ok() const { return error.empty(); }
};

struct ScoreResult {
  float score =
      0;  // activated (sigmoid for num_labels == 1 unless the model says otherwise), or the logit
  int64_t prompt_tokens = 0;
  std::string error;
  ErrorKind error_kind = ErrorKind::none;
  bool ok() const { return error.empty(); }
};

struct EmbedResult {
  std::vector<float> embedding;
  int64_t prompt_tokens = 0;
  std::string error;
  ErrorKind error_kind = ErrorKind::none;
  bool ok() const { return error.empty(); }
};

// The tokenizer as the Engine exposes it (/tokenize, vkcls tokenize).
struct TokenizeResult {
  std::vector<int32_t> ids;
  std::vector<std::string> tokens;
  std::vector<std::pair<int64_t, int64_t>> offsets;  // code points; {0, 0} for special tokens
};

}  // namespace vkcls
