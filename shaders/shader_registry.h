// Embedded SPIR-V, by name. Names are the variants listed in shaders/shaders.cmake.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace vkcls {

struct ShaderBlob {
  const char* name;
  const uint32_t* words;
  size_t num_words;
};

std::span<const ShaderBlob> shader_all();
// nullptr when no shader has that name.
const ShaderBlob* shader_find(std::string_view name);

}  // namespace vkcls
