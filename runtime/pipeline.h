// Compute pipelines from embedded SPIR-V. A pipeline is named by its shader
// variant and its specialization constants (constant_id i = spec[i]); it is
// created once and kept. The VkPipelineCache behind them is saved on disk,
// keyed by device UUID and driver version, so a second run skips compilation.
#pragma once
#include <vulkan/vulkan.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace vkcls {

class Context;

struct PipelineDesc {
  std::string shader;          // variant name from shaders/shaders.cmake
  uint32_t num_bindings = 0;   // storage buffers at bindings 0..n-1 of set 0
  uint32_t push_bytes = 0;     // size of the push-constant struct
  std::vector<uint32_t> spec;  // specialization constants, constant_id = position
  uint32_t texel_bindings =
      0;  // bit i: binding i is a uniform texel buffer (else a storage buffer)
};

struct Pipeline {
  std::string name;  // shader + spec, for profiles and errors
  VkPipeline pipeline = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  uint32_t num_bindings = 0;
  uint32_t push_bytes = 0;
  uint32_t texel_bindings = 0;  // as in PipelineDesc
};

class PipelineCache {
 public:
  PipelineCache(Context& ctx, bool on_disk);
  ~PipelineCache();  // saves the cache file
  const Pipeline& get(const PipelineDesc& desc);
  std::string disk_path() const { return path_; }
  size_t size() const;

 private:
  Context& ctx_;
  std::string path_;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Pipeline>> pipelines_;
};

}  // namespace vkcls
