#include "runtime/memory.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "runtime/context.h"
#include "runtime/vk_check.h"

namespace vkcls {

Buffer::Buffer(Context& ctx, VkDeviceSize size, Kind kind) : ctx_(ctx), size_(size) {
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = size;
  bci.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  // device buffers are bound as storage buffers, and by the CPU-driver kernels also as
  // uniform texel buffers (vec4 loads that lavapipe vectorises better than storage-buffer reads)
  if (kind == Kind::device)
    bci.usage |= VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT;
  bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VK_CHECK(vkCreateBuffer(ctx.device(), &bci, nullptr, &buffer_));
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(ctx.device(), buffer_, &req);

  VkMemoryPropertyFlags want;
  bool map = false;
  if (kind == Kind::staging) {
    want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    map = true;
  } else if (ctx.maps_device_memory()) {
    want = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
           VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    map = true;
  } else {
    want = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
  }
  VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  mai.allocationSize = req.size;
  try {
    // staging prefers cached host memory off the device; device memory avoids host-visible on dGPUs
    mai.memoryTypeIndex =
        ctx.memory_type(req.memoryTypeBits, want, map ? 0 : VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT);
    VkResult r = vkAllocateMemory(ctx.device(), &mai, nullptr, &memory_);
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
      throw VulkanError(r, fmt::format("out of {} memory allocating {:.1f} MiB",
                                       kind == Kind::device ? "device" : "host", size / 1048576.0));
    if (r != VK_SUCCESS) vk_fail(r, "vkAllocateMemory", __FILE__, __LINE__);
    VK_CHECK(vkBindBufferMemory(ctx.device(), buffer_, memory_, 0));
    if (map) VK_CHECK(vkMapMemory(ctx.device(), memory_, 0, VK_WHOLE_SIZE, 0, &mapped_));
  } catch (...) {
    if (memory_) vkFreeMemory(ctx.device(), memory_, nullptr);
    vkDestroyBuffer(ctx.device(), buffer_, nullptr);
    throw;
  }
}

Buffer::~Buffer() {
  auto destroy = [dev = ctx_.device(), buffer = buffer_, memory = memory_,
                  mapped = mapped_ != nullptr] {
    if (mapped) vkUnmapMemory(dev, memory);
    vkDestroyBuffer(dev, buffer, nullptr);
    vkFreeMemory(dev, memory, nullptr);
  };
  if (ctx_.timed_out())
    ctx_.destroy_when_idle(destroy);  // a timed-out submission may still read or write it
  else
    destroy();
}

Arena::Arena(Context& ctx, std::string name, VkDeviceSize block_bytes)
    : ctx_(ctx),
      name_(std::move(name)),
      block_bytes_(std::min<VkDeviceSize>(block_bytes, ctx.info().max_storage_buffer_range)) {}

Tensor Arena::alloc(DType dtype, std::vector<int64_t> shape) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  for (int64_t d : t.shape)
    if (d < 0)
      throw std::invalid_argument(
          fmt::format("arena {}: negative dimension in {}", name_, t.describe()));
  VkDeviceSize bytes = VkDeviceSize(t.numel()) * dtype_size(dtype);
  VkDeviceSize limit = ctx_.info().max_storage_buffer_range;
  if (bytes > limit)
    throw std::invalid_argument(
        fmt::format("arena {}: tensor {} needs {:.1f} MiB, over the device's maxStorageBufferRange "
                    "of {:.1f} MiB; split it",
                    name_, t.describe(), bytes / 1048576.0, limit / 1048576.0));
  VkDeviceSize align = std::max<VkDeviceSize>(ctx_.info().min_storage_buffer_offset_alignment, 16);
  VkDeviceSize padded = std::max<VkDeviceSize>((bytes + align - 1) / align * align, align);

  Block* block = nullptr;
  for (auto& b : blocks_)
    if (b.buffer->size() >= b.used + padded && b.buffer->size() <= limit) {
      block = &b;
      break;
    }
  if (!block) {
    VkDeviceSize size = std::max(block_bytes_, padded);
    blocks_.push_back({std::make_unique<Buffer>(ctx_, size, Buffer::Kind::device), 0});
    block = &blocks_.back();
  }
  t.buffer = block->buffer->handle();
  t.offset = block->used;
  t.bytes = bytes;
  if (block->buffer->mapped()) t.host = static_cast<char*>(block->buffer->mapped()) + t.offset;
  block->used += padded;
  in_use_ += padded;
  peak_ = std::max(peak_, in_use_);
  return t;
}

Tensor Arena::alloc_large(DType dtype, std::vector<int64_t> shape) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  VkDeviceSize bytes = VkDeviceSize(t.numel()) * dtype_size(dtype);
  if (bytes <= ctx_.info().max_storage_buffer_range) return alloc(dtype, t.shape);
  // a full block that reset() can never hand out again in pieces
  blocks_.push_back({std::make_unique<Buffer>(ctx_, bytes, Buffer::Kind::device), bytes});
  t.buffer = blocks_.back().buffer->handle();
  t.bytes = bytes;
  if (blocks_.back().buffer->mapped()) t.host = blocks_.back().buffer->mapped();
  large_.push_back(t.buffer);
  in_use_ += bytes;
  peak_ = std::max(peak_, in_use_);
  return t;
}

void Arena::reset() {
  // blocks of large tensors are released: they fit nothing else
  std::erase_if(blocks_, [&](const Block& b) {
    return std::find(large_.begin(), large_.end(), b.buffer->handle()) != large_.end();
  });
  large_.clear();
  for (auto& b : blocks_) b.used = 0;
  in_use_ = 0;
}

VkDeviceSize Arena::bytes_reserved() const {
  VkDeviceSize n = 0;
  for (auto& b : blocks_) n += b.buffer->size();
  return n;
}

}  // namespace vkcls
