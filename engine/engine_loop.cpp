// The Engine's request path: submit (front end + queue), the worker loop (scheduler ->
// device -> delivery), and the tickets callers wait on.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <utility>

#include "engine/engine_impl.h"

namespace vkcls {

// One submitted request: its inputs, their sequences, what came back so far.
struct PendingRequest {
  uint64_t id = 0;
  Task task = Task::classify;
  std::optional<HeadKind> raw;  // forward_ids: raw rows of this kind, no output stage
  std::vector<TextInput> inputs;
  RequestParams params;
  std::function<void(size_t, size_t)> on_progress;
  std::chrono::steady_clock::time_point submitted;
  bool started = false;

  std::vector<PreparedInput> prepared;            // per input
  std::vector<std::pair<size_t, size_t>> seq_of;  // sequence -> (input, window)
  std::vector<std::vector<float>> seq_out;        // per sequence: its head's rows (chunks appended)
  std::vector<size_t> windows_left;               // per input
  std::vector<uint8_t> input_failed;              // per input
  size_t inputs_left = 0;
  std::atomic<size_t> seqs_done{0};
  size_t seqs_total = 0;

  Results results;
  std::vector<std::vector<float>> raw_rows;  // forward_ids, per input

  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  bool taken = false;
};

namespace {

// What the rows of a request's sequences go through after the forward pass.
HeadKind head_kind(const PendingRequest& p) {
  return p.raw                            ? *p.raw
         : p.task == Task::token_classify ? HeadKind::token
         : p.task == Task::embed          ? HeadKind::embed
                                          : HeadKind::sequence;
}

int64_t utf8_chars(const std::string& s) {
  return std::count_if(s.begin(), s.end(), [](char c) { return (uint8_t(c) & 0xC0) != 0x80; });
}

class TicketImpl final : public Ticket {
 public:
  TicketImpl(EngineImpl& e, std::shared_ptr<PendingRequest> p) : engine_(e), p_(std::move(p)) {}
  bool wait_for(std::chrono::milliseconds d) override {
    std::unique_lock lock(p_->m);
    return p_->cv.wait_for(lock, d, [&] { return p_->done; });
  }
  void wait() override {
    std::unique_lock lock(p_->m);
    p_->cv.wait(lock, [&] { return p_->done; });
  }
  void cancel() override { engine_.cancel(p_->id); }
  size_t sequences_done() const override { return p_->seqs_done.load(); }
  size_t sequences_total() const override { return p_->seqs_total; }
  Results take() override {
    wait();
    std::lock_guard lock(p_->m);
    if (p_->taken) throw Error(ErrorKind::internal, "Ticket::take: the results were already taken");
    p_->taken = true;
    return std::move(p_->results);
  }
  std::vector<std::vector<float>> take_raw() {
    wait();
    return std::move(p_->raw_rows);
  }

