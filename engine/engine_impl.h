// The Engine behind vkcls/engine.h: the stages of one request and the thread that drives them.
//
//   submit()  (caller's thread)   validate -> FrontEnd::prepare (tokenize) -> Scheduler::add
//   worker thread                 Scheduler::next -> BatchBackend::launch (upload, record, submit)
//                                 ... while the device runs it, the next batch is launched into
//                                 the other slot ... -> finish (download) -> deliver: each item's
//                                 rows to its request; a finished input goes through the output
//                                 stage (poolers/output.h); a finished request wakes its Ticket.
//
// engine_open.cpp builds an EngineImpl from a model folder; engine_loop.cpp is the loop.
// Tests build one over a fake BatchBackend (see EngineParts) to check scheduling.
#pragma once
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/executor.h"
#include "engine/frontend.h"
#include "engine/scheduler.h"
#include "poolers/output.h"
#include "vkcls/engine.h"

namespace vkcls {

// What an engine is made of; open() fills it from a model folder, tests by hand.
struct EngineParts {
  ModelInfo info;
  std::unique_ptr<FrontEnd> frontend;
  OutputSpec output;
  std::optional<int32_t> pad_token_id;   // LAST pooling skips trailing pad tokens
  bool causal = false;                   // chunked prefill allowed (LAST / token pooling)
  std::unique_ptr<BlockManager> blocks;  // paged KV memory (causal decoders), else nullptr
  int64_t max_batch_tokens = 2048;
  size_t max_queued_requests = 0;
  // owned device state, destroyed after the worker stops (in reverse order)
  std::shared_ptr<void> device_state;
  std::unique_ptr<BatchBackend> backend;
};

struct PendingRequest;

class EngineImpl final : public Engine {
 public:
  explicit EngineImpl(EngineParts parts);
  ~EngineImpl() override;

  const ModelInfo& info() const override { return parts_.info; }
  std::shared_ptr<Ticket> submit(Request request) override;
  TokenizeResult tokenize(const std::string& text, bool add_special_tokens) const override;
  std::string detokenize(const std::vector<int32_t>& ids, bool skip_special_tokens) const override;
  EngineStats stats() const override;
  void set_batch_observer(std::function<void(const BatchInfo&)> observer) override;
  std::vector<std::vector<float>> forward_ids(const std::vector<IdsInput>& inputs,
                                              const std::string& what) override;

  // Ticket::cancel. From the engine's own thread (an on_progress callback or the batch
  // observer, which run with m_ held) the cancel is deferred to the next batch boundary.
  void cancel(uint64_t request);

 private:
  std::shared_ptr<PendingRequest> prepare(Request&& r, std::optional<HeadKind> raw);
  void enqueue(const std::shared_ptr<PendingRequest>& p);
  void loop();
  std::vector<ExecItem> items_for(const BatchPlan& plan);
  void deliver(const BatchPlan& plan, std::vector<std::vector<float>>* rows, const Error* failure,
               double seconds);
  void finish_input(PendingRequest& p, size_t input);
  void complete_if_done(PendingRequest& p);
  void cancel_locked(uint64_t request);
  // Fails every queued sequence (batches in flight finish).
  void drop_queued_locked(const std::string& why, ErrorKind kind);

  EngineParts parts_;
  mutable std::mutex m_;
  std::condition_variable cv_;  // new work, or stopping
  Scheduler scheduler_;
  std::map<uint64_t, std::shared_ptr<PendingRequest>> active_;
  uint64_t next_id_ = 1;
  bool stopping_ = false;
  EngineStats stats_;
  std::function<void(const BatchInfo&)> observer_;
  std::vector<uint64_t> deferred_cancels_;  // cancel() from the worker's callbacks
  std::thread worker_;
};

}  // namespace vkcls
