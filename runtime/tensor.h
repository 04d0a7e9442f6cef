// A tensor is a typed, shaped view of a range of one VkBuffer. It owns nothing:
// the Arena (runtime/memory.h) that handed it out owns the memory.
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <string>
#include <vector>

namespace vkcls {

enum class DType : uint8_t { f32, f16, i32, u32 };

inline size_t dtype_size(DType t) { return t == DType::f16 ? 2 : 4; }
const char* dtype_name(DType t);

struct Tensor {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceSize offset = 0;  // bytes into buffer, aligned to minStorageBufferOffsetAlignment
  VkDeviceSize bytes = 0;   // size of the range this tensor may touch
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  void* host = nullptr;  // mapped pointer to element 0 when the memory is host-visible, else null

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  int64_t dim(int i) const { return shape.at(i < 0 ? shape.size() + i : i); }
  bool valid() const { return buffer != VK_NULL_HANDLE; }
  std::string describe() const;  // "f16[128, 768]"

  // Same memory, other shape of the same element count.
  Tensor reshaped(std::vector<int64_t> new_shape) const;
};

}  // namespace vkcls
