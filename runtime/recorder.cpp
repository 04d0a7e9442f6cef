#include "runtime/recorder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "runtime/context.h"
#include "runtime/vk_check.h"

namespace vkcls {

static constexpr uint32_t kSetsPerPool = 256;
static constexpr uint32_t kMaxBindings = 8;

Binding in_vec4(const Tensor& t) {
  VkFormat f = t.dtype == DType::f32   ? VK_FORMAT_R32G32B32A32_SFLOAT
               : t.dtype == DType::f16 ? VK_FORMAT_R16G16B16A16_SFLOAT
                                       : VK_FORMAT_UNDEFINED;
  if (f == VK_FORMAT_UNDEFINED)
    throw std::invalid_argument(fmt::format("in_vec4: tensor {} is not f32 or f16", t.describe()));
  return {t.buffer, t.offset, t.bytes, Access::read, f};
}

Binding in_scalars(const Tensor& t) {
  if (t.dtype != DType::f32)
    throw std::invalid_argument(fmt::format("in_scalars: tensor {} is not f32", t.describe()));
  return {t.buffer, t.offset, t.bytes, Access::read, VK_FORMAT_R32_SFLOAT};
}

// Bytes per texel of the formats in_vec4 and in_scalars use.
static VkDeviceSize texel_bytes(VkFormat f) {
  return f == VK_FORMAT_R32_SFLOAT ? 4 : f == VK_FORMAT_R16G16B16A16_SFLOAT ? 8 : 16;
}

Recorder::Recorder(Context& ctx) : ctx_(ctx) {
  VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pci.queueFamilyIndex = ctx.queue_family();
  pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  VK_CHECK(vkCreateCommandPool(ctx.device(), &pci, nullptr, &pool_));
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VK_CHECK(vkAllocateCommandBuffers(ctx.device(), &ai, &cmd_));
}

Recorder::~Recorder() {
  auto destroy = [dev = ctx_.device(), views = views_, pools = descriptor_pools_,
                  queries = queries_, pool = pool_] {
    for (VkBufferView v : views) vkDestroyBufferView(dev, v, nullptr);
    for (VkDescriptorPool p : pools) vkDestroyDescriptorPool(dev, p, nullptr);
    if (queries) vkDestroyQueryPool(dev, queries, nullptr);
    vkDestroyCommandPool(dev, pool, nullptr);
  };
  if (fence_) {  // submitted and never waited for: let it finish (or time out)
    try {
      wait();
    } catch (...) {  // a destructor reports nothing; a timeout sets in_flight_
    }
  }
  if (in_flight_)
    ctx_.destroy_when_idle(destroy);  // a timed-out submission may still use them
  else
    destroy();
}

void Recorder::refuse_if_in_flight() const {
  if (in_flight_)
    throw VulkanError(VK_ERROR_DEVICE_LOST,
                      "this recorder's last submission timed out and may still be running; the "
                      "device is treated as lost");
}

void Recorder::begin_if_needed() {
  refuse_if_in_flight();
  if (recording_) return;
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  VK_CHECK(vkBeginCommandBuffer(cmd_, &bi));
  recording_ = true;
  query_names_.clear();
}

VkDescriptorSet Recorder::allocate_set(VkDescriptorSetLayout layout) {
  // Pools are kept across submissions and reset in reset(): a model's forward pass
  // records about the same number of dispatches every batch.
  if (pool_cursor_ < descriptor_pools_.size() && sets_in_pool_ == kSetsPerPool) {
    pool_cursor_++;
    sets_in_pool_ = 0;
  }
  if (pool_cursor_ == descriptor_pools_.size()) {
    VkDescriptorPoolSize sizes[2] = {
        {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kSetsPerPool * kMaxBindings},
        {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, kSetsPerPool * kMaxBindings}};
    VkDescriptorPoolCreateInfo ci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    ci.maxSets = kSetsPerPool;
    ci.poolSizeCount = 2;
    ci.pPoolSizes = sizes;
    VkDescriptorPool pool;
    VK_CHECK(vkCreateDescriptorPool(ctx_.device(), &ci, nullptr, &pool));
    descriptor_pools_.push_back(pool);
    sets_in_pool_ = 0;
  }
  VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  ai.descriptorPool = descriptor_pools_[pool_cursor_];
  ai.descriptorSetCount = 1;
  ai.pSetLayouts = &layout;
  VkDescriptorSet set;
  VK_CHECK(vkAllocateDescriptorSets(ctx_.device(), &ai, &set));
  sets_in_pool_++;
  return set;
}

// A view of b's range as vec4 texels; it lives until reset() (after the submission it served).
VkBufferView Recorder::make_view(const Binding& b) {
  const VkDeviceSize texel = texel_bytes(b.texel_format);
  VkBufferViewCreateInfo ci{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
  ci.buffer = b.buffer;
  ci.format = b.texel_format;
  ci.offset = b.offset;
  ci.range = b.bytes / texel * texel;
  VkBufferView view;
  VK_CHECK(vkCreateBufferView(ctx_.device(), &ci, nullptr, &view));
  views_.push_back(view);
  return view;
}

// A barrier is needed when this dispatch reads or writes a range written since the
// last barrier, or writes a range read since then. One global memory barrier then
// covers every pending range (buffer barriers per range cost more to record and gain
// nothing on current drivers).
void Recorder::hazard_barrier(const Binding* b, size_t n) {
  auto overlaps = [](const std::vector<Range>& ranges, const Binding& x) {
    for (const Range& r : ranges)
      if (r.buffer == x.buffer && r.begin < x.offset + x.bytes && x.offset < r.end) return true;
    return false;
  };
  bool need = false;
  for (size_t i = 0; i < n && !need; ++i) {
    need = overlaps(written_, b[i]) || (b[i].access != Access::read && overlaps(read_, b[i]));
  }
  if (need && insert_barriers) {
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
    vkCmdPipelineBarrier(cmd_,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
    barriers_++;
    written_.clear();
    read_.clear();
  }
  for (size_t i = 0; i < n; ++i) {
    Range r{b[i].buffer, b[i].offset, b[i].offset + b[i].bytes};
    (b[i].access == Access::read ? read_ : written_).push_back(r);
    if (b[i].access == Access::read_write) read_.push_back(r);
  }
}

void Recorder::barrier_after_earlier_submissions() {
  begin_if_needed();
  if (!insert_barriers) return;
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
  barriers_++;
  written_.clear();
  read_.clear();
}

void Recorder::dispatch_raw(const Pipeline& p, const Binding* b, size_t n, const void* push,
                            uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz) {
  if (n != p.num_bindings)
    throw std::invalid_argument(
        fmt::format("{}: {} buffers bound, pipeline has {}", p.name, n, p.num_bindings));
  if (push_bytes != p.push_bytes)
    throw std::invalid_argument(fmt::format("{}: {} bytes of push constants, pipeline has {}",
                                            p.name, push_bytes, p.push_bytes));
  const DeviceInfo& info = ctx_.info();
  if (gx > info.max_workgroup_count[0] || gy > info.max_workgroup_count[1] ||
      gz > info.max_workgroup_count[2])
    throw std::invalid_argument(fmt::format(
        "{}: grid {}x{}x{} exceeds the device's maxComputeWorkGroupCount {}x{}x{}", p.name, gx, gy,
        gz, info.max_workgroup_count[0], info.max_workgroup_count[1], info.max_workgroup_count[2]));
  for (size_t i = 0; i < n; ++i) {
    if (b[i].buffer == VK_NULL_HANDLE)
      throw std::invalid_argument(fmt::format("{}: binding {} is empty", p.name, i));
    const bool texel = (p.texel_bindings >> i) & 1;
    if (texel != (b[i].texel_format != VK_FORMAT_UNDEFINED))
      throw std::invalid_argument(
          fmt::format("{}: binding {} must be {}", p.name, i,
                      texel ? "a texel buffer (in_vec4, in_scalars)" : "a storage buffer"));
    if (texel) {
      const VkDeviceSize size = texel_bytes(b[i].texel_format);
      if (b[i].bytes < size || b[i].bytes % size || b[i].offset % 16 ||
          b[i].bytes / size > info.max_texel_buffer_elements)
        throw std::invalid_argument(
            fmt::format("{}: binding {} ({} bytes at offset {}) is not a whole number of "
                        "{}-byte texels at a 16-byte offset, within {} texels",
                        p.name, i, b[i].bytes, b[i].offset, size, info.max_texel_buffer_elements));
      continue;
    }
    if (b[i].bytes > info.max_storage_buffer_range)
      throw std::invalid_argument(
          fmt::format("{}: binding {} spans {} bytes, over maxStorageBufferRange {}", p.name, i,
                      b[i].bytes, info.max_storage_buffer_range));
  }
  if (gx == 0 || gy == 0 || gz == 0) return;  // nothing to do (an empty batch)
  begin_if_needed();
  hazard_barrier(b, n);

  VkDescriptorSet set = allocate_set(p.set_layout);
  VkDescriptorBufferInfo infos[kMaxBindings];
  VkBufferView views[kMaxBindings];
  VkWriteDescriptorSet writes[kMaxBindings];
  if (n > kMaxBindings)
    throw std::invalid_argument(fmt::format("{}: more than {} bindings", p.name, kMaxBindings));
  for (size_t i = 0; i < n; ++i) {
    writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    writes[i].dstSet = set;
    writes[i].dstBinding = uint32_t(i);
    writes[i].descriptorCount = 1;
    if (b[i].texel_format != VK_FORMAT_UNDEFINED) {
      views[i] = make_view(b[i]);
      writes[i].descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
      writes[i].pTexelBufferView = &views[i];
      continue;
    }
    // An empty tensor still owns an aligned slot in its arena, so a 4-byte range is safe.
    infos[i] = {b[i].buffer, b[i].offset, std::max<VkDeviceSize>(b[i].bytes, 4)};
    writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    writes[i].pBufferInfo = &infos[i];
  }
  vkUpdateDescriptorSets(ctx_.device(), uint32_t(n), writes, 0, nullptr);

  bool profile = ctx_.options().profile && ctx_.info().timestamps;
  if (profile) {
    uint32_t q = uint32_t(query_names_.size()) * 2;
    if (q + 2 > query_capacity_) {
      // Grow by recording into a fresh pool is not possible mid-recording; size generously up
      // front.
      if (queries_ == VK_NULL_HANDLE) {
        query_capacity_ = 8192;
        VkQueryPoolCreateInfo qci{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
        qci.queryType = VK_QUERY_TYPE_TIMESTAMP;
        qci.queryCount = query_capacity_;
        VK_CHECK(vkCreateQueryPool(ctx_.device(), &qci, nullptr, &queries_));
      } else {
        profile = false;  // over capacity: this dispatch goes untimed
      }
    }
    if (profile) {
      if (q == 0) vkCmdResetQueryPool(cmd_, queries_, 0, query_capacity_);
      vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queries_, q);
    }
  }
  vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipeline);
  vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, 1, &set, 0, nullptr);
  if (push_bytes)
    vkCmdPushConstants(cmd_, p.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes, push);
  vkCmdDispatch(cmd_, gx, gy, gz);
  if (profile) {
    vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_,
                        uint32_t(query_names_.size()) * 2 + 1);
    query_names_.push_back(p.name);
  }
  dispatches_++;
}

