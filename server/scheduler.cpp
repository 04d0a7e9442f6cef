#include "server/scheduler.h"

#include <algorithm>
#include <exception>

namespace vkcls::server {

const char* task_name(Task t) {
  switch (t) {
    case Task::Classify: return "classify";
    case Task::TokenClassify: return "token_classify";
    case Task::Score: return "score";
    case Task::Embed: return "embed";
  }
  return "?";
}

bool Job::wait_for(std::chrono::milliseconds d) {
  std::unique_lock lock(m);
  return cv.wait_for(lock, d, [&] { return done; });
}

Scheduler::Scheduler(Engine& engine, int64_t max_batch_tokens, size_t max_queue, Metrics& metrics)
    : engine_(engine), max_batch_tokens_(max_batch_tokens), max_queue_(max_queue), metrics_(metrics) {
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() { stop(); }

bool Scheduler::submit(const std::shared_ptr<Job>& job) {
  std::lock_guard lock(m_);
  if (stopping_ || queue_.size() >= max_queue_) return false;
  job->seq = next_seq_++;
  job->enqueued = Job::Clock::now();
  queue_.push_back(job);
  cv_.notify_one();
  return true;
}

void Scheduler::stop() {
  {
    std::lock_guard lock(m_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

size_t Scheduler::queue_depth() const {
  std::lock_guard lock(m_);
  return queue_.size();
}

namespace {
bool more_urgent(const std::shared_ptr<Job>& a, const std::shared_ptr<Job>& b) {
  return a->priority != b->priority ? a->priority < b->priority : a->seq < b->seq;
}
}  // namespace

void Scheduler::loop() {
  for (;;) {
    std::vector<std::shared_ptr<Job>> batch;
    int64_t cancelled = 0;
    {
      std::unique_lock lock(m_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      std::stable_sort(queue_.begin(), queue_.end(), more_urgent);
      // drop the work of clients that went away
      auto gone = std::stable_partition(queue_.begin(), queue_.end(), [](const auto& j) { return !j->cancelled.load(); });
      std::vector<std::shared_ptr<Job>> dropped(gone, queue_.end());
      queue_.erase(gone, queue_.end());
      cancelled = int64_t(dropped.size());
      for (auto& j : dropped) {
        std::lock_guard jl(j->m);
        j->fatal = "cancelled: the client disconnected";
        j->done = true;
        j->cv.notify_all();
      }
      if (!queue_.empty()) {
        const Job& head = *queue_.front();
        int64_t tokens = 0;
        std::vector<std::shared_ptr<Job>> rest;
        for (auto& j : queue_) {
          bool same = j->task == head.task && j->ids == head.ids && j->key == head.key;
          if (same && (batch.empty() || tokens + j->est_tokens <= max_batch_tokens_)) {
            batch.push_back(j);
            tokens += j->est_tokens;
          } else {
            rest.push_back(j);
          }
        }
        queue_ = std::move(rest);
      }
    }
    if (cancelled) metrics_.add_cancelled(cancelled);
    if (!batch.empty()) run_batch(batch);
  }
}

void Scheduler::run_batch(std::vector<std::shared_ptr<Job>>& batch) {
  const Job& head = *batch.front();
  auto start = Job::Clock::now();
  for (auto& j : batch) {
    j->queue_seconds = std::chrono::duration<double>(start - j->enqueued).count();
    metrics_.observe_queue(j->queue_seconds);
  }
  // concatenate the inputs of all jobs
  std::vector<TextInput> texts;
  std::vector<Engine::IdsInput> ids;
  for (auto& j : batch) {
    if (head.ids) ids.insert(ids.end(), j->id_inputs.begin(), j->id_inputs.end());
    else texts.insert(texts.end(), j->texts.begin(), j->texts.end());
  }
  std::string fatal;
  int64_t tokens = 0;
  bool lost = false;
  auto check = [&](const std::string& err, int64_t n) {
    if (err.rfind("device:", 0) == 0) lost = true;
    if (err.empty()) tokens += n;
  };
  std::vector<ClassifyResult> classify;
  std::vector<TokenClassifyResult> token;
  std::vector<ScoreResult> score;
  std::vector<EmbedResult> embed;
  std::vector<std::vector<float>> raw;
  try {
    if (head.ids) {
      raw = engine_.forward_ids(ids, task_name(head.task));
      for (auto& i : ids) tokens += int64_t(i.ids.size());
    } else {
      switch (head.task) {
        case Task::Classify:
          classify = engine_.classify(texts, head.params);
          for (auto& r : classify) check(r.error, r.prompt_tokens);
          break;
        case Task::TokenClassify:
          token = engine_.token_classify(texts, head.params);
          for (auto& r : token) check(r.error, r.prompt_tokens);
          break;
        case Task::Score:
          score = engine_.score_pairs(texts, head.params);
          for (auto& r : score) check(r.error, r.prompt_tokens);
          break;
        case Task::Embed:
          embed = engine_.embed(texts, head.params, head.embed_params);
          for (auto& r : embed) check(r.error, r.prompt_tokens);
          break;
      }
    }
  } catch (const std::exception& e) {
    fatal = e.what();
    if (fatal.find("device") != std::string::npos && fatal.find("lost") != std::string::npos) lost = true;
  }
  if (lost) device_lost_ = true;
  metrics_.observe_batch(int64_t(batch.size()), int64_t(head.ids ? ids.size() : texts.size()), tokens);
  // hand out the slices
  size_t at = 0;
  for (auto& j : batch) {
    size_t n = j->size();
    auto slice = [&](auto& all, auto& mine) {
      if (all.size() >= at + n) mine.assign(std::make_move_iterator(all.begin() + at), std::make_move_iterator(all.begin() + at + n));
    };
    {
      std::lock_guard lock(j->m);
      if (!fatal.empty()) {
        j->fatal = fatal;
      } else if (head.ids) {
        slice(raw, j->raw);
      } else {
        switch (head.task) {
          case Task::Classify: slice(classify, j->classify); break;
          case Task::TokenClassify: slice(token, j->token_classify); break;
          case Task::Score: slice(score, j->score); break;
          case Task::Embed: slice(embed, j->embed); break;
        }
      }
      j->done = true;
    }
    j->cv.notify_all();
    at += n;
  }
}

}  // namespace vkcls::server