 private:
  EngineImpl& engine_;
  std::shared_ptr<PendingRequest> p_;
};

// The result vector of the request's task, pre-filled so failed inputs keep their error.
template <class R>
void set_error(std::vector<R>& v, size_t i, const std::string& msg, ErrorKind kind) {
  v[i] = R{};
  v[i].error = msg;
  v[i].error_kind = kind;
}

void fail_input(PendingRequest& p, size_t i, const std::string& msg, ErrorKind kind) {
  switch (p.task) {
    case Task::classify:
      set_error(p.results.classify, i, msg, kind);
      break;
    case Task::token_classify:
      set_error(p.results.token_classify, i, msg, kind);
      break;
    case Task::score:
      set_error(p.results.score, i, msg, kind);
      break;
    case Task::embed:
      set_error(p.results.embed, i, msg, kind);
      break;
  }
}

}  // namespace

EngineImpl::EngineImpl(EngineParts parts)
    : parts_(std::move(parts)), scheduler_(parts_.max_batch_tokens, 4096, parts_.blocks.get()) {
  worker_ = std::thread([this] { loop(); });
}

EngineImpl::~EngineImpl() {
  {
    std::lock_guard lock(m_);
    stopping_ = true;
    // queued work is dropped; batches on the device finish
    drop_queued_locked("cancelled: the engine is shutting down", ErrorKind::cancelled);
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard lock(m_);
  std::vector<std::shared_ptr<PendingRequest>> left;
  for (auto& [id, p] : active_) left.push_back(p);
  for (auto& p : left) complete_if_done(*p);
}

TokenizeResult EngineImpl::tokenize(const std::string& text, bool add_special_tokens) const {
  return parts_.frontend->tokenize(text, add_special_tokens);
}

std::string EngineImpl::detokenize(const std::vector<int32_t>& ids,
                                   bool skip_special_tokens) const {
  return parts_.frontend->detokenize(ids, skip_special_tokens);
}

void EngineImpl::set_batch_observer(std::function<void(const BatchInfo&)> observer) {
  std::lock_guard lock(m_);
  observer_ = std::move(observer);
}

EngineStats EngineImpl::stats() const {
  std::lock_guard lock(m_);
  EngineStats s = stats_;
  s.queued_requests = scheduler_.queued_requests();
  s.queued_sequences = scheduler_.queued_sequences();
  if (parts_.blocks) {
    BlockStats b = parts_.blocks->stats();
    s.kv_pages_in_use = b.pages_in_use;
    s.kv_pages_cached = b.pages_cached;
    s.prefix_cache_query_tokens = b.query_tokens;
    s.prefix_cache_hit_tokens = b.hit_tokens;
  }
  return s;
}

std::shared_ptr<PendingRequest> EngineImpl::prepare(Request&& r, std::optional<HeadKind> raw) {
  const ModelInfo& info = parts_.info;
  if (!raw &&
      std::find(info.tasks.begin(), info.tasks.end(), task_name(r.task)) == info.tasks.end())
    throw Error(ErrorKind::unsupported,
                fmt::format("model '{}' ({}) does not support {}: it supports {}", info.model_dir,
                            info.architecture.empty() ? info.model_type : info.architecture,
                            task_name(r.task), fmt::join(info.tasks, ", ")),
                "task");
  parts_.frontend->check_params(r.task, r.params);
  if (r.params.cache_salt.size() > 4 * 1024 || utf8_chars(r.params.cache_salt) > 1024)
    throw Error(ErrorKind::invalid_input,
                fmt::format("cache_salt: {} characters; it must have 1 to 1024",
                            utf8_chars(r.params.cache_salt)),
                "cache_salt");
  check_output_params(r.task, r.params, parts_.output);

  auto p = std::make_shared<PendingRequest>();
  p->task = r.task;
  p->raw = raw;
  p->params = std::move(r.params);
  p->on_progress = std::move(r.on_progress);
  p->inputs = std::move(r.inputs);
  const size_t n = p->inputs.size();
  switch (p->task) {
    case Task::classify:
      p->results.classify.resize(n);
      break;
    case Task::token_classify:
      p->results.token_classify.resize(n);
      break;
    case Task::score:
      p->results.score.resize(n);
      break;
    case Task::embed:
      p->results.embed.resize(n);
      break;
  }
  p->results.task = p->task;
  p->raw_rows.resize(n);
  p->windows_left.assign(n, 0);
  p->input_failed.assign(n, 0);
  p->inputs_left = n;
  p->prepared.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const TextInput& in = p->inputs[i];
    if (p->task == Task::score && !in.text_pair && !in.token_ids && !in.chat) {
      PreparedInput bad;
      bad.error = "text_pair: score needs (query, document) pairs";
      bad.kind = ErrorKind::invalid_input;
      p->prepared.push_back(std::move(bad));
    } else {
      p->prepared.push_back(parts_.frontend->prepare(p->task, in, p->params));
    }
    PreparedInput& pi = p->prepared.back();
    if (!pi.ok()) {
      p->input_failed[i] = 1;
      fail_input(*p, i, pi.error, pi.kind);
      --p->inputs_left;
      continue;
    }
    // paged KV memory: every page of a sequence is reserved before it runs
    if (const BlockManager* bm = parts_.blocks.get()) {
      int64_t longest = 0;
      for (const Sequence& w : pi.windows) longest = std::max(longest, int64_t(w.ids.size()));
      if (bm->pages_for(longest) > bm->num_pages()) {
        p->input_failed[i] = 1;
        fail_input(*p, i,
                   fmt::format("input: {} tokens need {} KV-cache pages of {} tokens; the cache "
                               "holds {} (--kv-cache-memory)",
                               longest, bm->pages_for(longest), bm->page_size(), bm->num_pages()),
                   ErrorKind::too_long);
        --p->inputs_left;
        continue;
      }
    }
    p->windows_left[i] = pi.windows.size();
    for (size_t w = 0; w < pi.windows.size(); ++w) p->seq_of.emplace_back(i, w);
  }
  p->seqs_total = p->seq_of.size();
  p->seq_out.resize(p->seqs_total);
  return p;
}

void EngineImpl::enqueue(const std::shared_ptr<PendingRequest>& p) {
  // a causal model may split a sequence into chunks when only its last row (LAST pooling) or
  // every row (token heads) is wanted
  const HeadKind kind = head_kind(*p);
  const bool token_rows = kind != HeadKind::sequence && kind != HeadKind::embed;
  const bool pooled_last =
      !token_rows &&
      (kind == HeadKind::embed ? parts_.output.pooler.embed_pooling
                               : parts_.output.pooler.seq_pooling) == SeqPooling::last;
  bool chunkable = parts_.causal && (token_rows || pooled_last);
  std::vector<int64_t> lengths;
  std::vector<SeqKv> kv;
  for (auto [input, window] : p->seq_of) {
    const std::vector<int32_t>& ids = p->prepared[input].windows[window].ids;
    int64_t n = int64_t(ids.size());
    // LAST pooling on a causal model reads no row after the pooled one: nothing past it runs
    if (chunkable && !token_rows)
      n = pooled_rows(SeqPooling::last, ids, parts_.pad_token_id).second;
    lengths.push_back(std::max<int64_t>(1, n));
    // and it may start from cached pages (token heads need every row: vLLM's
    // skip_reading_prefix_cache)
    if (parts_.blocks) kv.push_back({&ids, chunkable && !token_rows});
  }
  {
    std::lock_guard lock(m_);
    if (stopping_) throw Error(ErrorKind::cancelled, "the engine is shutting down");
    if (parts_.max_queued_requests && scheduler_.queued_requests() >= parts_.max_queued_requests)
      throw Error(ErrorKind::overloaded,
                  fmt::format("the queue holds {} requests already (the limit); retry later",
                              scheduler_.queued_requests()));
    p->id = next_id_++;
    p->submitted = std::chrono::steady_clock::now();
    ++stats_.requests;
    if (p->seqs_total == 0) {
      complete_if_done(*p);
      return;
    }
    active_[p->id] = p;
    scheduler_.add(p->id, p->params.priority, lengths, chunkable, std::move(kv),
                   p->params.cache_salt);
  }
  cv_.notify_all();
}

std::shared_ptr<Ticket> EngineImpl::submit(Request r) {
  auto p = prepare(std::move(r), std::nullopt);
  enqueue(p);
  return std::make_shared<TicketImpl>(*this, p);
}

std::vector<std::vector<float>> EngineImpl::forward_ids(const std::vector<IdsInput>& inputs,
                                                        const std::string& what) {
  std::optional<HeadKind> kind;
  Task task = Task::embed;
  if (what == "classify")
    kind = HeadKind::sequence, task = Task::classify;
  else if (what == "token_classify")
    kind = HeadKind::token, task = Task::token_classify;
  else if (what == "embed")
    kind = HeadKind::embed;
  else if (what == "hidden")
    kind = HeadKind::hidden;
  else if (what == "hidden1")
    kind = HeadKind::hidden1;
  else
    throw Error(
        ErrorKind::invalid_input,
        fmt::format("forward_ids: '{}' is not classify, token_classify, embed, hidden, hidden1",
                    what));
  const auto& tasks = parts_.info.tasks;
  if (task != Task::embed && std::find(tasks.begin(), tasks.end(), task_name(task)) == tasks.end())
    throw Error(ErrorKind::unsupported,
                fmt::format("model '{}' does not support {}", parts_.info.model_dir, what));
  Request r;
  r.task = task;
  for (const IdsInput& in : inputs) {
    TextInput t;
    t.token_ids = in.ids;
    r.inputs.push_back(std::move(t));
  }
  auto p = prepare(std::move(r), kind);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (p->input_failed[i])
      throw Error(ErrorKind::invalid_input, fmt::format("input {}: {}", i, p->prepared[i].error));
    if (!inputs[i].type_ids.empty()) {
      if (inputs[i].type_ids.size() != inputs[i].ids.size())
        throw Error(ErrorKind::invalid_input,
                    fmt::format("input {}: {} type ids for {} ids", i, inputs[i].type_ids.size(),
                                inputs[i].ids.size()));
      p->prepared[i].windows[0].type_ids = inputs[i].type_ids;
    }
  }
  enqueue(p);
  TicketImpl t(*this, p);
  auto rows = t.take_raw();
  for (size_t i = 0; i < inputs.size(); ++i)
    if (p->input_failed[i])
      throw Error(ErrorKind::device_lost, fmt::format("input {}: the batch failed", i));
  return rows;
}

