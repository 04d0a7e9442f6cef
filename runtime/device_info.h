// What a physical device can do, probed once: the facts the runtime and the
// ops choose kernels by (fp16, subgroups, cooperative matrices, limits).
#pragma once
#include <vulkan/vulkan.h>

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace vkcls {

struct CoopMatShape {
  uint32_t m, n, k;
  std::string a_type, b_type, c_type;  // "f16", "f32", ...
};

struct DeviceInfo {
  uint32_t index = 0;
  std::string name;
  VkPhysicalDeviceType type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
  uint32_t vendor_id = 0, device_id = 0;
  uint32_t api_version = 0, driver_version = 0;
  std::string driver_name, driver_info;
  uint8_t uuid[VK_UUID_SIZE] = {};

  // arithmetic and storage
  bool shader_float16 = false;  // fp16 arithmetic in shaders
  bool shader_int8 = false;
  bool storage_16bit = false;  // 16-bit values in storage buffers
  bool storage_8bit = false;
  // subgroups
  uint32_t subgroup_size = 0, min_subgroup_size = 0, max_subgroup_size = 0;
  bool subgroup_arithmetic = false, subgroup_shuffle = false, subgroup_size_control = false;
  bool subgroup_ballot = false;  // subgroupBroadcast (the CPU-driver kernels use it)
  // uniform texel buffers of vec4 (f32 / f16) or scalar f32 texels, which the CPU-driver kernels
  // read through
  bool texel_buffer_f32x4 = false, texel_buffer_f16x4 = false, texel_buffer_f32 = false;
  uint32_t max_texel_buffer_elements = 0;
  // cooperative matrices: the NV extension is the one Debian 12's glslang can target
  bool coopmat_khr = false, coopmat_nv = false;
  std::vector<CoopMatShape> coopmat_shapes;
  // limits
  uint64_t max_storage_buffer_range = 0;
  uint64_t min_storage_buffer_offset_alignment = 0;
  uint32_t max_shared_memory = 0;
  uint32_t max_workgroup_invocations = 0;
  uint32_t max_workgroup_count[3] = {};
  uint32_t max_push_constants = 0;
  bool timestamps = false;
  float timestamp_period_ns = 0;
  uint64_t device_local_bytes = 0;
  bool host_visible_device_local = false;  // unified memory (CPU drivers, integrated GPUs)
  bool push_descriptor = false;

  std::string type_name() const;
  std::string api_version_string() const;
  std::string uuid_hex() const;
  nlohmann::json to_json() const;
  std::string to_text() const;
};

DeviceInfo device_probe(VkInstance instance, VkPhysicalDevice pd, uint32_t index);

}  // namespace vkcls
