#include "runtime/device_info.h"

#include <fmt/format.h>

#include <cstring>
#include <nlohmann/json.hpp>

namespace vkcls {

static std::string component_type_name(VkComponentTypeNV t) {
  switch (t) {
    case VK_COMPONENT_TYPE_FLOAT16_NV:
      return "f16";
    case VK_COMPONENT_TYPE_FLOAT32_NV:
      return "f32";
    case VK_COMPONENT_TYPE_FLOAT64_NV:
      return "f64";
    case VK_COMPONENT_TYPE_SINT8_NV:
      return "i8";
    case VK_COMPONENT_TYPE_UINT8_NV:
      return "u8";
    case VK_COMPONENT_TYPE_SINT32_NV:
      return "i32";
    case VK_COMPONENT_TYPE_UINT32_NV:
      return "u32";
    default:
      return fmt::format("type{}", int(t));
  }
}

DeviceInfo device_probe(VkInstance instance, VkPhysicalDevice pd, uint32_t index) {
  DeviceInfo d;
  d.index = index;

  // properties: core, 1.1 (subgroups), 1.2 (driver), subgroup size control
  VkPhysicalDeviceSubgroupSizeControlProperties sg_ctl{};
  sg_ctl.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES;
  VkPhysicalDeviceVulkan12Properties p12{};
  p12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_PROPERTIES;
  p12.pNext = &sg_ctl;
  VkPhysicalDeviceVulkan11Properties p11{};
  p11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_PROPERTIES;
  p11.pNext = &p12;
  VkPhysicalDeviceProperties2 props{};
  props.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
  props.pNext = &p11;
  vkGetPhysicalDeviceProperties2(pd, &props);
  const VkPhysicalDeviceProperties& p = props.properties;

  d.name = p.deviceName;
  d.type = p.deviceType;
  d.vendor_id = p.vendorID;
  d.device_id = p.deviceID;
  d.api_version = p.apiVersion;
  d.driver_version = p.driverVersion;
  d.driver_name = p12.driverName;
  d.driver_info = p12.driverInfo;
  std::memcpy(d.uuid, p11.deviceUUID, VK_UUID_SIZE);
  d.subgroup_size = p11.subgroupSize;
  d.subgroup_arithmetic = p11.subgroupSupportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
  d.subgroup_shuffle = p11.subgroupSupportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT;
  d.subgroup_ballot = (p11.subgroupSupportedOperations & VK_SUBGROUP_FEATURE_BALLOT_BIT) &&
                      (p11.subgroupSupportedStages & VK_SHADER_STAGE_COMPUTE_BIT);
  d.min_subgroup_size = sg_ctl.minSubgroupSize ? sg_ctl.minSubgroupSize : p11.subgroupSize;
  d.max_subgroup_size = sg_ctl.maxSubgroupSize ? sg_ctl.maxSubgroupSize : p11.subgroupSize;
  d.max_storage_buffer_range = p.limits.maxStorageBufferRange;
  d.min_storage_buffer_offset_alignment = p.limits.minStorageBufferOffsetAlignment;
  d.max_shared_memory = p.limits.maxComputeSharedMemorySize;
  d.max_workgroup_invocations = p.limits.maxComputeWorkGroupInvocations;
  for (int i = 0; i < 3; ++i) d.max_workgroup_count[i] = p.limits.maxComputeWorkGroupCount[i];
  d.max_push_constants = p.limits.maxPushConstantsSize;
  d.max_texel_buffer_elements = p.limits.maxTexelBufferElements;
  auto texel_ok = [&](VkFormat f) {
    VkFormatProperties fp{};
    vkGetPhysicalDeviceFormatProperties(pd, f, &fp);
    return (fp.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT) != 0;
  };
  d.texel_buffer_f32x4 = texel_ok(VK_FORMAT_R32G32B32A32_SFLOAT);
  d.texel_buffer_f16x4 = texel_ok(VK_FORMAT_R16G16B16A16_SFLOAT);
  d.texel_buffer_f32 = texel_ok(VK_FORMAT_R32_SFLOAT);
  d.timestamp_period_ns = p.limits.timestampPeriod;

  // features
  VkPhysicalDeviceSubgroupSizeControlFeatures sg_feat{};
  sg_feat.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES;
  VkPhysicalDeviceVulkan12Features f12{};
  f12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
  f12.pNext = &sg_feat;
  VkPhysicalDeviceVulkan11Features f11{};
  f11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES;
  f11.pNext = &f12;
  VkPhysicalDeviceFeatures2 feats{};
  feats.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
  feats.pNext = &f11;
  vkGetPhysicalDeviceFeatures2(pd, &feats);
  d.shader_float16 = f12.shaderFloat16;
  d.shader_int8 = f12.shaderInt8;
  d.storage_16bit = f11.storageBuffer16BitAccess;
  d.storage_8bit = f12.storageBuffer8BitAccess;
  d.subgroup_size_control = sg_feat.subgroupSizeControl;

  // queue family 0..n: timestamps on a compute queue
  uint32_t nq = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, nullptr);
  std::vector<VkQueueFamilyProperties> qf(nq);
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, qf.data());
  for (auto& q : qf)
    if ((q.queueFlags & VK_QUEUE_COMPUTE_BIT) && q.timestampValidBits > 0) d.timestamps = true;

  // memory
  VkPhysicalDeviceMemoryProperties mem;
  vkGetPhysicalDeviceMemoryProperties(pd, &mem);
  for (uint32_t i = 0; i < mem.memoryHeapCount; ++i)
    if (mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      d.device_local_bytes += mem.memoryHeaps[i].size;
  for (uint32_t i = 0; i < mem.memoryTypeCount; ++i) {
    auto f = mem.memoryTypes[i].propertyFlags;
    if ((f & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) && (f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) &&
        (f & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) &&
        (d.type == VK_PHYSICAL_DEVICE_TYPE_CPU || d.type == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU))
      d.host_visible_device_local = true;
  }

  // extensions
  uint32_t ne = 0;
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &ne, nullptr);
  std::vector<VkExtensionProperties> exts(ne);
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &ne, exts.data());
  for (auto& e : exts) {
    std::string n = e.extensionName;
    if (n == "VK_KHR_cooperative_matrix") d.coopmat_khr = true;
    if (n == VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME) d.coopmat_nv = true;
    if (n == VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME) d.push_descriptor = true;
  }
  if (d.coopmat_nv) {
    auto get = reinterpret_cast<PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV>(
        vkGetInstanceProcAddr(instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV"));
    if (get) {
      uint32_t n = 0;
      get(pd, &n, nullptr);
      std::vector<VkCooperativeMatrixPropertiesNV> cm(
          n, {VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV});
      get(pd, &n, cm.data());
      for (auto& c : cm)
        if (c.scope == VK_SCOPE_SUBGROUP_NV)
          d.coopmat_shapes.push_back({c.MSize, c.NSize, c.KSize, component_type_name(c.AType),
                                      component_type_name(c.BType), component_type_name(c.CType)});
    }
  }
  return d;
}

std::string DeviceInfo::type_name() const {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return "CPU";
    default:
      return "other";
  }
}

