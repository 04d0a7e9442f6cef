// Running planned batches on the device. The Engine hands the executor a batch's items
// (which tokens of which sequence, which head each needs) and gets, per item, the rows its
// head produced. Two slots: while the device runs one batch, the next is uploaded and
// recorded into the other (and submitted behind it, so the queue never runs dry).
//
// BatchBackend is the seam the Engine drives; DeviceExecutor implements it with Vulkan and
// tests implement it on the host (a fake device) to check scheduling deterministically.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "models/runner.h"
#include "runtime/context.h"

namespace vkcls {

// What an item's rows go through after the forward pass.
enum class HeadKind {
  sequence,  // pooled rows -> the sequence head: [num_labels]
  embed,     // pooled rows: [hidden]
  token,     // every row -> the token head: [len, num_labels]
  hidden,    // every row: [len, hidden] (tests, benches)
  hidden1,   // every row after layer 1 (tests)
};

struct ExecItem {
  const std::vector<int32_t>* ids = nullptr;  // the whole sequence
  const std::vector<int32_t>* type_ids = nullptr;
  int64_t begin = 0, len = 0;  // the chunk of it in this batch
  HeadKind head = HeadKind::sequence;
  int32_t pool_begin = 0, pool_end = 0;  // sequence / embed: rows pooled (mean), relative to begin
  const std::vector<int32_t>* pages = nullptr;  // paged KV: the sequence's block table
};

class BatchBackend {
 public:
  virtual ~BatchBackend() = default;
  virtual size_t slots() const = 0;
  // Uploads, records and submits a batch into a free slot. Throws Error.
  virtual void launch(size_t slot, const std::vector<ExecItem>& items) = 0;
  virtual bool done(size_t slot) = 0;
  // Waits for the slot's batch; one row vector per item, in order. Throws Error
  // (device_lost when the device failed or timed out).
  virtual std::vector<std::vector<float>> finish(size_t slot) = 0;
  // Device memory of the activations: the peak of one batch, and all slots' reservations.
  virtual uint64_t peak_scratch_bytes() const { return 0; }
  virtual uint64_t reserved_scratch_bytes() const { return 0; }
};

class DeviceExecutor final : public BatchBackend {
 public:
  // kv: the paged KV cache of a causal decoder (every item then carries its pages), or nullptr.
  DeviceExecutor(Context& ctx, ModelRunner& runner, const KvCache* kv = nullptr, size_t slots = 2);
  ~DeviceExecutor() override;
  size_t slots() const override { return slots_.size(); }
  void launch(size_t slot, const std::vector<ExecItem>& items) override;
  bool done(size_t slot) override;
  std::vector<std::vector<float>> finish(size_t slot) override;
  uint64_t peak_scratch_bytes() const override;
  uint64_t reserved_scratch_bytes() const override;

 private:
  struct Output {
    Tensor t;  // rows of `width`
    int64_t width;
    size_t item;  // which item
    int64_t row;  // first row of the item in t
    int64_t rows;
  };
  struct Slot {
    std::unique_ptr<Arena> scratch;
    std::unique_ptr<Recorder> rec;
    std::vector<Output> outputs;
    size_t items = 0;
  };
  void record(Slot& s, const std::vector<ExecItem>& items);
  void add_block_tables(DeviceBatch& b, Arena& a, const std::vector<ExecItem>& items) const;

  Context& ctx_;
  ModelRunner& runner_;
  const KvCache* kv_;
  std::vector<Slot> slots_;
};

}  // namespace vkcls