void EngineImpl::cancel(uint64_t request) {
  if (std::this_thread::get_id() == worker_.get_id()) {
    deferred_cancels_.push_back(request);  // m_ is held by this thread, in deliver()
    return;
  }
  std::lock_guard lock(m_);
  cancel_locked(request);
}

void EngineImpl::drop_queued_locked(const std::string& why, ErrorKind kind) {
  for (auto& [id, p] : active_)
    for (size_t s : scheduler_.cancel(id)) {
      size_t input = p->seq_of[s].first;
      p->seqs_done++;
      if (!p->input_failed[input]) {
        p->input_failed[input] = 1;
        fail_input(*p, input, why, kind);
        --p->inputs_left;
      }
    }
}

void EngineImpl::cancel_locked(uint64_t request) {
  auto it = active_.find(request);
  if (it == active_.end()) return;
  PendingRequest& p = *it->second;
  std::vector<size_t> dropped = scheduler_.cancel(request);
  stats_.cancelled_sequences += dropped.size();
  for (size_t s : dropped) {
    p.seqs_done++;
    size_t input = p.seq_of[s].first;
    if (!p.input_failed[input]) {
      p.input_failed[input] = 1;
      fail_input(p, input, "cancelled: the request was cancelled", ErrorKind::cancelled);
      --p.inputs_left;
    }
  }
  complete_if_done(p);
}

