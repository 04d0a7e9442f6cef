// A fake device for engine and server tests: a BatchBackend on the host whose batches finish
// only when the test releases them, with outputs the test can compute from the tokens.
#pragma once
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>

#include "engine/engine_impl.h"

namespace vkcls::test {

inline const std::string kFakeModel =
    (std::filesystem::path(VKCLS_TEST_DATA) / "models" / "bert-seqcls").string();

// Head outputs that depend only on the item's tokens, so a test can compute them:
//   sequence: [first id, last id, len] / 100 over the pooled rows; token: [id, position] / 100
class FakeBackend final : public BatchBackend {
 public:
  explicit FakeBackend(size_t slots) : slots_(slots), ready_(slots, false) {}
  size_t slots() const override { return slots_; }

  void launch(size_t slot, const std::vector<ExecItem>& items) override {
    std::lock_guard lock(m_);
    if (fail_next_launch_) {
      fail_next_launch_ = false;
      throw Error(ErrorKind::device_lost, "device: fake loss at launch");
    }
    Batch b;
    for (const ExecItem& it : items) {
      std::vector<int32_t> ids(it.ids->begin() + it.begin, it.ids->begin() + it.begin + it.len);
      std::vector<float> out;
      if (it.head == HeadKind::token) {
        for (size_t t = 0; t < ids.size(); ++t)
          out.insert(out.end(), {ids[t] / 100.f, float(it.begin + t) / 100.f});
      } else {
        std::vector<int32_t> pooled(ids.begin() + it.pool_begin, ids.begin() + it.pool_end);
        out = {pooled.front() / 100.f, pooled.back() / 100.f, float(pooled.size()) / 100.f};
      }
      b.items.push_back(ids);
      b.rows.push_back(out);
    }
    log_.push_back(b);
    in_flight_[slot] = log_.size() - 1;
    ready_[slot] = false;
    cv_.notify_all();
  }
  bool done(size_t slot) override {
    std::lock_guard lock(m_);
    return ready_[slot] || release_ > 0;  // a released batch is done; finish() takes the release
  }
  std::vector<std::vector<float>> finish(size_t slot) override {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return ready_[slot] || release_ > 0; });
    if (!ready_[slot]) --release_;
    ready_[slot] = false;
    if (fail_next_finish_) {
      fail_next_finish_ = false;
      throw Error(ErrorKind::device_lost, "device: fake loss");
    }
    return log_[in_flight_[slot]].rows;
  }

  // test side
  void release(int n = 1) {
    std::lock_guard lock(m_);
    release_ += n;
    cv_.notify_all();
  }
  void wait_launches(size_t n) {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return log_.size() >= n; });
  }
  size_t launches() {
    std::lock_guard lock(m_);
    return log_.size();
  }
  std::vector<std::vector<int32_t>> batch(size_t i) {
    std::lock_guard lock(m_);
    return log_.at(i).items;
  }
  void fail_next_finish() {
    std::lock_guard lock(m_);
    fail_next_finish_ = true;
  }

 private:
  struct Batch {
    std::vector<std::vector<int32_t>> items;
    std::vector<std::vector<float>> rows;
  };
  size_t slots_;
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<Batch> log_;
  std::map<size_t, size_t> in_flight_;
  std::vector<bool> ready_;
  int release_ = 0;
  bool fail_next_launch_ = false, fail_next_finish_ = false;
};

struct Fixture {
  FakeBackend* backend = nullptr;
  std::unique_ptr<EngineImpl> engine;
};

inline Fixture make_engine(size_t slots, int64_t budget,
                           std::optional<Calibration> cal = std::nullopt) {
  EngineParts p;
  p.info.model_dir = kFakeModel;
  p.info.tasks = {"classify", "token_classify", "embed"};
  p.info.max_model_len = 512;
  p.frontend = std::make_unique<FrontEnd>(kFakeModel, FrontEndLimits{512, 1000, 2});
  p.output.activation = Activation::softmax;
  p.output.labels = {"a", "b", "c"};
  p.output.has_labels = true;
  p.output.hidden_size = 3;
  p.output.pooler.tasks = {Task::classify, Task::token_classify, Task::embed};
  p.output.pooler.calibration = cal;
  p.max_batch_tokens = budget;
  auto backend = std::make_unique<FakeBackend>(slots);
  Fixture f;
  f.backend = backend.get();
  p.backend = std::move(backend);
  f.engine = std::make_unique<EngineImpl>(std::move(p));
  return f;
}

}  // namespace vkcls::test
