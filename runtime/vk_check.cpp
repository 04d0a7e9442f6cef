#include "runtime/vk_check.h"

#include <fmt/format.h>

namespace vkcls {

const char* vk_result_name(VkResult r) {
  switch (r) {
#define NAME(x) \
  case x:       \
    return #x;
    NAME(VK_SUCCESS)
    NAME(VK_NOT_READY)
    NAME(VK_TIMEOUT)
    NAME(VK_INCOMPLETE)
    NAME(VK_ERROR_OUT_OF_HOST_MEMORY)
    NAME(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    NAME(VK_ERROR_INITIALIZATION_FAILED)
    NAME(VK_ERROR_DEVICE_LOST)
    NAME(VK_ERROR_MEMORY_MAP_FAILED)
    NAME(VK_ERROR_LAYER_NOT_PRESENT)
    NAME(VK_ERROR_EXTENSION_NOT_PRESENT)
    NAME(VK_ERROR_FEATURE_NOT_PRESENT)
    NAME(VK_ERROR_INCOMPATIBLE_DRIVER)
    NAME(VK_ERROR_TOO_MANY_OBJECTS)
    NAME(VK_ERROR_FORMAT_NOT_SUPPORTED)
    NAME(VK_ERROR_FRAGMENTED_POOL)
    NAME(VK_ERROR_OUT_OF_POOL_MEMORY)
    NAME(VK_ERROR_INVALID_SHADER_NV)
    NAME(VK_ERROR_UNKNOWN)
#undef NAME
    default:
      return "VkResult(unknown)";
  }
}

void vk_fail(VkResult r, const char* call, const char* file, int line) {
  std::string hint;
  if (r == VK_ERROR_DEVICE_LOST) hint = " (the GPU was lost: results of work in flight are gone)";
  if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY) hint = " (reduce --max-batch-tokens or use fp16 weights)";
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED)
    hint = " (no usable Vulkan driver: install mesa-vulkan-drivers for lavapipe, or a GPU driver)";
  throw VulkanError(r, fmt::format("{} failed with {} at {}:{}{}", call, vk_result_name(r), file, line, hint));
}

}  // namespace vkcls
