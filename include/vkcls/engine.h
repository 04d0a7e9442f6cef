// vkcls — the C++ API.
//
// Open a Hugging Face model folder (config.json, model.safetensors, tokenizer.json)
// once, then classify, tag, score or embed text on the GPU (any Vulkan device;
// lavapipe on machines without one). Semantics follow vLLM's pooling models:
//
//   auto engine = vkcls::Engine::open({.model_dir = "models/sentiment"});
//   auto results = engine->classify({{"I loved it"}, {"Dreadful."}});
//   for (auto& r : results)
//     if (r.ok()) std::printf("%s %.3f\n", r.label.c_str(), r.probs[r.label_index]);
//     else std::printf("error: %s\n", r.error.c_str());
//
// Every call takes a batch and returns one result per input, in input order. Bad
// input (empty text, too long without truncation, ...) fails only its own result
// (result.error, naming the field and the limit); the rest of the batch completes.
// Model-level errors (missing file, unsupported architecture, a task the model
// cannot do) throw std::runtime_error / std::invalid_argument.
// An Engine may be used from several threads; calls are serialised on the device.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vkcls {

struct EngineOptions {
  std::string model_dir;            // a Hugging Face model folder
  int device = -1;                  // Vulkan device index; -1: best (discrete > integrated > CPU)
  std::string dtype = "auto";       // "f32" | "f16" | "auto" (f16 where the device stores 16-bit, else f32)
  int64_t max_batch_tokens = 0;     // tokens packed into one device batch; 0: 8192 on a GPU, 2048 on
                                    // a CPU driver (capped by device limits)
  // Calibration: activation((logit - logit_mean) / logit_sigma), for every classify result.
  std::optional<float> logit_mean, logit_sigma;
  std::string pooling;              // embed pooling override: "cls" | "mean" | "last" ("" = model's own)
  // STEP pooling for token_classify (vLLM's pooler config; process reward models): keep only
  // tokens whose id is step_tag_id, and of their scores only returned_token_ids (in that
  // order), before the activation. Unset / empty: every token, every label (ALL pooling).
  std::optional<int32_t> step_tag_id;
  std::vector<int32_t> returned_token_ids;
  bool validation = false;          // Khronos validation layer (debugging; also VKCLS_VALIDATION=1)
};

// One input: a text, or a pair (cross-encoders, NLI).
struct TextInput {
  std::string text;
  std::optional<std::string> text_pair;
};

// Per-request parameters, as vLLM names them.
struct RequestParams {
  // nullopt: input longer than the model's limit is an error naming both;
  // -1: truncate to the model's limit; k > 0: keep k tokens (k above the limit is an error).
  std::optional<int64_t> truncate_prompt_tokens;
  std::string truncation_side = "right";  // "right" | "left"
  bool add_special_tokens = true;
  bool use_activation = true;             // false: raw logits in probs / scores
};

struct ClassifyResult {
  std::vector<float> probs;   // activated scores (softmax / sigmoid / identity), or logits
  int64_t label_index = -1;   // argmax
  std::string label;          // id2label[label_index]; empty when the config has no label names
  bool has_label = false;
  int64_t num_classes = 0;
  int64_t prompt_tokens = 0;
  std::string error;          // non-empty: this input failed, the fields above are unset
  bool ok() const { return error.empty(); }
};

struct TokenScore {
  std::vector<float> probs;       // per label
  int32_t token_id = 0;
  std::string token;              // the tokenizer's token string
  int64_t start = 0, end = 0;     // character (code point) offsets into the input text; 0,0 for special tokens
  bool special = false;
};
struct TokenClassifyResult {
  std::vector<TokenScore> tokens;  // one per token, special tokens included (vLLM's ALL pooling)
  std::vector<std::string> labels; // id2label in index order
  int64_t prompt_tokens = 0;
  std::string error;
  bool ok() const { return error.empty(); }
};

struct ScoreResult {
  float score = 0;  // activated (sigmoid for num_labels == 1 unless the model says otherwise), or the logit
  int64_t prompt_tokens = 0;
  std::string error;
  bool ok() const { return error.empty(); }
};

struct EmbedParams {
  bool normalize = true;                 // L2-normalise (vLLM's default for embed)
  std::optional<int64_t> dimensions;     // Matryoshka: keep the first n dimensions (then normalise)
};
struct EmbedResult {
  std::vector<float> embedding;
  int64_t prompt_tokens = 0;
  std::string error;
  bool ok() const { return error.empty(); }
};

struct ModelInfo {
  std::string model_dir, model_type, architecture;
  std::vector<std::string> labels;  // id2label, index order
  bool has_labels = false;
  int64_t num_labels = 0, hidden_size = 0, max_model_len = 0;
  std::string activation;           // "softmax" | "sigmoid" | "identity"
  std::vector<std::string> tasks;   // of "classify", "token_classify", "score", "embed"
  std::string dtype;                // device weights: "f32" | "f16"
  std::string device;               // device name
  bool supports_pairs = true;
};

class Engine {
 public:
  static std::unique_ptr<Engine> open(const EngineOptions& options);
  virtual ~Engine() = default;

  virtual const ModelInfo& info() const = 0;

  // Sequence classification (*ForSequenceClassification).
  virtual std::vector<ClassifyResult> classify(const std::vector<TextInput>& inputs, const RequestParams& params = {}) = 0;
  // Token classification (*ForTokenClassification): one score row per token.
  virtual std::vector<TokenClassifyResult> token_classify(const std::vector<TextInput>& inputs,
                                                          const RequestParams& params = {}) = 0;
  // Cross-encoder scores for (query, document) pairs; models with num_labels == 1 only.
  virtual std::vector<ScoreResult> score(const std::string& query, const std::vector<std::string>& documents,
                                         const RequestParams& params = {}) = 0;
  virtual std::vector<ScoreResult> score_pairs(const std::vector<TextInput>& pairs, const RequestParams& params = {}) = 0;
  // Sentence embeddings (pooled hidden states).
  virtual std::vector<EmbedResult> embed(const std::vector<TextInput>& inputs, const RequestParams& params = {},
                                         const EmbedParams& embed_params = {}) = 0;

  // Lower level, for tests and tools that bring their own token ids: raw head outputs per
  // sequence (classify: [num_labels]; token classify: [tokens * num_labels]; embed: [hidden]).
  struct IdsInput {
    std::vector<int32_t> ids, type_ids;
  };
  virtual std::vector<std::vector<float>> forward_ids(const std::vector<IdsInput>& inputs, const std::string& task) = 0;
};

}  // namespace vkcls
