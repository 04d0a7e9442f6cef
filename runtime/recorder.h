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
  VkFormat texel_format =
      VK_FORMAT_UNDEFINED;  // set: a uniform texel buffer (read only), else a storage buffer
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
// t read as a uniform texel buffer of vec4 texels (f32 -> RGBA32F, f16 -> RGBA16F): texelFetch
// in the shader. The CPU-driver kernels read this way: lavapipe runs texel fetches inside loops
// several times faster than storage-buffer loads. t.bytes must be a multiple of 4 elements.
Binding in_vec4(const Tensor& t);
// t (f32) read as a uniform texel buffer of scalar texels (R32F), for rows that are not whole
// vec4s.
Binding in_scalars(const Tensor& t);

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
  // A global barrier before what is recorded next: it orders this submission after the earlier
  // ones on the queue (memory that outlives a batch, such as the KV cache, is shared by them).
  void barrier_after_earlier_submissions();

  // Submits what was recorded, waits, and makes the recorder ready to record again.
  // A submission past the fence timeout throws VulkanError (timed_out()); its command buffer
  // is still running then, so this recorder refuses further work and hands its Vulkan objects
  // to the Context, which destroys them once the device is idle.
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
    if (!fence_ && !in_flight_) reset();
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
  void refuse_if_in_flight() const;
  void hazard_barrier(const Binding* bindings, size_t n);
  VkDescriptorSet allocate_set(VkDescriptorSetLayout layout);
  VkBufferView make_view(const Binding& b);
  void reset();

  Context& ctx_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  std::vector<VkDescriptorPool> descriptor_pools_;
  size_t pool_cursor_ = 0;           // pool that allocations come from
  uint32_t sets_in_pool_ = 0;        // sets taken from it since the last reset
  std::vector<VkBufferView> views_;  // texel-buffer views of this recording, destroyed by reset()
  bool recording_ = false;
  VkFence fence_ = VK_NULL_HANDLE;     // between submit() and wait()
  bool in_flight_ = false;             // the last submission timed out and may still be running
  std::vector<Range> written_, read_;  // since the last barrier
  size_t dispatches_ = 0, barriers_ = 0;
  // profiling
  VkQueryPool queries_ = VK_NULL_HANDLE;
  uint32_t query_capacity_ = 0;
  std::vector<std::string> query_names_;
  std::vector<DispatchTime> timings_;
};

}  // namespace vkcls
