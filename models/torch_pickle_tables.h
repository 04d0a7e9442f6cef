// The restricted unpickler's tables (internal to models/torch_pickle*.cpp): the allow-list of
// globals, each with its role, and the pickle opcode names for messages. Kept apart from the
// machine so the allow-list can be audited on its own.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "models/safetensors.h"

namespace vkcls::torch_pickle {

// What an allowed global is for. Only the `rebuild_*` and `ordered_dict` roles
// may be called by REDUCE; storage types and dtypes are markers read as data.
enum class Role {
  ordered_dict,
  rebuild_tensor,
  rebuild_tensor_v2,
  rebuild_tensor_v3,
  rebuild_parameter,
  storage_type,
  dtype
};

struct AllowedGlobal {
  const char* module;
  const char* name;
  Role role;
  const char* dtype_name = "";  // storage types and dtypes: safetensors spelling
  WeightDType dtype = WeightDType::other;
  size_t element_size = 0;
};

// The allow-list entry for module.name, or null.
const AllowedGlobal* find_allowed_global(const std::string& module, const std::string& name);
const AllowedGlobal& allowed_global(size_t index);
size_t allowed_global_index(const AllowedGlobal& g);

// PyTorch's own names that are not on the list (complex / quantized storages, other rebuilds):
// refused as unsupported rather than as unsafe.
bool is_known_unsupported_global(const std::string& module, const std::string& name);

// "BINUNICODE" for 'X'; null for a byte that is no opcode.
const char* opcode_name(uint8_t op);

}  // namespace vkcls::torch_pickle
