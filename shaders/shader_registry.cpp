#include "shaders/shader_registry.h"

namespace vkcls {

const ShaderBlob* shader_find(std::string_view name) {
  for (const ShaderBlob& b : shader_all())
    if (name == b.name) return &b;
  return nullptr;
}

}  // namespace vkcls