// --------------------------------------------------------------------------------------------
// the worker

std::vector<ExecItem> EngineImpl::items_for(const BatchPlan& plan) {
  std::vector<ExecItem> items;
  const ResolvedPooler& pc = parts_.output.pooler;
  for (const BatchItem& b : plan.items) {
    PendingRequest& p = *active_.at(b.request);
    auto [input, window] = p.seq_of[b.seq];
    const Sequence& s = p.prepared[input].windows[window];
    ExecItem e;
    e.ids = &s.ids;
    e.type_ids = &s.type_ids;
    e.begin = b.begin;
    e.len = b.len;
    if (!b.pages.empty()) e.pages = &b.pages;
    HeadKind kind = head_kind(p);
    e.head = kind;
    if (kind == HeadKind::sequence || kind == HeadKind::embed) {
      SeqPooling method = kind == HeadKind::embed ? pc.embed_pooling : pc.seq_pooling;
      auto [pb, pe] = pooled_rows(method, s.ids, parts_.pad_token_id);
      if (!b.last)
        pb = pe = 0;  // a chunk before the last one pools nothing (its rows are not wanted)
      e.pool_begin = int32_t(pb - b.begin);
      e.pool_end = int32_t(pe - b.begin);
    }
    items.push_back(e);
  }
  return items;
}

