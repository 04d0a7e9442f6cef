// Vulkan error handling: every failed call becomes a VulkanError naming the
// call, the file and the line; device loss and a submission past the fence timeout
// are flagged (device_lost(), timed_out()) so callers can report them.
#pragma once
#include <vulkan/vulkan.h>

#include <stdexcept>
#include <string>

namespace vkcls {

class VulkanError : public std::runtime_error {
 public:
  VulkanError(VkResult result, const std::string& what)
      : std::runtime_error(what), result_(result) {}
  VkResult result() const { return result_; }
  bool device_lost() const { return result_ == VK_ERROR_DEVICE_LOST; }
  // A submission outlived ContextOptions::fence_timeout_ms: the device is treated as lost.
  bool timed_out() const { return result_ == VK_TIMEOUT; }

 private:
  VkResult result_;
};

const char* vk_result_name(VkResult r);
[[noreturn]] void vk_fail(VkResult r, const char* call, const char* file, int line);

}  // namespace vkcls

#define VK_CHECK(call)                                               \
  do {                                                               \
    VkResult vk_check_result_ = (call);                              \
    if (vk_check_result_ != VK_SUCCESS)                              \
      ::vkcls::vk_fail(vk_check_result_, #call, __FILE__, __LINE__); \
  } while (0)
