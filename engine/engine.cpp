// The Engine: tokenizer -> packing -> encoder forward -> head -> activation.
// Inputs are tokenized a chunk ahead on a worker thread while the device runs the
// current chunk; each chunk is packed into device batches under max_batch_tokens.
#include "vkcls/engine.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <future>
#include <mutex>
#include <stdexcept>

#include "models/config.h"
#include "models/encoder.h"
#include "models/safetensors.h"
#include "poolers/activation.h"
#include "poolers/head.h"
#include "runtime/context.h"
#include "runtime/memory.h"
#include "runtime/recorder.h"
#include "tokenizer/tokenizer.h"

namespace vkcls {
namespace {

namespace fs = std::filesystem;

// One tokenized input, or the reason it cannot run.
struct Prepared {
  Encoding enc;
  std::string error;
};

class EncoderEngine final : public Engine {
 public:
  explicit EncoderEngine(const EngineOptions& o);
  const ModelInfo& info() const override { return info_; }
  std::vector<ClassifyResult> classify(const std::vector<TextInput>& inputs, const RequestParams& p) override;
  std::vector<TokenClassifyResult> token_classify(const std::vector<TextInput>& inputs, const RequestParams& p) override;
  std::vector<ScoreResult> score(const std::string& query, const std::vector<std::string>& docs,
                                 const RequestParams& p) override;
  std::vector<ScoreResult> score_pairs(const std::vector<TextInput>& pairs, const RequestParams& p) override;
  std::vector<EmbedResult> embed(const std::vector<TextInput>& inputs, const RequestParams& p,
                                 const EmbedParams& ep) override;
  std::vector<std::vector<float>> forward_ids(const std::vector<IdsInput>& inputs, const std::string& task) override;

 private:
  Prepared prepare(const TextInput& in, const RequestParams& p) const;
  // Runs the model over prepared inputs (errors skipped) and calls emit(i, output rows) per input.
  // `kind` chooses the head: "sequence" / "token" / "embed" / "hidden" / "hidden1".
  template <class Emit>
  void run(const std::vector<Prepared>& prepared, const std::string& kind, Emit emit);
  template <class Result, class Fill>
  std::vector<Result> run_texts(const std::vector<TextInput>& inputs, const RequestParams& p, const std::string& kind,
                                Fill fill);
  void require_task(const char* task) const;