void EngineImpl::loop() {
  BatchBackend& backend = *parts_.backend;
  struct Flight {
    size_t slot;
    BatchPlan plan;
    std::chrono::steady_clock::time_point start;
  };
  std::deque<Flight> flights;
  std::vector<size_t> free_slots;
  for (size_t s = backend.slots(); s-- > 0;) free_slots.push_back(s);

  std::unique_lock lock(m_);
  bool memory_wait = false;  // queued work waits for KV pages that batches in flight hold
  for (;;) {
    // a batch boundary: cancels asked for from callbacks take effect before the next launch
    for (uint64_t id : std::exchange(deferred_cancels_, {})) cancel_locked(id);
    // launch while a slot is free and work is queued
    if (!free_slots.empty() && !scheduler_.empty() && !memory_wait) {
      std::optional<BatchPlan> next = scheduler_.next();
      if (!next) {
        // admitted sequences always run to the end, so some batch in flight frees pages
        memory_wait = true;
        if (flights.empty()) {  // cannot happen; fail rather than hang
          drop_queued_locked("internal: queued work waits for KV pages nothing holds",
                             ErrorKind::internal);
          std::vector<std::shared_ptr<PendingRequest>> all;
          for (auto& [id, p] : active_) all.push_back(p);
          for (auto& p : all) complete_if_done(*p);
        }
        continue;
      }
      BatchPlan plan = std::move(*next);
      std::vector<ExecItem> items = items_for(plan);
      auto now = std::chrono::steady_clock::now();
      for (const BatchItem& b : plan.items) {
        PendingRequest& p = *active_.at(b.request);
        if (!p.started)
          p.started = true,
          p.results.queue_seconds = std::chrono::duration<double>(now - p.submitted).count();
      }
      size_t slot = free_slots.back();
      lock.unlock();
      std::optional<Error> failure;
      try {
        backend.launch(slot, items);
      } catch (const Error& e) {
        failure = e;
      } catch (const std::exception& e) {
        failure = Error(ErrorKind::internal, e.what());
      }
      lock.lock();
      if (failure) {
        deliver(plan, nullptr, &*failure, 0.0);
        continue;
      }
      free_slots.pop_back();
      flights.push_back({slot, std::move(plan), std::chrono::steady_clock::now()});
      continue;
    }
    if (flights.empty()) {
      memory_wait = false;
      if (stopping_ && scheduler_.empty()) return;
      cv_.wait(lock, [&] { return stopping_ || !scheduler_.empty(); });
      continue;
    }
    // the oldest batch: wait for it, waking up to launch new work when a slot is free
    Flight& f = flights.front();
    if (!free_slots.empty() && !memory_wait) {  // waiting for pages: block until it is done
      lock.unlock();
      bool ready = false;
      try {
        ready = backend.done(f.slot);
      } catch (...) {
        ready = true;  // finish() reports it
      }
      lock.lock();
      if (!ready) {
        cv_.wait_for(lock, std::chrono::milliseconds(1), [&] { return !scheduler_.empty(); });
        continue;
      }
    }
    lock.unlock();
    std::vector<std::vector<float>> rows;
    std::optional<Error> failure;
    try {
      rows = backend.finish(f.slot);
    } catch (const Error& e) {
      failure = e;
    } catch (const std::exception& e) {
      failure = Error(ErrorKind::internal, e.what());
    }
    lock.lock();
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - f.start).count();
    stats_.busy_seconds += seconds;
    stats_.activation_peak_bytes = backend.peak_scratch_bytes();
    stats_.activation_reserved_bytes = backend.reserved_scratch_bytes();
    deliver(f.plan, failure ? nullptr : &rows, failure ? &*failure : nullptr, seconds);
    free_slots.push_back(f.slot);
    flights.pop_front();
    memory_wait = false;
  }
}

