// Engine::open: a model folder -> config (+ hf_overrides) -> tokenizer -> device -> the
// family's runner (models/registry.h) -> its heads -> the pooler config resolved -> limits ->
// an EngineImpl. And the synchronous forms of submit().
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>

#include "engine/engine_impl.h"
#include "models/config.h"
#include "models/decoder_heads.h"
#include "models/hub_cache.h"
#ifdef VKCLS_HAVE_HUB_DOWNLOAD
#include "models/hub_download.h"
#endif
#include "models/registry.h"
#include "models/safetensors.h"
#include "runtime/context.h"
#include "runtime/vk_check.h"

namespace vkcls {

namespace {

namespace fs = std::filesystem;

struct DeviceState {
  std::unique_ptr<Context> ctx;
  std::unique_ptr<WeightStore> store;
  std::unique_ptr<ModelRunner> runner;
  std::unique_ptr<KvCache> kv;
};

constexpr int64_t kKvPageSize = 16;  // tokens per KV page (vLLM's default block size)

// The paged KV cache of a causal decoder: the budget given, or a quarter of the device memory
// past the weights, at most what four full batches (or four longest inputs) need.
std::unique_ptr<KvCache> make_kv_cache(Context& ctx, const RunnerInfo& ri, uint64_t budget,
                                       int64_t batch_tokens, int64_t max_len, DType weights) {
  // fp16 pages beside fp16 weights (attention accumulates in fp32 either way)
  const DType dt = weights == DType::f16 && ri.kv_row_width % 2 == 0 ? DType::f16 : DType::f32;
  const uint64_t per_token = KvCache::bytes_per_token(ri.kv_layers, ri.kv_row_width, dt);
  if (budget == 0) {
    uint64_t have = ctx.info().device_local_bytes;
    if (long fake = env_int("VKCLS_DEVICE_MEMORY_BYTES", 0); fake > 0) have = uint64_t(fake);
    const uint64_t spare = have > ri.weight_bytes ? (have - ri.weight_bytes) / 4 : 0;
    const uint64_t want = uint64_t(4 * std::max(batch_tokens, max_len)) * per_token;
    budget = have ? std::min(spare, want) : want;
  }
  const int64_t pages =
      KvCache::pages_for_budget(ctx, budget, ri.kv_layers, ri.kv_row_width, kKvPageSize, dt);
  if (pages <= 0)
    throw Error(ErrorKind::invalid_input,
                fmt::format("kv_cache_memory: {} bytes hold no KV page; one page of {} tokens "
                            "takes {} bytes for this model",
                            budget, kKvPageSize, per_token * kKvPageSize),
                "kv_cache_memory");
  try {
    return std::make_unique<KvCache>(ctx, ri.kv_layers, ri.kv_row_width, kKvPageSize, pages, dt);
  } catch (const VulkanError& e) {
    throw Error(ErrorKind::out_of_memory,
                fmt::format("device: the KV cache of {} pages ({:.1f} MiB): {}", pages,
                            double(pages * kKvPageSize * per_token) / 1048576.0, e.what()));
  }
}

// The device memory the weights will take in `dt` (norm and bias vectors stay f32; they are a
// rounding error here), checked before anything is allocated. lm_head.weight is left out: a
// converted *ForCausalLM keeps only the rows of its classifier tokens.
void check_weights_fit(const WeightStore& store, DType dt, const Context& ctx,
                       const std::string& model_dir) {
  uint64_t need = 0;
  for (const std::string& name : store.names())
    if (name != "lm_head.weight") need += uint64_t(store.get(name).numel()) * dtype_size(dt);
  // VKCLS_DEVICE_MEMORY_BYTES: pretend the device has this much (tests; lavapipe's heap is the
  // host's memory)
  uint64_t have = ctx.info().device_local_bytes;
  if (long fake = env_int("VKCLS_DEVICE_MEMORY_BYTES", 0); fake > 0) have = uint64_t(fake);
  if (have > 0 && need > have)
    throw Error(
        ErrorKind::out_of_memory,
        fmt::format("model '{}' does not fit device '{}': its weights need {:.1f} MiB as "
                    "{}, the device has {:.1f} MiB of device memory{}",
                    model_dir, ctx.info().name, need / 1048576.0, dtype_name(dt), have / 1048576.0,
                    dt == DType::f32 && ctx.fp16_enabled() ? " (--dtype f16 halves it)" : ""));
}

DType choose_dtype(const Context& ctx, const std::string& want) {
  if (want == "f32") return DType::f32;
  if (want == "f16") {
    if (!ctx.fp16_enabled())
      throw Error(ErrorKind::invalid_input,
                  fmt::format("dtype f16: device '{}' has no 16-bit storage", ctx.info().name),
                  "dtype");
    return DType::f16;
  }
  if (want == "auto" || want.empty())
    // fp16 halves memory traffic on GPUs; on a CPU driver it buys nothing, so keep fp32 exact
    return ctx.fp16_enabled() && ctx.info().type != VK_PHYSICAL_DEVICE_TYPE_CPU ? DType::f16
                                                                                : DType::f32;
  throw Error(ErrorKind::invalid_input,
              fmt::format("dtype '{}' is not one of f32, f16, auto", want), "dtype");
}

ErrorKind kind_of(const HubError& e) {
  switch (e.kind()) {
    case HubError::Kind::not_found:
      return ErrorKind::not_found;
    case HubError::Kind::bad_id:
      return ErrorKind::invalid_input;
    default:
      return ErrorKind::model;
  }
}

// A folder, a hub id in the local cache, or (download) a hub id fetched into the cache.
std::string model_folder(const EngineOptions& o) {
  try {
    return resolve_model_path(o.model_dir, o.revision);
  } catch (const HubError& e) {
    if (!(o.download && e.kind() == HubError::Kind::not_found && is_hub_repo_id(o.model_dir)))
      throw Error(kind_of(e), e.what(), "model");
  }
#ifdef VKCLS_HAVE_HUB_DOWNLOAD
  try {
    return download_model(o.model_dir, o.revision);
  } catch (const HubError& e) {
    throw Error(kind_of(e), e.what(), "model");
  }
#else
  throw Error(ErrorKind::unsupported,
              "this build cannot download models (no cpp-httplib with OpenSSL)", "model");
#endif
}

std::unique_ptr<Engine> open_engine(EngineOptions o) {
  if (o.model_dir.empty())
    throw Error(ErrorKind::invalid_input, "EngineOptions.model_dir is empty", "model");
  o.model_dir = model_folder(o);
  if (o.max_batch_tokens < 0)
    throw Error(ErrorKind::invalid_input, "max_batch_tokens must be positive", "max_batch_tokens");

  ModelConfig cfg;
  SentenceTransformersInfo st;
  bool converted = false;
  try {
    cfg = load_model_config(o.model_dir, o.hf_overrides);
    converted = apply_classifier_conversion(cfg);  // vLLM's --convert classify
    st = load_sentence_transformers_info(o.model_dir);
  } catch (const ConfigError& e) {
    throw Error(ErrorKind::model, e.what());
  }

  auto dev = std::make_shared<DeviceState>();
  try {
    dev->store = std::make_unique<WeightStore>(WeightStore::open_dir(o.model_dir));
  } catch (const SafetensorsError& e) {
    throw Error(ErrorKind::model, e.what());
  }
  ContextOptions co;
  co.device_index = o.device;
  if (o.validation) co.validation = Validation::on;
  try {
    dev->ctx = std::make_unique<Context>(co);
  } catch (const VulkanError& e) {
    throw Error(ErrorKind::device_lost, fmt::format("device: {}", e.what()));
  }
  Context& ctx = *dev->ctx;
  const DType dt = choose_dtype(ctx, o.dtype);
  check_weights_fit(*dev->store, dt, ctx, o.model_dir);
  try {
    // classifier_from_token names vocabulary strings: the tokenizer resolves them (loaded on
    // demand)
    std::shared_ptr<Tokenizer> tok;
    auto token_to_id = [&tok, dir = o.model_dir](const std::string& t) -> std::optional<int32_t> {
      if (!tok) {
        const fs::path file = fs::path(dir) / "tokenizer.json";
        if (!fs::exists(file))
          throw Error(ErrorKind::model,
                      fmt::format("classifier_from_token needs {}", file.string()));
        try {
          tok = std::make_shared<Tokenizer>(Tokenizer::from_file(file.string()));
        } catch (const TokenizerError& e) {
          throw Error(ErrorKind::model, e.what());
        }
      }
      return tok->token_to_id(t);
    };
    dev->runner = create_runner({ctx, cfg, *dev->store, dt, token_to_id});
  } catch (const SafetensorsError& e) {
    throw Error(ErrorKind::model, e.what());
  } catch (const VulkanError& e) {
    throw Error(ErrorKind::out_of_memory, fmt::format("device: {}", e.what()));
  }
  ModelRunner& runner = *dev->runner;
  const RunnerInfo& ri = runner.info();

  EngineParts parts;
  ModelInfo& info = parts.info;
  info.model_dir = o.model_dir;
  info.model_type = cfg.model_type;
  info.architecture = cfg.architectures.empty() ? "" : cfg.architectures[0];
  info.hidden_size = ri.hidden;
  info.vocab_size = ri.vocab_size;
  info.dtype = dtype_name(dt);
  info.device = ctx.info().name;
  info.weight_bytes = ri.weight_bytes;

  // tasks from the heads the checkpoint carries
  const HeadSpec* seq = runner.sequence_head();
  const HeadSpec* tok = runner.token_head();
  int64_t labels = seq ? seq->out_features : tok ? tok->out_features : 0;
  if ((seq || tok) && labels != cfg.num_labels)
    throw Error(ErrorKind::model,
                fmt::format("config.json has {} labels but the classifier weights give {}",
                            cfg.num_labels, labels));
  PoolerDefaults defaults;
  if (tok) defaults.tasks.push_back(Task::token_classify);
  if (seq) defaults.tasks.push_back(Task::classify);
  if (seq && labels == 1) defaults.tasks.push_back(Task::score);
  defaults.tasks.push_back(Task::embed);
  defaults.seq_pooling = ri.seq_pooling;
  defaults.embed_pooling = ri.embed_pooling;
  defaults.st_pooling_mode = st.pooling_mode;
  defaults.num_labels = labels;
  defaults.hidden_size = ri.hidden;
  ResolvedPooler pooler = resolve_pooler(o.pooler, defaults);
  for (Task t : {Task::classify, Task::score, Task::token_classify, Task::embed})
    if (std::find(pooler.tasks.begin(), pooler.tasks.end(), t) != pooler.tasks.end())
      info.tasks.push_back(task_name(t));
  info.default_task = task_name(pooler.default_task);
  info.seq_pooling = seq_pooling_name(pooler.seq_pooling);
  info.embed_pooling = seq_pooling_name(pooler.embed_pooling);
  info.tok_pooling = tok_pooling_name(pooler.tok_pooling);
  info.num_labels = labels;
  info.has_labels = cfg.has_id2label;
  info.labels = cfg.id2label;
  for (int64_t i = int64_t(info.labels.size()); i < labels; ++i)
    info.labels.push_back(fmt::format("LABEL_{}", i));
  for (size_t i = 0; i < info.labels.size(); ++i)
    if (info.labels[i].empty()) info.labels[i] = fmt::format("LABEL_{}", i);

  // limits: the model's length (sentence-transformers may lower it); one batch's widest
  // activation must fit one binding
  int64_t max_len = ri.max_tokens;
  if (st.max_seq_length > 0) max_len = std::min(max_len, st.max_seq_length);
  int64_t cap =
      int64_t(ctx.info().max_storage_buffer_range) / std::max<int64_t>(1, ri.widest_row_bytes);
  int64_t wanted = o.max_batch_tokens > 0                           ? o.max_batch_tokens
                   : ctx.info().type == VK_PHYSICAL_DEVICE_TYPE_CPU ? 2048
                                                                    : 8192;
  max_len = std::min(max_len, cap);
  // a causal decoder runs a long input in chunks: its batches may be shorter than one input
  const bool paged = ri.causal && ri.kv_layers > 0;
  parts.max_batch_tokens =
      std::clamp<int64_t>(wanted, paged ? std::min<int64_t>(kKvPageSize, max_len) : max_len, cap);
  info.max_model_len = max_len;
  info.max_batch_tokens = parts.max_batch_tokens;
  info.activation = activation_name(activation_for(cfg.problem_type, labels, st.activation_fn));

  parts.frontend = std::make_unique<FrontEnd>(
      o.model_dir,
      FrontEndLimits{max_len, ri.vocab_size, ri.type_vocab_size, converted, o.max_input_bytes},
      o.chat_template);
  const TokenStrings& strings = parts.frontend->token_strings();
  OutputSpec& out = parts.output;
  out.activation = activation_for(cfg.problem_type, labels, st.activation_fn);
  out.pooler = pooler;
  out.labels = info.labels;
  out.has_labels = info.has_labels;
  out.hidden_size = ri.hidden;
  out.subwords = strings.subword_prefix() ? SubwordMarking::Prefix : SubwordMarking::Offsets;
  out.unk_id = strings.unk_id();
  out.tokens_to_string = [&strings](const std::vector<std::string>& t) {
    return strings.tokens_to_string(t);
  };
  parts.pad_token_id = ri.pad_token_id;
  parts.causal = paged;
  if (paged) {
    dev->kv = make_kv_cache(ctx, ri, o.kv_cache_memory, parts.max_batch_tokens, max_len, dt);
    const bool prefix_cache = o.prefix_cache && ri.prefix_cacheable;
    parts.blocks =
        std::make_unique<BlockManager>(dev->kv->num_pages(), dev->kv->page_size(), prefix_cache);
    info.kv_pages = dev->kv->num_pages();
    info.kv_page_size = dev->kv->page_size();
    info.kv_cache_bytes = dev->kv->bytes();
    info.kv_dtype = dtype_name(dev->kv->dtype());
    info.prefix_cache = prefix_cache;
  }
  parts.max_queued_requests = o.max_queued_requests;
  parts.backend = std::make_unique<DeviceExecutor>(ctx, runner, dev->kv.get());
  parts.device_state = dev;
  return std::make_unique<EngineImpl>(std::move(parts));
}

template <class R>
std::vector<R> run_sync(Engine& e, Task task, const std::vector<TextInput>& inputs,
                        const RequestParams& params, std::vector<R> Results::*field) {
  Request r;
  r.task = task;
  r.inputs = inputs;
  r.params = params;
  return std::move(e.submit(std::move(r))->take().*field);
}

}  // namespace

std::unique_ptr<Engine> Engine::open(const EngineOptions& options) {
  return open_engine(options);
}

std::vector<ClassifyResult> Engine::classify(const std::vector<TextInput>& inputs,
                                             const RequestParams& params) {
  return run_sync(*this, Task::classify, inputs, params, &Results::classify);
}

std::vector<TokenClassifyResult> Engine::token_classify(const std::vector<TextInput>& inputs,
                                                        const RequestParams& params) {
  return run_sync(*this, Task::token_classify, inputs, params, &Results::token_classify);
}

std::vector<ScoreResult> Engine::score_pairs(const std::vector<TextInput>& pairs,
                                             const RequestParams& params) {
  return run_sync(*this, Task::score, pairs, params, &Results::score);
}

std::vector<ScoreResult> Engine::score(const std::string& query,
                                       const std::vector<std::string>& documents,
                                       const RequestParams& params) {
  std::vector<TextInput> pairs;
  for (const std::string& d : documents) pairs.push_back({query, d});
  return score_pairs(pairs, params);
}

std::vector<EmbedResult> Engine::embed(const std::vector<TextInput>& inputs,
                                       const RequestParams& params) {
  return run_sync(*this, Task::embed, inputs, params, &Results::embed);
}

}  // namespace vkcls
