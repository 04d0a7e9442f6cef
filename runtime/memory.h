// Device memory: RAII buffers and arenas that hand out tensors by bump
// allocation. Weights live in one arena for the model's lifetime; activations in
// a scratch arena reset between batches. No binding ever exceeds the device's
// maxStorageBufferRange (lavapipe: 128 MiB): blocks are capped at that size.
#pragma once
#include <vulkan/vulkan.h>

#include <memory>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace vkcls {

class Context;

class Buffer {
 public:
  enum class Kind { device, staging };  // device: storage, mapped if unified; staging: host-visible
  Buffer(Context& ctx, VkDeviceSize size, Kind kind);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  VkBuffer handle() const { return buffer_; }
  VkDeviceSize size() const { return size_; }
  void* mapped() const { return mapped_; }

 private:
  Context& ctx_;
  VkBuffer buffer_ = VK_NULL_HANDLE;
  VkDeviceMemory memory_ = VK_NULL_HANDLE;
  VkDeviceSize size_ = 0;
  void* mapped_ = nullptr;
};

class Arena {
 public:
  // block_bytes: preferred block size; a tensor larger than a block gets a block
  // of its own, up to maxStorageBufferRange.
  Arena(Context& ctx, std::string name, VkDeviceSize block_bytes = 64ull << 20);
  Tensor alloc(DType dtype, std::vector<int64_t> shape);
  // A tensor that may exceed one binding (e.g. a 250k-row embedding table): it gets a
  // buffer of its own, and only ops that bind it in row ranges (ops::embed) accept it.
  Tensor alloc_large(DType dtype, std::vector<int64_t> shape);
  void reset();  // forget all tensors, keep the blocks
  VkDeviceSize bytes_in_use() const { return in_use_; }
  VkDeviceSize bytes_reserved() const;
  VkDeviceSize peak_bytes_in_use() const { return peak_; }
  const std::string& name() const { return name_; }

 private:
  struct Block {
    std::unique_ptr<Buffer> buffer;
    VkDeviceSize used = 0;
  };
  Context& ctx_;
  std::string name_;
  VkDeviceSize block_bytes_;
  std::vector<Block> blocks_;
  std::vector<VkBuffer> large_;  // blocks that hold one alloc_large tensor
  VkDeviceSize in_use_ = 0, peak_ = 0;
};

}  // namespace vkcls