void EngineImpl::deliver(const BatchPlan& plan, std::vector<std::vector<float>>* rows,
                         const Error* failure, double seconds) {
  ++stats_.batches;
  if (failure && failure->kind() == ErrorKind::device_lost) stats_.device_lost = true;
  // pages this batch should have filled may hold anything: no later sequence may find them
  if (failure && parts_.blocks) parts_.blocks->drop_cache();
  std::vector<PendingRequest*> touched;
  for (size_t k = 0; k < plan.items.size(); ++k) {
    const BatchItem& b = plan.items[k];
    if (b.last) scheduler_.release(b.request, b.seq);
    auto it = active_.find(b.request);
    if (it == active_.end()) continue;
    PendingRequest& p = *it->second;
    if (std::find(touched.begin(), touched.end(), &p) == touched.end()) touched.push_back(&p);
    auto [input, window] = p.seq_of[b.seq];
    stats_.tokens += uint64_t(b.len);
    if (b.last) {
      ++stats_.sequences;
      p.seqs_done++;
    }
    if (p.input_failed[input]) continue;
    if (failure) {
      p.input_failed[input] = 1;
      fail_input(p, input, failure->what(), failure->kind());
      --p.inputs_left;
      continue;
    }
    // a pooled head's row comes from the last chunk; every chunk adds its rows to a token head's
    const HeadKind kind = head_kind(p);
    if (b.last || (kind != HeadKind::sequence && kind != HeadKind::embed)) {
      std::vector<float>& out = p.seq_out[b.seq];
      std::vector<float>& got = (*rows)[k];
      out.insert(out.end(), got.begin(), got.end());
    }
    if (b.last && --p.windows_left[input] == 0) finish_input(p, input);
  }
  if (observer_) observer_({touched.size(), plan.items.size(), plan.tokens, seconds});
  for (PendingRequest* p : touched) {
    if (p->on_progress) p->on_progress(p->seqs_done.load(), p->seqs_total);
    complete_if_done(*p);
  }
}

void EngineImpl::finish_input(PendingRequest& p, size_t input) {
  --p.inputs_left;
  const PreparedInput& pi = p.prepared[input];
  size_t first = 0;  // this input's first sequence
  while (p.seq_of[first].first != input) ++first;
  int64_t tokens = 0;
  for (const Sequence& s : pi.windows) tokens += int64_t(s.ids.size());
  const OutputSpec& spec = parts_.output;
  const RequestParams& params = p.params;
  if (p.raw) {
    p.raw_rows[input] = std::move(p.seq_out[first]);
    return;
  }
  switch (p.task) {
    case Task::classify:
      p.results.classify[input] = classify_output(std::move(p.seq_out[first]), params, spec);
      p.results.classify[input].prompt_tokens = tokens;
      break;
    case Task::score:
      p.results.score[input] = score_output(std::move(p.seq_out[first]), params, spec);
      p.results.score[input].prompt_tokens = tokens;
      break;
    case Task::embed:
      p.results.embed[input] = embed_output(std::move(p.seq_out[first]), params, spec);
      p.results.embed[input].prompt_tokens = tokens;
      break;
    case Task::token_classify: {
      std::vector<TokenWindow> windows;
      for (size_t w = 0; w < pi.windows.size(); ++w) {
        const Sequence& s = pi.windows[w];
        TokenWindow tw{s.ids, s.tokens, s.offsets, s.special, std::move(p.seq_out[first + w]), 0};
        tw.width = s.ids.empty() ? 0 : int64_t(tw.logits.size() / s.ids.size());
        windows.push_back(std::move(tw));
      }
      // offsets index the text the tokenizer saw: a chat input's rendered conversation
      const std::string& text = p.inputs[input].chat ? pi.rendered : p.inputs[input].text;
      TokenClassifyResult r = token_classify_output(text, windows, params, spec);
      r.prompt_tokens = tokens;
      p.results.token_classify[input] = std::move(r);
      break;
    }
  }
  // free what this input no longer needs
  for (size_t w = 0; w < pi.windows.size(); ++w) std::vector<float>().swap(p.seq_out[first + w]);
}

void EngineImpl::complete_if_done(PendingRequest& p) {
  if (p.inputs_left != 0 || p.seqs_done.load() < p.seqs_total) return;
  {
    std::lock_guard lock(p.m);
    if (p.done) return;
    p.done = true;
  }
  p.cv.notify_all();
  active_.erase(p.id);
}

}  // namespace vkcls
