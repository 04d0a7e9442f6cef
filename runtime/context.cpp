#include "runtime/context.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "runtime/memory.h"
#include "runtime/pipeline.h"
#include "runtime/vk_check.h"

namespace vkcls {

long env_int(const char* name, long fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  if (*end)
    throw std::invalid_argument(
        fmt::format("environment variable {}='{}' is not an integer", name, v));
  return x;
}

static bool has_layer(const char* name) {
  uint32_t n = 0;
  vkEnumerateInstanceLayerProperties(&n, nullptr);
  std::vector<VkLayerProperties> layers(n);
  vkEnumerateInstanceLayerProperties(&n, layers.data());
  for (auto& l : layers)
    if (std::strcmp(l.layerName, name) == 0) return true;
  return false;
}

static bool has_instance_extension(const char* name) {
  uint32_t n = 0;
  vkEnumerateInstanceExtensionProperties(nullptr, &n, nullptr);
  std::vector<VkExtensionProperties> exts(n);
  vkEnumerateInstanceExtensionProperties(nullptr, &n, exts.data());
  for (auto& e : exts)
    if (std::strcmp(e.extensionName, name) == 0) return true;
  return false;
}

// An instance with nothing enabled, for listing devices.
static VkInstance make_plain_instance() {
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "vkcls";
  app.apiVersion = VK_API_VERSION_1_2;
  VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ci.pApplicationInfo = &app;
  const char* portability = VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME;
  if (has_instance_extension(portability)) {
    ci.enabledExtensionCount = 1;
    ci.ppEnabledExtensionNames = &portability;
    ci.flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
  }
  VkInstance inst;
  VK_CHECK(vkCreateInstance(&ci, nullptr, &inst));
  return inst;
}

static std::vector<VkPhysicalDevice> physical_devices(VkInstance inst) {
  uint32_t n = 0;
  VK_CHECK(vkEnumeratePhysicalDevices(inst, &n, nullptr));
  std::vector<VkPhysicalDevice> pds(n);
  VK_CHECK(vkEnumeratePhysicalDevices(inst, &n, pds.data()));
  return pds;
}

std::vector<DeviceInfo> list_devices() {
  VkInstance inst = make_plain_instance();
  std::vector<DeviceInfo> out;
  auto pds = physical_devices(inst);
  for (uint32_t i = 0; i < pds.size(); ++i) out.push_back(device_probe(inst, pds[i], i));
  vkDestroyInstance(inst, nullptr);
  return out;
}

int choose_device(const std::vector<DeviceInfo>& devices, int requested, std::string* why) {
  if (devices.empty())
    throw std::runtime_error(
        "no Vulkan device found (install mesa-vulkan-drivers for the CPU driver lavapipe, or a GPU "
        "driver)");
  if (requested >= 0) {
    if (requested >= int(devices.size()))
      throw std::invalid_argument(fmt::format(
          "device {} requested (--device / VKCLS_DEVICE) but only {} device(s) exist (0..{})",
          requested, devices.size(), devices.size() - 1));
    *why = fmt::format("device {} requested (--device / VKCLS_DEVICE)", requested);
    return requested;
  }
  // discrete GPU, then integrated, then virtual, then CPU; ties: more device-local memory
  auto rank = [](const DeviceInfo& d) {
    switch (d.type) {
      case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
        return 4;
      case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
        return 3;
      case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
        return 2;
      case VK_PHYSICAL_DEVICE_TYPE_CPU:
        return 1;
      default:
        return 0;
    }
  };
  int best = 0;
  for (int i = 1; i < int(devices.size()); ++i) {
    const auto &a = devices[i], &b = devices[best];
    if (rank(a) > rank(b) || (rank(a) == rank(b) && a.device_local_bytes > b.device_local_bytes))
      best = i;
  }
  *why = fmt::format("{} is the best of {} device(s): discrete GPU > integrated > virtual > CPU",
                     devices[best].type_name(), devices.size());
  return best;
}

Context::Context(ContextOptions options) : options_(options) {
  if (const char* v = std::getenv("VKCLS_VALIDATION"); v && *v) {
    std::string s = v;
    options_.validation = s == "sync" ? Validation::sync
                          : s == "0"  ? Validation::off
                                      : Validation::on;
  }
  options_.device_index = int(env_int("VKCLS_DEVICE", options_.device_index));
  if (env_int("VKCLS_PROFILE", 0)) options_.profile = true;
  if (env_int("VKCLS_PIPELINE_CACHE", 1) == 0) options_.disk_pipeline_cache = false;
  try {
    create_instance();
    create_device();
    pipelines_ = std::make_unique<PipelineCache>(*this, options_.disk_pipeline_cache);
  } catch (...) {
    this->~Context();
    throw;
  }
}

Context::~Context() {
  // Tests of whole programs (engine, CLI, server) set VKCLS_VALIDATION_FATAL=1: a
  // validation error anywhere in the process then fails it, as it fails an op test.
  if (validation_errors_ > 0 && env_int("VKCLS_VALIDATION_FATAL", 0)) {
    for (const auto& m : validation_messages())
      std::fprintf(stderr, "vkcls validation: %s\n", m.c_str());
    std::fprintf(stderr,
                 "vkcls: %zu Vulkan validation error(s); failing (VKCLS_VALIDATION_FATAL=1)\n",
                 size_t(validation_errors_));
    std::fflush(stderr);
    std::_Exit(70);
  }
  // Work still in flight (a submission that timed out) must finish before anything it uses
  // goes away; on a lost GPU the wait returns at once.
  if (device_) vkDeviceWaitIdle(device_);
  for (auto& destroy : retired_) destroy();
  retired_.clear();
  pipelines_.reset();
  if (transfer_pool_) vkDestroyCommandPool(device_, transfer_pool_, nullptr);
  transfer_pool_ = VK_NULL_HANDLE;
  if (device_) vkDestroyDevice(device_, nullptr);
  device_ = VK_NULL_HANDLE;
  if (messenger_) {
    auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
    if (destroy) destroy(instance_, messenger_, nullptr);
    messenger_ = VK_NULL_HANDLE;
  }
  if (instance_) vkDestroyInstance(instance_, nullptr);
  instance_ = VK_NULL_HANDLE;
}

VKAPI_ATTR VkBool32 VKAPI_CALL Context::on_debug_message(
    VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT,
    const VkDebugUtilsMessengerCallbackDataEXT* data, void* self) {
  auto* ctx = static_cast<Context*>(self);
  bool error = severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  std::string msg = fmt::format("{} {}: {}", error ? "error" : "warning",
                                data->pMessageIdName ? data->pMessageIdName : "",
                                data->pMessage ? data->pMessage : "");
  {
    std::lock_guard lock(ctx->messages_mutex_);
    ctx->messages_.push_back(msg);
  }
  if (error) ctx->validation_errors_++;
  return VK_FALSE;
}

void Context::create_instance() {
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "vkcls";
  app.apiVersion = VK_API_VERSION_1_2;
  std::vector<const char*> layers, exts;
  if (options_.validation != Validation::off) {
    if (!has_layer("VK_LAYER_KHRONOS_validation"))
      throw std::runtime_error(
          "validation requested (VKCLS_VALIDATION) but VK_LAYER_KHRONOS_validation is not "
          "installed "
          "(apt-get install vulkan-validationlayers)");
    layers.push_back("VK_LAYER_KHRONOS_validation");
    exts.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  }
  VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  if (has_instance_extension(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
    exts.push_back(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME);
    ci.flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
  }
  VkDebugUtilsMessengerCreateInfoEXT dbg{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
  dbg.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                        VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  dbg.messageType =
      VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT;
  dbg.pfnUserCallback = on_debug_message;
  dbg.pUserData = this;
  VkValidationFeatureEnableEXT sync_feature =
      VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
  VkValidationFeaturesEXT features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
  features.enabledValidationFeatureCount = 1;
  features.pEnabledValidationFeatures = &sync_feature;
  if (options_.validation == Validation::sync) dbg.pNext = &features;

  ci.pApplicationInfo = &app;
  ci.enabledLayerCount = uint32_t(layers.size());
  ci.ppEnabledLayerNames = layers.data();
  ci.enabledExtensionCount = uint32_t(exts.size());
  ci.ppEnabledExtensionNames = exts.data();
  if (options_.validation != Validation::off)
    ci.pNext = &dbg;  // also covers instance creation itself
  VK_CHECK(vkCreateInstance(&ci, nullptr, &instance_));

  if (options_.validation != Validation::off) {
    auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
    dbg.pNext = nullptr;
    if (create) VK_CHECK(create(instance_, &dbg, nullptr, &messenger_));
  }
}

void Context::create_device() {
  auto pds = physical_devices(instance_);
  std::vector<DeviceInfo> infos;
  for (uint32_t i = 0; i < pds.size(); ++i) infos.push_back(device_probe(instance_, pds[i], i));
  int chosen = choose_device(infos, options_.device_index, &why_);
  physical_ = pds[chosen];
  info_ = infos[chosen];
  if (info_.api_version < VK_API_VERSION_1_2)
    throw std::runtime_error(fmt::format("device '{}' offers Vulkan {}; vkcls needs 1.2",
                                         info_.name, info_.api_version_string()));
  vkGetPhysicalDeviceMemoryProperties(physical_, &memory_props_);

  uint32_t nq = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(physical_, &nq, nullptr);
  std::vector<VkQueueFamilyProperties> qf(nq);
  vkGetPhysicalDeviceQueueFamilyProperties(physical_, &nq, qf.data());
  queue_family_ = UINT32_MAX;
  for (uint32_t i = 0; i < nq; ++i) {  // prefer a compute queue without graphics (async compute)
    if (!(qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
    if (queue_family_ == UINT32_MAX || !(qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
      queue_family_ = i;
  }
  if (queue_family_ == UINT32_MAX)
    throw std::runtime_error(fmt::format("device '{}' has no compute queue", info_.name));

  float priority = 1.f;
  VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qci.queueFamilyIndex = queue_family_;
  qci.queueCount = 1;
  qci.pQueuePriorities = &priority;

  // Features: only what the device has; kernels pick variants by info_.
  VkPhysicalDeviceCooperativeMatrixFeaturesNV coop{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
  VkPhysicalDeviceSubgroupSizeControlFeatures sg{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  VkPhysicalDeviceFeatures2 feats{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  feats.pNext = &f11;
  f11.pNext = &f12;
  f11.storageBuffer16BitAccess = info_.storage_16bit;
  f12.shaderFloat16 = info_.shader_float16;
  f12.shaderInt8 = info_.shader_int8;
  f12.storageBuffer8BitAccess = info_.storage_8bit;
  std::vector<const char*> exts;
  void** tail = &f12.pNext;
  if (info_.subgroup_size_control) {
    sg.subgroupSizeControl = VK_TRUE;
    *tail = &sg;
    tail = &sg.pNext;
    if (info_.api_version < VK_API_VERSION_1_3)
      exts.push_back(VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
  }
  if (info_.coopmat_nv && info_.storage_16bit && info_.shader_float16) {
    coop.cooperativeMatrix = VK_TRUE;
    *tail = &coop;
    tail = &coop.pNext;
    exts.push_back(VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
  } else {
    info_.coopmat_nv = false;
    info_.coopmat_shapes.clear();
  }
  fp16_enabled_ = info_.storage_16bit;

  VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  dci.pNext = &feats;
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  dci.enabledExtensionCount = uint32_t(exts.size());
  dci.ppEnabledExtensionNames = exts.data();
  VK_CHECK(vkCreateDevice(physical_, &dci, nullptr, &device_));
  vkGetDeviceQueue(device_, queue_family_, 0, &queue_);

  VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pci.queueFamilyIndex = queue_family_;
  pci.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
  VK_CHECK(vkCreateCommandPool(device_, &pci, nullptr, &transfer_pool_));
  maps_device_memory_ = info_.host_visible_device_local && !options_.force_staging;
  if (options_.fence_timeout_ms == 0)
    options_.fence_timeout_ms = info_.type == VK_PHYSICAL_DEVICE_TYPE_CPU ? 15 * 60000 : 2 * 60000;
  options_.fence_timeout_ms = uint32_t(env_int("VKCLS_TIMEOUT_MS", options_.fence_timeout_ms));
}

uint32_t Context::memory_type(uint32_t type_bits, VkMemoryPropertyFlags want,
                              VkMemoryPropertyFlags avoid) const {
  for (int pass = 0; pass < 2; ++pass)
    for (uint32_t i = 0; i < memory_props_.memoryTypeCount; ++i) {
      auto f = memory_props_.memoryTypes[i].propertyFlags;
      if (!(type_bits & (1u << i)) || (f & want) != want) continue;
      if (pass == 0 && (f & avoid)) continue;
      return i;
    }
  throw std::runtime_error(
      fmt::format("device '{}' has no memory type with properties 0x{:x}", info_.name, want));
}

void Context::submit_and_wait(VkCommandBuffer cmd) {
  wait_fence(submit(cmd));
}

VkFence Context::submit(VkCommandBuffer cmd) {
  if (lost_)
    throw VulkanError(VK_ERROR_DEVICE_LOST,
                      "the GPU was lost earlier; no further work is accepted");
  VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  VkFence fence;
  VK_CHECK(vkCreateFence(device_, &fci, nullptr, &fence));
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd;
  VkResult r;
  {
    std::lock_guard lock(queue_mutex_);
    r = vkQueueSubmit(queue_, 1, &si, fence);
  }
  if (r != VK_SUCCESS) {
    vkDestroyFence(device_, fence, nullptr);
    if (r == VK_ERROR_DEVICE_LOST) lost_ = true;
    vk_fail(r, "vkQueueSubmit", __FILE__, __LINE__);
  }
  return fence;
}

bool Context::fence_done(VkFence fence) {
  VkResult r = vkGetFenceStatus(device_, fence);
  if (r == VK_SUCCESS) return true;
  if (r == VK_NOT_READY) return false;
  if (r == VK_ERROR_DEVICE_LOST) lost_ = true;
  return true;  // wait_fence reports the error
}

void Context::wait_fence(VkFence fence) {
  VkResult r = vkWaitForFences(device_, 1, &fence, VK_TRUE,
                               uint64_t(options_.fence_timeout_ms) * 1000000ull);
  if (r == VK_TIMEOUT) {
    lost_ = true;
    timed_out_ = true;
    // the fence (and the caller's command buffer) is still in use: destroyed once the device is
    // idle
    destroy_when_idle([this, fence] { vkDestroyFence(device_, fence, nullptr); });
    throw VulkanError(
        VK_TIMEOUT,
        fmt::format("GPU work did not finish within {} ms (fence_timeout_ms, VKCLS_TIMEOUT_MS); "
                    "the device is treated as lost",
                    options_.fence_timeout_ms));
  }
  vkDestroyFence(device_, fence, nullptr);
  if (r == VK_ERROR_DEVICE_LOST) lost_ = true;
  if (r != VK_SUCCESS) vk_fail(r, "vkWaitForFences", __FILE__, __LINE__);
}

void Context::destroy_when_idle(std::function<void()> destroy) {
  std::lock_guard lock(retired_mutex_);
  retired_.push_back(std::move(destroy));
}

// Submits a one-off transfer command buffer and frees it. After a timeout it is still in use,
// so it and its staging buffer are freed once the device is idle.
void Context::submit_transfer(VkCommandBuffer cmd, std::unique_ptr<Buffer>& staging) {
  try {
    submit_and_wait(cmd);
  } catch (const VulkanError& e) {
    if (!e.timed_out()) {
      vkFreeCommandBuffers(device_, transfer_pool_, 1, &cmd);
      throw;
    }
    Buffer* in_use = staging.release();
    destroy_when_idle([this, cmd, in_use] {
      vkFreeCommandBuffers(device_, transfer_pool_, 1, &cmd);
      delete in_use;
    });
    throw;
  }
  vkFreeCommandBuffers(device_, transfer_pool_, 1, &cmd);
}

static void check_copy(const Tensor& t, size_t bytes, const char* what) {
  if (bytes > t.bytes)
    throw std::invalid_argument(fmt::format("{}: {} bytes do not fit tensor {} ({} bytes)", what,
                                            bytes, t.describe(), t.bytes));
}

void Context::upload(const Tensor& dst, const void* src, size_t bytes) {
  check_copy(dst, bytes, "upload");
  if (bytes == 0) return;
  if (dst.host) {
    std::memcpy(dst.host, src, bytes);
    return;
  }
  auto staging = std::make_unique<Buffer>(*this, bytes, Buffer::Kind::staging);
  std::memcpy(staging->mapped(), src, bytes);
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = transfer_pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkCommandBuffer cmd;
  std::lock_guard lock(transfer_mutex_);
  VK_CHECK(vkAllocateCommandBuffers(device_, &ai, &cmd));
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  vkBeginCommandBuffer(cmd, &bi);
  VkBufferCopy region{0, dst.offset, bytes};
  vkCmdCopyBuffer(cmd, staging->handle(), dst.buffer, 1, &region);
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0,
                       1, &mb, 0, nullptr, 0, nullptr);
  VK_CHECK(vkEndCommandBuffer(cmd));
  submit_transfer(cmd, staging);
}

void Context::download(const Tensor& src, void* dst, size_t bytes) {
  check_copy(src, bytes, "download");
  if (bytes == 0) return;
  if (src.host) {
    std::memcpy(dst, src.host, bytes);
    return;
  }
  auto staging = std::make_unique<Buffer>(*this, bytes, Buffer::Kind::staging);
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = transfer_pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkCommandBuffer cmd;
  std::lock_guard lock(transfer_mutex_);  // the transfer pool is used by one thread at a time
  VK_CHECK(vkAllocateCommandBuffers(device_, &ai, &cmd));
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  vkBeginCommandBuffer(cmd, &bi);
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
  vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0,
                       1, &mb, 0, nullptr, 0, nullptr);
  VkBufferCopy region{src.offset, 0, bytes};
  vkCmdCopyBuffer(cmd, src.buffer, staging->handle(), 1, &region);
  mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
  vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb,
                       0, nullptr, 0, nullptr);
  VK_CHECK(vkEndCommandBuffer(cmd));
  submit_transfer(cmd, staging);
  std::memcpy(dst, staging->mapped(), bytes);
}

std::vector<std::string> Context::validation_messages() const {
  std::lock_guard lock(messages_mutex_);
  return messages_;
}

void Context::clear_validation_messages() {
  std::lock_guard lock(messages_mutex_);
  messages_.clear();
  validation_errors_ = 0;
}

}  // namespace vkcls