std::string DeviceInfo::api_version_string() const {
  return fmt::format("{}.{}.{}", VK_API_VERSION_MAJOR(api_version),
                     VK_API_VERSION_MINOR(api_version), VK_API_VERSION_PATCH(api_version));
}

std::string DeviceInfo::uuid_hex() const {
  std::string s;
  for (uint8_t b : uuid) s += fmt::format("{:02x}", b);
  return s;
}

nlohmann::json DeviceInfo::to_json() const {
  nlohmann::json shapes = nlohmann::json::array();
  for (auto& c : coopmat_shapes)
    shapes.push_back(
        {{"m", c.m}, {"n", c.n}, {"k", c.k}, {"a", c.a_type}, {"b", c.b_type}, {"c", c.c_type}});
  return {
      {"index", index},
      {"name", name},
      {"type", type_name()},
      {"vendor_id", vendor_id},
      {"device_id", device_id},
      {"api_version", api_version_string()},
      {"driver_version", driver_version},
      {"driver_name", driver_name},
      {"driver_info", driver_info},
      {"uuid", uuid_hex()},
      {"features",
       {{"shader_float16", shader_float16},
        {"shader_int8", shader_int8},
        {"storage_16bit", storage_16bit},
        {"storage_8bit", storage_8bit},
        {"subgroup_size", subgroup_size},
        {"min_subgroup_size", min_subgroup_size},
        {"max_subgroup_size", max_subgroup_size},
        {"subgroup_arithmetic", subgroup_arithmetic},
        {"subgroup_shuffle", subgroup_shuffle},
        {"subgroup_ballot", subgroup_ballot},
        {"texel_buffer_f32x4", texel_buffer_f32x4},
        {"texel_buffer_f16x4", texel_buffer_f16x4},
        {"texel_buffer_f32", texel_buffer_f32},
        {"subgroup_size_control", subgroup_size_control},
        {"cooperative_matrix_khr", coopmat_khr},
        {"cooperative_matrix_nv", coopmat_nv},
        {"cooperative_matrix_shapes", shapes},
        {"timestamps", timestamps},
        {"push_descriptor", push_descriptor}}},
      {"limits",
       {{"max_storage_buffer_range", max_storage_buffer_range},
        {"min_storage_buffer_offset_alignment", min_storage_buffer_offset_alignment},
        {"max_compute_shared_memory", max_shared_memory},
        {"max_workgroup_invocations", max_workgroup_invocations},
        {"max_workgroup_count",
         {max_workgroup_count[0], max_workgroup_count[1], max_workgroup_count[2]}},
        {"max_push_constants", max_push_constants},
        {"timestamp_period_ns", timestamp_period_ns},
        {"device_local_bytes", device_local_bytes},
        {"unified_memory", host_visible_device_local}}},
  };
}

std::string DeviceInfo::to_text() const {
  auto yn = [](bool b) { return b ? "yes" : "no"; };
  std::string cm = coopmat_nv || coopmat_khr ? "" : "no";
  if (coopmat_nv) cm += "VK_NV_cooperative_matrix";
  if (coopmat_khr) cm += std::string(cm.empty() ? "" : ", ") + "VK_KHR_cooperative_matrix";
  for (auto& c : coopmat_shapes)
    if (c.a_type == "f16")
      cm += fmt::format(" {}x{}x{}({}->{})", c.m, c.n, c.k, c.a_type, c.c_type);
  return fmt::format(
      "  [{}] {} ({}), Vulkan {}, driver {} {}\n"
      "      fp16 arithmetic {}, 16-bit storage {}, int8 {}, subgroup size {} ({}..{}), subgroup "
      "arithmetic {}\n"
      "      cooperative matrix: {}\n"
      "      max storage buffer range {} MiB, shared memory {} KiB, workgroup invocations {}, "
      "timestamps {}\n"
      "      device-local memory {:.1f} GiB{}\n",
      index, name, type_name(), api_version_string(), driver_name, driver_info, yn(shader_float16),
      yn(storage_16bit), yn(shader_int8), subgroup_size, min_subgroup_size, max_subgroup_size,
      yn(subgroup_arithmetic), cm, max_storage_buffer_range >> 20, max_shared_memory >> 10,
      max_workgroup_invocations, yn(timestamps), device_local_bytes / double(1ull << 30),
      host_visible_device_local ? " (unified with host)" : "");
}

}  // namespace vkcls
