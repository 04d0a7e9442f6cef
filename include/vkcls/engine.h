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
// Every call takes a batch and returns one result per input, in input order. Bad input
// (empty text, too long without truncation, ...) fails only its own result (result.error
// names the field and the limit, result.error_kind says what kind of failure it is); the rest
// of the batch completes. Model-level errors (missing file, unsupported architecture, a task
// the model cannot do) throw vkcls::Error.
//
// Requests from any number of threads go through one scheduler: their sequences are packed
// together into device batches under a token budget, most urgent (RequestParams::priority)
// first, and the next batch is tokenized and uploaded while the device runs the current one.
// submit() is the asynchronous form (the server and the CLI use it); classify() & co. wait.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vkcls/types.h"

namespace vkcls {

struct EngineOptions {
  // A Hugging Face model folder, or a hub id ("ORG/NAME") found in the local hub cache
  // ($HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub) at `revision` (a branch, tag or
  // commit; "" = main), downloaded into that cache first when `download` is set.
  std::string model_dir;
  std::string revision;
  bool download = false;
  // Vulkan device index; -1: the best (discrete > integrated > CPU)
  int device = -1;
  // "f32" | "f16" | "auto" (f16 where the device stores 16-bit values and is a GPU, else f32)
  std::string dtype = "auto";
  // Tokens packed into one device batch; 0: 8192 on a GPU, 2048 on a CPU driver (never below
  // one full-length input, capped by the device's binding limit)
  int64_t max_batch_tokens = 0;
  PoolerConfig pooler;       // vLLM's --pooler-config
  std::string hf_overrides;  // vLLM's --hf-overrides: a JSON object merged into config.json
  // 0: unbounded; else submit() beyond this many queued requests throws Error(overloaded)
  size_t max_queued_requests = 0;
  // Bytes of any one text (text, text_pair, a rendered chat input), checked before it is
  // tokenized: tokenizing takes about 0.3 s and 75 MB per MiB. 0: no limit.
  size_t max_input_bytes = size_t(1) << 20;
  bool validation = false;  // Khronos validation layer (debugging; also VKCLS_VALIDATION=1)
  // Chat inputs: this template's source instead of the model folder's (vLLM's --chat-template;
  // the CLI reads it from a file). A syntax error fails open() with its line and column.
  std::optional<std::string> chat_template;
  // Paged KV memory of causal decoders (chunked prefill, prefix cache): bytes of the page pool
  // (vLLM's --kv-cache-memory); 0: a quarter of the device's memory past the weights, at most
  // what four full batches or four longest inputs need. Encoders have none.
  uint64_t kv_cache_memory = 0;
  bool prefix_cache = true;  // vLLM's --no-enable-prefix-caching turns it off
};

struct ModelInfo {
  std::string model_dir, model_type, architecture;
  std::vector<std::string> labels;  // id2label, index order (LABEL_<i> when the config has none)
  bool has_labels = false;
  int64_t num_labels = 0, hidden_size = 0, max_model_len = 0, vocab_size = 0;
  std::string activation;          // classify / score: "softmax" | "sigmoid" | "identity"
  std::vector<std::string> tasks;  // of "classify", "token_classify", "score", "embed"
  std::string default_task;        // what /pooling runs without a task (pooler_config.task)
  std::string seq_pooling;         // "CLS" | "MEAN" | "LAST": classify / score / embed
  std::string embed_pooling;       // the same for embed (sentence-transformers may differ)
  std::string tok_pooling;         // "ALL" | "STEP": token_classify
  std::string dtype;               // device weights: "f32" | "f16"
  std::string device;              // device name
  bool supports_pairs = true;
  bool matryoshka = true;  // embed accepts `dimensions`
  int64_t max_batch_tokens = 0;
  uint64_t weight_bytes = 0;  // device memory held by the weights
  // paged KV memory (causal decoders; 0 pages: none): pages of kv_page_size tokens, their bytes
  int64_t kv_pages = 0, kv_page_size = 0;
  uint64_t kv_cache_bytes = 0;
  std::string kv_dtype;  // "f32" | "f16" (beside f16 weights)
  bool prefix_cache = false;
};

// A request for submit(): one task over a batch of inputs.
struct Request {
  Task task = Task::classify;
  std::vector<TextInput> inputs;  // score: text = query, text_pair = document
  RequestParams params;
  // Called from the engine's thread after each device batch that advanced this request
  // (sequences done, sequences in all); keep it short.
  std::function<void(size_t done, size_t total)> on_progress;
};

// What a request produced: the vector of its task holds one result per input.
struct Results {
  Task task = Task::classify;
  double queue_seconds = 0;  // from submit() until its first device batch started
  std::vector<ClassifyResult> classify;
  std::vector<TokenClassifyResult> token_classify;
  std::vector<ScoreResult> score;
  std::vector<EmbedResult> embed;
};

// A submitted request. Thread safe.
class Ticket {
 public:
  virtual ~Ticket() = default;
  virtual bool wait_for(std::chrono::milliseconds timeout) = 0;  // true once done
  virtual void wait() = 0;
  // Work not yet on the device is dropped and its results fail with ErrorKind::cancelled;
  // a batch already on the device finishes. The ticket completes soon after. Any thread may
  // call it, on_progress too (the engine's thread: there it takes effect before the next batch).
  virtual void cancel() = 0;
  virtual size_t sequences_done() const = 0;
  virtual size_t sequences_total() const = 0;
  virtual Results take() = 0;  // waits, then moves the results out (once)
};

// One device batch, as a batch observer sees it (the server's /metrics histograms).
struct BatchInfo {
  size_t requests = 0, sequences = 0;
  int64_t tokens = 0;
  double seconds = 0;  // launch to results
};

// Counters since the engine opened (for /metrics and the CLI summary).
struct EngineStats {
  uint64_t requests = 0, sequences = 0, tokens = 0, batches = 0, cancelled_sequences = 0;
  size_t queued_requests = 0, queued_sequences = 0;
  double busy_seconds = 0;  // device batches in flight
  bool device_lost = false;
  // device memory: the largest activation footprint of one batch so far, and what the
  // activation arenas hold reserved (all slots); weights are ModelInfo::weight_bytes
  uint64_t activation_peak_bytes = 0, activation_reserved_bytes = 0;
  // paged KV memory: pages held by admitted sequences and pages holding a cached prefix (of
  // ModelInfo::kv_pages); prefix-cache lookups in prompt tokens, and the tokens found cached
  int64_t kv_pages_in_use = 0, kv_pages_cached = 0;
  uint64_t prefix_cache_query_tokens = 0, prefix_cache_hit_tokens = 0;
};

class Engine {
 public:
  static std::unique_ptr<Engine> open(const EngineOptions& options);
  virtual ~Engine() = default;

