#include "runtime/pipeline.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "runtime/context.h"
#include "runtime/vk_check.h"
#include "shaders/shader_registry.h"

namespace vkcls {

namespace fs = std::filesystem;

static std::string cache_dir() {
  if (const char* d = std::getenv("VKCLS_CACHE_DIR"); d && *d) return d;
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return std::string(d) + "/vkcls";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/vkcls";
  return "";
}

PipelineCache::PipelineCache(Context& ctx, bool on_disk) : ctx_(ctx) {
  std::vector<char> data;
  if (on_disk) {
    std::string dir = cache_dir();
    if (!dir.empty())
      path_ = fmt::format("{}/pipelines-{}-{:x}.bin", dir, ctx.info().uuid_hex(),
                          ctx.info().driver_version);
    std::ifstream f(path_, std::ios::binary);
    if (f) data.assign(std::istreambuf_iterator<char>(f), {});
  }
  VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  ci.initialDataSize = data.size();
  ci.pInitialData = data.empty() ? nullptr : data.data();
  // A stale or corrupt file (other driver build) is rejected by the driver: start empty then.
  if (vkCreatePipelineCache(ctx.device(), &ci, nullptr, &cache_) != VK_SUCCESS) {
    ci.initialDataSize = 0;
    ci.pInitialData = nullptr;
    VK_CHECK(vkCreatePipelineCache(ctx.device(), &ci, nullptr, &cache_));
  }
}

PipelineCache::~PipelineCache() {
  VkDevice dev = ctx_.device();
  if (!path_.empty() && !pipelines_.empty()) {
    size_t n = 0;
    if (vkGetPipelineCacheData(dev, cache_, &n, nullptr) == VK_SUCCESS && n > 0) {
      std::vector<char> data(n);
      if (vkGetPipelineCacheData(dev, cache_, &n, data.data()) == VK_SUCCESS) {
        std::error_code ec;
        fs::create_directories(fs::path(path_).parent_path(), ec);
        std::string tmp = path_ + fmt::format(".{}.tmp", ::getpid());
        std::ofstream f(tmp, std::ios::binary);
        f.write(data.data(), std::streamsize(n));
        f.close();
        if (f)
          fs::rename(tmp, path_, ec);  // atomic: concurrent processes never see half a file
        else
          fs::remove(tmp, ec);
      }
    }
  }
  for (auto& [_, p] : pipelines_) {
    vkDestroyPipeline(dev, p->pipeline, nullptr);
    vkDestroyPipelineLayout(dev, p->layout, nullptr);
    vkDestroyDescriptorSetLayout(dev, p->set_layout, nullptr);
  }
  vkDestroyPipelineCache(dev, cache_, nullptr);
}

size_t PipelineCache::size() const {
  std::lock_guard lock(mutex_);
  return pipelines_.size();
}

const Pipeline& PipelineCache::get(const PipelineDesc& desc) {
  std::string key = desc.shader;
  for (uint32_t s : desc.spec) key += fmt::format(":{}", s);
  if (desc.texel_bindings) key += fmt::format("/t{:x}", desc.texel_bindings);
  std::lock_guard lock(mutex_);
  if (auto it = pipelines_.find(key); it != pipelines_.end()) return *it->second;

  const ShaderBlob* blob = shader_find(desc.shader);
  if (!blob) throw std::invalid_argument(fmt::format("no embedded shader named '{}'", desc.shader));
  if (desc.push_bytes > ctx_.info().max_push_constants)
    throw std::invalid_argument(
        fmt::format("shader {}: {} bytes of push constants, device allows {}", desc.shader,
                    desc.push_bytes, ctx_.info().max_push_constants));
  VkDevice dev = ctx_.device();
  auto p = std::make_unique<Pipeline>();
  p->name = key;
  p->num_bindings = desc.num_bindings;
  p->push_bytes = desc.push_bytes;
  p->texel_bindings = desc.texel_bindings;

  std::vector<VkDescriptorSetLayoutBinding> bindings(desc.num_bindings);
  for (uint32_t i = 0; i < desc.num_bindings; ++i)
    bindings[i] = {i,
                   (desc.texel_bindings >> i) & 1 ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                                                  : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                   1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  VkDescriptorSetLayoutCreateInfo dci{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  dci.bindingCount = desc.num_bindings;
  dci.pBindings = bindings.data();
  VK_CHECK(vkCreateDescriptorSetLayout(dev, &dci, nullptr, &p->set_layout));

  VkPushConstantRange pcr{VK_SHADER_STAGE_COMPUTE_BIT, 0, desc.push_bytes};
  VkPipelineLayoutCreateInfo lci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  lci.setLayoutCount = 1;
  lci.pSetLayouts = &p->set_layout;
  lci.pushConstantRangeCount = desc.push_bytes ? 1 : 0;
  lci.pPushConstantRanges = &pcr;
  VK_CHECK(vkCreatePipelineLayout(dev, &lci, nullptr, &p->layout));

  VkShaderModuleCreateInfo sci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  sci.codeSize = blob->num_words * 4;
  sci.pCode = blob->words;
  VkShaderModule module;
  VK_CHECK(vkCreateShaderModule(dev, &sci, nullptr, &module));

  std::vector<VkSpecializationMapEntry> entries(desc.spec.size());
  for (uint32_t i = 0; i < desc.spec.size(); ++i) entries[i] = {i, i * 4, 4};
  VkSpecializationInfo spec{uint32_t(entries.size()), entries.data(), desc.spec.size() * 4,
                            desc.spec.data()};

  VkComputePipelineCreateInfo pci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  pci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  pci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  pci.stage.module = module;
  pci.stage.pName = "main";
  pci.stage.pSpecializationInfo = desc.spec.empty() ? nullptr : &spec;
  pci.layout = p->layout;
  VkResult r = vkCreateComputePipelines(dev, cache_, 1, &pci, nullptr, &p->pipeline);
  vkDestroyShaderModule(dev, module, nullptr);
  if (r != VK_SUCCESS) {
    vkDestroyPipelineLayout(dev, p->layout, nullptr);
    vkDestroyDescriptorSetLayout(dev, p->set_layout, nullptr);
    vk_fail(r, fmt::format("vkCreateComputePipelines({})", key).c_str(), __FILE__, __LINE__);
  }
  return *pipelines_.emplace(key, std::move(p)).first->second;
}

}  // namespace vkcls