  EngineOptions opts_;
  ModelConfig cfg_;
  SentenceTransformersInfo st_;
  std::unique_ptr<Context> ctx_;
  std::unique_ptr<WeightStore> store_;
  std::unique_ptr<Tokenizer> tok_;
  std::unique_ptr<EncoderModel> model_;
  std::unique_ptr<Head> seq_head_, tok_head_, embed_head_;
  Activation activation_ = Activation::softmax;
  std::optional<Calibration> calibration_;
  int64_t max_len_ = 0, batch_tokens_ = 0;
  ModelInfo info_;
  std::mutex device_mutex_;
  std::unique_ptr<Arena> scratch_;      // activations, reset per device batch
  std::unique_ptr<Recorder> recorder_;  // under device_mutex_
};

EncoderEngine::EncoderEngine(const EngineOptions& o) : opts_(o) {
  if (o.model_dir.empty()) throw std::invalid_argument("EngineOptions.model_dir is empty");
  if (!fs::is_directory(o.model_dir)) throw std::invalid_argument(fmt::format("model folder '{}' does not exist", o.model_dir));
  cfg_ = load_model_config(o.model_dir);
  st_ = load_sentence_transformers_info(o.model_dir);
  tok_ = std::make_unique<Tokenizer>(Tokenizer::from_model_dir(o.model_dir));
  store_ = std::make_unique<WeightStore>(WeightStore::open_dir(o.model_dir));

  ContextOptions co;
  co.device_index = o.device;
  if (o.validation) co.validation = Validation::on;
  ctx_ = std::make_unique<Context>(co);
  DType dt;
  if (o.dtype == "f32") dt = DType::f32;
  else if (o.dtype == "f16") {
    if (!ctx_->fp16_enabled()) throw std::invalid_argument(fmt::format("dtype f16: device '{}' has no 16-bit storage", ctx_->info().name));
    dt = DType::f16;
  } else if (o.dtype == "auto" || o.dtype.empty()) {
    // fp16 halves memory traffic on GPUs; on a CPU driver it buys nothing, so keep fp32 exact
    dt = ctx_->fp16_enabled() && ctx_->info().type != VK_PHYSICAL_DEVICE_TYPE_CPU ? DType::f16 : DType::f32;
  } else {
    throw std::invalid_argument(fmt::format("dtype '{}' is not one of f32, f16, auto", o.dtype));
  }
  model_ = std::make_unique<EncoderModel>(*ctx_, cfg_, *store_, dt);

  // Which heads the checkpoint carries decides the tasks.
  std::string arch = cfg_.architectures.empty() ? "" : cfg_.architectures[0];
  info_.architecture = arch;
  bool seq = arch.ends_with("ForSequenceClassification"), tokc = arch.ends_with("ForTokenClassification");
  if (seq) seq_head_ = std::make_unique<Head>(*ctx_, *store_, model_->family(), model_->prefix(), HeadTask::sequence,
                                              model_->hidden(), ops::Pool::first);
  if (tokc) tok_head_ = std::make_unique<Head>(*ctx_, *store_, model_->family(), model_->prefix(), HeadTask::token,
                                               model_->hidden(), ops::Pool::first);
  ops::Pool pool = ops::Pool::first;
  std::string pm = !o.pooling.empty() ? o.pooling : st_.pooling_mode;
  if (pm == "mean") pool = ops::Pool::mean;
  else if (pm == "last" || pm == "lasttoken") pool = ops::Pool::last;
  else if (pm == "cls" || pm.empty()) pool = ops::Pool::first;
  else throw std::invalid_argument(fmt::format("pooling '{}' is not supported (cls, mean, last)", pm));
  embed_head_ = std::make_unique<Head>(*ctx_, *store_, model_->family(), model_->prefix(), HeadTask::embed,
                                       model_->hidden(), pool);

  int64_t labels = seq_head_ ? seq_head_->num_outputs() : tok_head_ ? tok_head_->num_outputs() : 0;
  if ((seq || tokc) && labels != cfg_.num_labels)
    throw std::invalid_argument(fmt::format("config.json has {} labels but the classifier weights give {}", cfg_.num_labels, labels));
  activation_ = activation_for(cfg_.problem_type, labels, st_.activation_fn);
  if (o.logit_mean || o.logit_sigma) {
    calibration_ = Calibration{o.logit_mean.value_or(0.f), o.logit_sigma.value_or(1.f)};
    if (!(calibration_->logit_sigma > 0)) throw std::invalid_argument("calibration logit_sigma must be > 0");
  }

  for (int32_t k : o.returned_token_ids)
    if (k < 0 || k >= labels)
      throw std::invalid_argument(fmt::format("returned_token_ids: {} is outside the model's {} labels", k, labels));
  max_len_ = model_->max_tokens();
  if (st_.max_seq_length > 0) max_len_ = std::min(max_len_, st_.max_seq_length);
  // A batch's largest activation ([T, max(3H, I)] f32) must fit one binding.
  int64_t widest = std::max(3 * model_->hidden(), model_->intermediate()) * 4;
  int64_t cap = int64_t(ctx_->info().max_storage_buffer_range) / widest;
  int64_t wanted = o.max_batch_tokens > 0 ? o.max_batch_tokens
                   : ctx_->info().type == VK_PHYSICAL_DEVICE_TYPE_CPU ? 2048 : 8192;
  if (o.max_batch_tokens < 0) throw std::invalid_argument("max_batch_tokens must be positive");
  batch_tokens_ = std::max<int64_t>(max_len_, std::min<int64_t>(wanted, cap));
  if (batch_tokens_ > cap) batch_tokens_ = cap;
  if (max_len_ > cap) max_len_ = cap;

  info_.model_dir = o.model_dir;
  info_.model_type = cfg_.model_type;
  info_.labels = cfg_.id2label;
  info_.has_labels = cfg_.has_id2label;
  info_.num_labels = labels;
  info_.hidden_size = model_->hidden();
  info_.max_model_len = max_len_;
  info_.activation = activation_name(activation_);
  if (seq) info_.tasks.push_back("classify");
  if (seq && labels == 1) info_.tasks.push_back("score");
  if (tokc) info_.tasks.push_back("token_classify");
  info_.tasks.push_back("embed");
  info_.dtype = dtype_name(dt);
  info_.device = ctx_->info().name;
  info_.supports_pairs = true;
}

void EncoderEngine::require_task(const char* task) const {
  if (std::find(info_.tasks.begin(), info_.tasks.end(), task) == info_.tasks.end())
    throw std::invalid_argument(fmt::format("model '{}' ({}) does not support {}: it supports {}", opts_.model_dir,
                                            info_.architecture.empty() ? cfg_.model_type : info_.architecture, task,
                                            fmt::join(info_.tasks, ", ")));
}

Prepared EncoderEngine::prepare(const TextInput& in, const RequestParams& p) const {
  Prepared out;
  try {
    if (in.text.empty()) throw std::invalid_argument("text: input is empty");
    if (p.truncation_side != "right" && p.truncation_side != "left")
      throw std::invalid_argument(fmt::format("truncation_side: '{}' is not 'left' or 'right'", p.truncation_side));
    // max_length 0 = off; a null pointer would apply tokenizer.json's own "truncation"
    // block, which vLLM ignores (truncation is per request).
    TruncationParams tp;
    tp.side = p.truncation_side == "left" ? TruncationSide::Left : TruncationSide::Right;
    if (p.truncate_prompt_tokens) {
      int64_t k = *p.truncate_prompt_tokens;
      if (k == -1) k = max_len_;
      if (k < 1) throw std::invalid_argument(fmt::format("truncate_prompt_tokens: {} is not -1 or a positive count", k));
      if (k > max_len_)
        throw std::invalid_argument(fmt::format("truncate_prompt_tokens: {} is greater than the model's maximum length {}", k, max_len_));
      tp.max_length = size_t(k);
    }
    out.enc = in.text_pair ? tok_->encode_pair(in.text, *in.text_pair, p.add_special_tokens, &tp)
                           : tok_->encode(in.text, p.add_special_tokens, &tp);
    out.enc.overflowing.clear();
    if (out.enc.ids.empty()) throw std::invalid_argument("text: the input produced no tokens");
    if (int64_t(out.enc.ids.size()) > max_len_)
      throw std::invalid_argument(fmt::format(
          "text: the input has {} tokens, more than the model's maximum length of {}; "
          "set truncate_prompt_tokens (-1 truncates to the maximum)", out.enc.ids.size(), max_len_));
    if (model_->type_vocab_size() > 0)
      for (int32_t t : out.enc.type_ids)
        if (t >= model_->type_vocab_size())
          throw std::invalid_argument(fmt::format(
              "text_pair: the tokenizer gives token type {} but the model has type_vocab_size {} (no pair token types)",
              t, model_->type_vocab_size()));
    for (int32_t id : out.enc.ids)
      if (id < 0 || id >= cfg_.vocab_size)
        throw std::invalid_argument(fmt::format("text: token id {} is outside the model's vocabulary of {}", id, cfg_.vocab_size));
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

template <class Emit>
void EncoderEngine::run(const std::vector<Prepared>& prepared, const std::string& kind, Emit emit) {
  Head* head = kind == "sequence" ? seq_head_.get() : kind == "token" ? tok_head_.get()
             : kind == "embed" ? embed_head_.get() : nullptr;
  std::lock_guard lock(device_mutex_);
  // kept across calls: creating them costs more than a small batch's forward pass
  if (!scratch_) {
    scratch_ = std::make_unique<Arena>(*ctx_, "activations", 64ull << 20);
    recorder_ = std::make_unique<Recorder>(*ctx_);
  }
  Arena& scratch = *scratch_;
  Recorder& rec = *recorder_;
  size_t i = 0;
  while (i < prepared.size()) {
    // pack inputs [i, j) under the token budget, skipping failed ones
    std::vector<size_t> members;
    int64_t tokens = 0, max_seqlen = 0;
    size_t j = i;
    for (; j < prepared.size(); ++j) {
      if (!prepared[j].error.empty()) continue;
      int64_t n = int64_t(prepared[j].enc.ids.size());
      if (!members.empty() && tokens + n > batch_tokens_) break;
      members.push_back(j);
      tokens += n;
      max_seqlen = std::max(max_seqlen, n);
    }
    i = j;
    if (members.empty()) continue;

    std::vector<int32_t> ids, pos, types, cu = {0};
    for (size_t m : members) {
      const Encoding& e = prepared[m].enc;
      for (size_t t = 0; t < e.ids.size(); ++t) {
        ids.push_back(e.ids[t]);
        pos.push_back(model_->position_id(int64_t(t)));
        types.push_back(t < e.type_ids.size() ? e.type_ids[t] : 0);
      }
      cu.push_back(int32_t(ids.size()));
    }
    scratch.reset();
    rec.discard();  // nothing half-recorded from an earlier call that threw
    PackedBatch b;
    b.tokens = tokens;
    b.seqs = int64_t(members.size());
    b.max_seqlen = max_seqlen;
    b.ids = scratch.alloc(DType::i32, {tokens});
    b.pos_ids = scratch.alloc(DType::i32, {tokens});
    b.type_ids = scratch.alloc(DType::i32, {tokens});
    b.cu_seqlens = scratch.alloc(DType::i32, {int64_t(cu.size())});
    ctx_->upload(b.ids, ids.data(), ids.size() * 4);
    ctx_->upload(b.pos_ids, pos.data(), pos.size() * 4);
    ctx_->upload(b.type_ids, types.data(), types.size() * 4);
    ctx_->upload(b.cu_seqlens, cu.data(), cu.size() * 4);

    Tensor layer1;
    Tensor hidden = model_->forward(rec, scratch, b, kind == "hidden1" ? &layer1 : nullptr);
    Tensor result = head ? head->run(rec, scratch, hidden, b) : kind == "hidden1" ? layer1 : hidden;
    rec.submit_and_wait();
    std::vector<float> host(size_t(result.numel()));
    ctx_->download(result, host.data(), host.size() * 4);

    const int64_t width = result.dim(1);
    bool per_token = kind == "token" || kind == "hidden" || kind == "hidden1";
    int64_t row = 0;
    for (size_t k = 0; k < members.size(); ++k) {
      int64_t rows = per_token ? int64_t(prepared[members[k]].enc.ids.size()) : 1;
      emit(members[k], std::vector<float>(host.begin() + row * width, host.begin() + (row + rows) * width), width);
      row += rows;
    }
  }
}

template <class Result, class Fill>
std::vector<Result> EncoderEngine::run_texts(const std::vector<TextInput>& inputs, const RequestParams& p,
                                             const std::string& kind, Fill fill) {
  std::vector<Result> results(inputs.size());
  // Tokenize chunk c+1 on a worker while the device runs chunk c.
  const size_t chunk = 512;
  auto tokenize = [&](size_t begin) {
    std::vector<Prepared> out;
    for (size_t k = begin; k < std::min(inputs.size(), begin + chunk); ++k) out.push_back(prepare(inputs[k], p));
    return out;
  };
  std::future<std::vector<Prepared>> next = std::async(std::launch::async, tokenize, 0);
  for (size_t begin = 0; begin < inputs.size(); begin += chunk) {
    std::vector<Prepared> prepared = next.get();
    if (begin + chunk < inputs.size()) next = std::async(std::launch::async, tokenize, begin + chunk);
    for (size_t k = 0; k < prepared.size(); ++k)
      if (!prepared[k].error.empty()) results[begin + k].error = prepared[k].error;
    try {
      run(prepared, kind, [&](size_t k, std::vector<float> out, int64_t width) {
        fill(results[begin + k], prepared[k].enc, std::move(out), width);
      });
    } catch (const std::exception& e) {
      // a device failure fails the inputs of this chunk that had no result yet, not the process
      for (size_t k = 0; k < prepared.size(); ++k)
        if (results[begin + k].error.empty()) results[begin + k].error = fmt::format("device: {}", e.what());
    }
  }
  return results;
}

std::vector<ClassifyResult> EncoderEngine::classify(const std::vector<TextInput>& inputs, const RequestParams& p) {
  require_task("classify");
  return run_texts<ClassifyResult>(inputs, p, "sequence", [&](ClassifyResult& r, const Encoding& e, std::vector<float> v, int64_t) {
    if (p.use_activation) apply_activation(activation_, v, calibration_);
    r.label_index = std::max_element(v.begin(), v.end()) - v.begin();
    r.has_label = cfg_.has_id2label && r.label_index < int64_t(cfg_.id2label.size());
    if (r.has_label) r.label = cfg_.id2label[r.label_index];
    r.num_classes = int64_t(v.size());
    r.probs = std::move(v);
    r.prompt_tokens = int64_t(e.ids.size());
  });
}

std::vector<TokenClassifyResult> EncoderEngine::token_classify(const std::vector<TextInput>& inputs, const RequestParams& p) {
  require_task("token_classify");
  return run_texts<TokenClassifyResult>(inputs, p, "token", [&](TokenClassifyResult& r, const Encoding& e,
                                                                 std::vector<float> v, int64_t width) {
    r.labels = cfg_.id2label;
    if (!opts_.returned_token_ids.empty()) {
      r.labels.clear();
      for (int32_t k : opts_.returned_token_ids) r.labels.push_back(k < int32_t(cfg_.id2label.size()) ? cfg_.id2label[k] : "");
    }
    r.prompt_tokens = int64_t(e.ids.size());
    for (size_t t = 0; t < e.ids.size(); ++t) {
      if (opts_.step_tag_id && e.ids[t] != *opts_.step_tag_id) continue;  // STEP pooling
      TokenScore s;
      s.probs.assign(v.begin() + t * width, v.begin() + (t + 1) * width);
      if (!opts_.returned_token_ids.empty()) {
        std::vector<float> picked;
        for (int32_t k : opts_.returned_token_ids) picked.push_back(s.probs.at(size_t(k)));
        s.probs = std::move(picked);
      }
      if (p.use_activation) apply_activation(activation_, s.probs, calibration_);
      s.token_id = e.ids[t];
      s.token = t < e.tokens.size() ? e.tokens[t] : "";
      s.special = t < e.special_tokens_mask.size() && e.special_tokens_mask[t];
      if (t < e.char_offsets.size()) {
        s.start = e.char_offsets[t].start;
        s.end = e.char_offsets[t].end;
      }
      r.tokens.push_back(std::move(s));
    }
  });
}

std::vector<ScoreResult> EncoderEngine::score_pairs(const std::vector<TextInput>& pairs, const RequestParams& p) {
  require_task("score");
  return run_texts<ScoreResult>(pairs, p, "sequence", [&](ScoreResult& r, const Encoding& e, std::vector<float> v, int64_t) {
    if (p.use_activation) apply_activation(activation_, v, calibration_);
    r.score = v.at(0);
    r.prompt_tokens = int64_t(e.ids.size());
  });
}

std::vector<ScoreResult> EncoderEngine::score(const std::string& query, const std::vector<std::string>& docs,
                                              const RequestParams& p) {
  std::vector<TextInput> pairs;
  for (const auto& d : docs) pairs.push_back({query, d});
  return score_pairs(pairs, p);
}

std::vector<EmbedResult> EncoderEngine::embed(const std::vector<TextInput>& inputs, const RequestParams& p,
                                              const EmbedParams& ep) {
  require_task("embed");
  if (ep.dimensions && (*ep.dimensions < 1 || *ep.dimensions > model_->hidden()))
    throw std::invalid_argument(fmt::format("dimensions: {} is outside 1..{} (the model's hidden size)", *ep.dimensions,
                                            model_->hidden()));
  return run_texts<EmbedResult>(inputs, p, "embed", [&](EmbedResult& r, const Encoding& e, std::vector<float> v, int64_t) {
    if (ep.dimensions) v.resize(size_t(*ep.dimensions));
    if (ep.normalize) {
      double n = 0;
      for (float x : v) n += double(x) * x;
      n = std::max(std::sqrt(n), 1e-12);  // torch.nn.functional.normalize's eps
      for (float& x : v) x = float(x / n);
    }
    r.embedding = std::move(v);
    r.prompt_tokens = int64_t(e.ids.size());
  });
}

std::vector<std::vector<float>> EncoderEngine::forward_ids(const std::vector<IdsInput>& inputs, const std::string& task) {
  std::string kind = task == "classify" ? "sequence" : task == "token_classify" ? "token" : task;
  if (kind == "sequence" && !seq_head_) require_task("classify");
  if (kind == "token" && !tok_head_) require_task("token_classify");
  if (kind != "sequence" && kind != "token" && kind != "embed" && kind != "hidden" && kind != "hidden1")
    throw std::invalid_argument(fmt::format("forward_ids task '{}' is not classify, token_classify, embed, hidden, hidden1", task));
  std::vector<Prepared> prepared(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    prepared[i].enc.ids = inputs[i].ids;
    prepared[i].enc.type_ids = inputs[i].type_ids;
    if (inputs[i].ids.empty()) prepared[i].error = "ids: empty";
    if (int64_t(inputs[i].ids.size()) > max_len_) prepared[i].error = fmt::format("ids: {} tokens, limit {}", inputs[i].ids.size(), max_len_);
  }
  std::vector<std::vector<float>> out(inputs.size());
  run(prepared, kind, [&](size_t k, std::vector<float> v, int64_t) { out[k] = std::move(v); });
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!prepared[i].error.empty()) throw std::invalid_argument(fmt::format("input {}: {}", i, prepared[i].error));
  return out;
}

}  // namespace

std::unique_ptr<Engine> Engine::open(const EngineOptions& options) { return std::make_unique<EncoderEngine>(options); }

}  // namespace vkcls
