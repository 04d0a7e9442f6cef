// The Vulkan context: instance (+ validation when asked), the chosen device,
// one compute queue, the pipeline cache, staging copies and validation messages.
// One Context per process is the normal case; it is safe to share across threads
// (queue submission is serialised inside).
#pragma once
#include <vulkan/vulkan.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/device_info.h"
#include "runtime/tensor.h"

namespace vkcls {

class Buffer;
class PipelineCache;

enum class Validation { off, on, sync };  // sync adds synchronization validation (hazards)

struct ContextOptions {
  int device_index = -1;                    // -1: best device; VKCLS_DEVICE overrides when set
  Validation validation = Validation::off;  // VKCLS_VALIDATION=1|sync overrides when set
  bool disk_pipeline_cache = true;          // VKCLS_PIPELINE_CACHE=0 disables
  bool force_staging = false;               // never map device memory (tests the discrete-GPU path)
  bool profile = false;                     // VKCLS_PROFILE=1 also turns it on
  // GPU work that takes longer is reported, not waited on forever. 0: 2 minutes on a GPU,
  // 15 on a CPU driver (a large batch on lavapipe is slow, not hung). VKCLS_TIMEOUT_MS overrides.
  uint32_t fence_timeout_ms = 0;
};

// Devices as the loader lists them, probed (used by `vkcls info`).
std::vector<DeviceInfo> list_devices();
// Index of the device we would pick and a sentence saying why.
int choose_device(const std::vector<DeviceInfo>& devices, int requested, std::string* why);

class Context {
 public:
  explicit Context(ContextOptions options = {});
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const DeviceInfo& info() const { return info_; }
  const std::string& selection_reason() const { return why_; }
  const ContextOptions& options() const { return options_; }
  VkInstance instance() const { return instance_; }
  VkPhysicalDevice physical() const { return physical_; }
  VkDevice device() const { return device_; }
  uint32_t queue_family() const { return queue_family_; }
  PipelineCache& pipelines() { return *pipelines_; }
  bool fp16_enabled() const { return fp16_enabled_; }
  bool maps_device_memory() const { return maps_device_memory_; }

  uint32_t memory_type(uint32_t type_bits, VkMemoryPropertyFlags want,
                       VkMemoryPropertyFlags avoid = 0) const;

  // Copies between host memory and a tensor: memcpy when mapped, else a staging
  // buffer and a transfer on the queue (blocking).
  void upload(const Tensor& dst, const void* src, size_t bytes);
  void download(const Tensor& src, void* dst, size_t bytes);

  // Submits and blocks until done; throws VulkanError on device loss or timeout
  // (timed_out(): the work is still running; the device is treated as lost from then on).
  void submit_and_wait(VkCommandBuffer cmd);
  // The same in two steps, so the host can prepare the next batch while this one runs:
  // submit() returns a fence the caller owns; fence_done() polls it; wait_fence() blocks (up to
  // the fence timeout, then the device is treated as lost) and destroys it.
  VkFence submit(VkCommandBuffer cmd);
  bool fence_done(VkFence fence);
  void wait_fence(VkFence fence);
  bool lost() const { return lost_; }
  // A submission outlived the fence timeout: it may still be running, so buffers and other
  // objects are destroyed only once the device is idle (see destroy_when_idle).
  bool timed_out() const { return timed_out_; }
  // Destroys Vulkan objects that a timed-out submission may still use, once the device is
  // idle: when the Context is destroyed (after vkDeviceWaitIdle).
  void destroy_when_idle(std::function<void()> destroy);

  // Messages from the validation layer (errors, and warnings about usage).
  size_t validation_errors() const { return validation_errors_; }
  std::vector<std::string> validation_messages() const;
  void clear_validation_messages();

 private:
  static VKAPI_ATTR VkBool32 VKAPI_CALL on_debug_message(
      VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT types,
      const VkDebugUtilsMessengerCallbackDataEXT* data, void* self);
  void create_instance();
  void create_device();
  void submit_transfer(VkCommandBuffer cmd, std::unique_ptr<Buffer>& staging);

  ContextOptions options_;
  DeviceInfo info_;
  std::string why_;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  VkCommandPool transfer_pool_ = VK_NULL_HANDLE;
  VkPhysicalDeviceMemoryProperties memory_props_{};
  bool fp16_enabled_ = false;
  bool maps_device_memory_ = false;
  std::atomic<bool> lost_{false}, timed_out_{false};
  std::mutex queue_mutex_;
  std::mutex retired_mutex_;
  std::vector<std::function<void()>> retired_;  // see destroy_when_idle
  std::mutex transfer_mutex_;
  mutable std::mutex messages_mutex_;
  std::vector<std::string> messages_;
  std::atomic<size_t> validation_errors_{0};
  std::unique_ptr<PipelineCache> pipelines_;
};

// Reads an environment variable as an integer; fallback when unset or empty.
long env_int(const char* name, long fallback);

}  // namespace vkcls
