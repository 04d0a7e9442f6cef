// Records a sequence of dispatches into one command buffer and submits it once.
// Barriers go in only where a dispatch touches memory that an earlier dispatch
// since the last barrier wrote (read-after-write, write-after-write) or read
// (write-after-read): independent dispatches run back to back.
#pragma once
#include <vulkan/vulkan.h>

#include <string>
#include <vector>

#include "runtime/pipeline.h"
#include "runtime/tensor.h"

namespace vkcls {

class Context;

enum class Access : uint8_t { read, write, read_write };

struct Binding {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceSize offset = 0, bytes = 0;
  Access access = Access::read;
};
inline Binding in(const Tensor& t) {
  return {t.buffer, t.offset, t.bytes, Access::read};
}
inline Binding out(const Tensor& t) {
  return {t.buffer, t.offset, t.bytes, Access::write};
}
inline Binding inout(const Tensor& t) {
  return {t.buffer, t.offset, t.bytes, Access::read_write};
}

struct DispatchTime {
  std::string name;
  double microseconds;
};

class Recorder {
 public:
  explicit Recorder(Context& ctx);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  template <class Push>
  void dispatch(const Pipeline& p, std::initializer_list<Binding> bindings, const Push& push,
                uint32_t gx, uint32_t gy = 1, uint32_t gz = 1) {
    dispatch_raw(p, bindings.begin(), bindings.size(), &push, sizeof(Push), gx, gy, gz);
  }
  void dispatch_raw(const Pipeline& p, const Binding* bindings, size_t n, const void* push,
                    uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz);
  void fill_zero(const Tensor& t);  // vkCmdFillBuffer, tracked like a write

  // Submits what was recorded, waits, and makes the recorder ready to record again.
  void submit_and_wait();
  // The same in two steps: submit() hands the work to the queue; done() polls it; wait()
  // blocks until it finished (throws VulkanError on loss or timeout) and makes the recorder
  // ready again. Nothing may be recorded between submit() and wait().
  void submit();
  bool done();
  void wait();
  bool in_flight() const { return fence_ != VK_NULL_HANDLE; }
  // Drops whatever was recorded and not submitted (e.g. after an op threw mid-way).
  void discard() {
    if (!fence_) reset();
  }
  size_t num_dispatches() const { return dispatches_; }
  size_t num_barriers() const { return barriers_; }
  // Per-dispatch GPU times of the last submission (profiling on, timestamps supported).
  const std::vector<DispatchTime>& timings() const { return timings_; }

  // For tests: record without any barrier, to show the validation layer catches it.
  bool insert_barriers = true;

 private:
  struct Range {
    VkBuffer buffer;
    VkDeviceSize begin, end;
  };
  void begin_if_needed();
  void hazard_barrier(const Binding* bindings, size_t n);
  VkDescriptorSet allocate_set(VkDescriptorSetLayout layout);
  void reset();

  Context& ctx_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  std::vector<VkDescriptorPool> descriptor_pools_;
  size_t pool_cursor_ = 0;     // pool that allocations come from
  uint32_t sets_in_pool_ = 0;  // sets taken from it since the last reset
  bool recording_ = false;
  VkFence fence_ = VK_NULL_HANDLE;     // between submit() and wait()
  std::vector<Range> written_, read_;  // since the last barrier
  size_t dispatches_ = 0, barriers_ = 0;
  // profiling
  VkQueryPool queries_ = VK_NULL_HANDLE;
  uint32_t query_capacity_ = 0;
  std::vector<std::string> query_names_;
  std::vector<DispatchTime> timings_;
};

}  // namespace vkcls