void Recorder::fill_zero(const Tensor& t) {
  begin_if_needed();
  Binding b = out(t);
  hazard_barrier(&b, 1);
  vkCmdFillBuffer(cmd_, t.buffer, t.offset, (std::max<VkDeviceSize>(t.bytes, 4) + 3) / 4 * 4, 0);
}

void Recorder::submit_and_wait() {
  submit();
  wait();
}

void Recorder::submit() {
  refuse_if_in_flight();
  if (fence_)
    throw std::logic_error("Recorder::submit: the previous submission was not waited for");
  if (!recording_) return;
  VK_CHECK(vkEndCommandBuffer(cmd_));
  recording_ = false;
  try {
    fence_ = ctx_.submit(cmd_);
  } catch (...) {
    reset();
    throw;
  }
}

bool Recorder::done() {
  return !fence_ || ctx_.fence_done(fence_);
}

void Recorder::wait() {
  refuse_if_in_flight();
  if (!fence_) {
    reset();
    return;
  }
  VkFence f = fence_;
  fence_ = VK_NULL_HANDLE;
  try {
    ctx_.wait_fence(f);
  } catch (const VulkanError& e) {
    if (e.timed_out())
      in_flight_ = true;  // cmd_ is still pending: no reset
    else
      reset();
    throw;
  } catch (...) {
    reset();
    throw;
  }
  timings_.clear();
  if (!query_names_.empty()) {
    std::vector<uint64_t> stamps(query_names_.size() * 2);
    VK_CHECK(vkGetQueryPoolResults(ctx_.device(), queries_, 0, uint32_t(stamps.size()),
                                   stamps.size() * 8, stamps.data(), 8,
                                   VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    double ns = ctx_.info().timestamp_period_ns;
    for (size_t i = 0; i < query_names_.size(); ++i)
      timings_.push_back(
          {query_names_[i], double(stamps[2 * i + 1] - stamps[2 * i]) * ns / 1000.0});
    if (env_int("VKCLS_PROFILE", 0))
      for (auto& t : timings_)
        std::fprintf(stderr, "vkcls profile: %-40s %10.1f us\n", t.name.c_str(), t.microseconds);
  }
  reset();
}

void Recorder::reset() {
  recording_ = false;
  VK_CHECK(vkResetCommandBuffer(cmd_, 0));
  for (VkDescriptorPool p : descriptor_pools_) vkResetDescriptorPool(ctx_.device(), p, 0);
  for (VkBufferView v : views_) vkDestroyBufferView(ctx_.device(), v, nullptr);
  views_.clear();
  pool_cursor_ = 0;
  sets_in_pool_ = 0;
  written_.clear();
  read_.clear();
}

}  // namespace vkcls