  virtual const ModelInfo& info() const = 0;

  // Validates and tokenizes now (in the calling thread), then queues; never blocks on the
  // device. Throws Error(overloaded) when max_queued_requests are waiting, Error(unsupported)
  // for a task the model cannot do, Error(invalid_input) for request-level mistakes
  // (e.g. dimensions out of range); per-input problems go into the results.
  virtual std::shared_ptr<Ticket> submit(Request request) = 0;

  // Synchronous forms of submit().
  std::vector<ClassifyResult> classify(const std::vector<TextInput>& inputs,
                                       const RequestParams& params = {});
  std::vector<TokenClassifyResult> token_classify(const std::vector<TextInput>& inputs,
                                                  const RequestParams& params = {});
  // Cross-encoder / reranker scores for (query, document) pairs.
  std::vector<ScoreResult> score(const std::string& query,
                                 const std::vector<std::string>& documents,
                                 const RequestParams& params = {});
  std::vector<ScoreResult> score_pairs(const std::vector<TextInput>& pairs,
                                       const RequestParams& params = {});
  std::vector<EmbedResult> embed(const std::vector<TextInput>& inputs,
                                 const RequestParams& params = {});

  // The model's tokenizer (loaded once, shared with every request).
  virtual TokenizeResult tokenize(const std::string& text, bool add_special_tokens) const = 0;
  virtual std::string detokenize(const std::vector<int32_t>& ids,
                                 bool skip_special_tokens) const = 0;

  virtual EngineStats stats() const = 0;
  // Called from the engine's thread after every device batch; set it before submitting.
  virtual void set_batch_observer(std::function<void(const BatchInfo&)> observer) = 0;

  // Lower level, for tests and benches that bring their own token ids: raw outputs per
  // sequence, no activation (classify: [num_labels]; token_classify: [tokens * num_labels];
  // embed: the pooled [hidden]; hidden: [tokens * hidden]; hidden1: the same after layer 1).
  struct IdsInput {
    std::vector<int32_t> ids, type_ids;
  };
  virtual std::vector<std::vector<float>> forward_ids(const std::vector<IdsInput>& inputs,
                                                      const std::string& what) = 0;
};

}  // namespace vkcls
