// The request queue of vkcls serve: dynamic batching in front of one Engine.
//
// HTTP worker threads submit Jobs (one per request) and wait. One scheduler thread takes
// the most urgent queued job (lowest priority value, then FIFO), gathers the other queued
// jobs of the same task and parameters (same `key`) in the same order while their estimated
// tokens fit under max_batch_tokens, makes ONE engine call for all their inputs, and hands
// each job its slice of the results. A job whose client went away (cancelled) is dropped
// before it runs.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/metrics.h"
#include "vkcls/engine.h"

namespace vkcls::server {

enum class Task { Classify, TokenClassify, Score, Embed };
const char* task_name(Task t);

struct Job {
  using Clock = std::chrono::steady_clock;
  // input
  Task task = Task::Classify;
  std::string key;                        // parameters that must be equal to share a batch
  bool ids = false;                       // token-id inputs: Engine::forward_ids, raw outputs
  RequestParams params;
  EmbedParams embed_params;
  std::vector<TextInput> texts;           // ids == false (Score: text + text_pair)
  std::vector<Engine::IdsInput> id_inputs;  // ids == true
  int64_t priority = 0;
  int64_t est_tokens = 0;
  // output (one of, by task / ids)
  std::vector<ClassifyResult> classify;
  std::vector<TokenClassifyResult> token_classify;
  std::vector<ScoreResult> score;
  std::vector<EmbedResult> embed;
  std::vector<std::vector<float>> raw;
  std::string fatal;                      // the engine threw (model-level error)
  double queue_seconds = 0;
  // state
  std::atomic<bool> cancelled{false};
  uint64_t seq = 0;
  Clock::time_point enqueued;
  bool done = false;
  std::mutex m;
  std::condition_variable cv;

  size_t size() const { return ids ? id_inputs.size() : texts.size(); }
  // Waits up to `d`; true when the job is done.
  bool wait_for(std::chrono::milliseconds d);
};

class Scheduler {
 public:
  Scheduler(Engine& engine, int64_t max_batch_tokens, size_t max_queue, Metrics& metrics);
  ~Scheduler();
  // false: the queue holds max_queue jobs already (429), or the scheduler is stopping.
  bool submit(const std::shared_ptr<Job>& job);
  // Runs what is queued, then stops the thread.
  void stop();
  size_t queue_depth() const;
  bool device_lost() const { return device_lost_.load(); }

 private:
  void loop();
  void run_batch(std::vector<std::shared_ptr<Job>>& batch);

  Engine& engine_;
  int64_t max_batch_tokens_;
  size_t max_queue_;
  Metrics& metrics_;
  mutable std::mutex m_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<Job>> queue_;
  uint64_t next_seq_ = 0;
  bool stopping_ = false;
  std::atomic<bool> device_lost_{false};
  std::thread thread_;
};

}  // namespace vkcls::server
