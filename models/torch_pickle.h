// A restricted unpickler for PyTorch checkpoints: it runs the pickle program in
// data.pkl (protocols 2 to 5, as torch.save writes them) far enough to rebuild
// a state dict of tensors, and nothing more.
//
// Python's pickle is a small stack machine whose GLOBAL / STACK_GLOBAL opcodes
// import any callable and whose REDUCE opcode calls it: loading an untrusted
// pickle with Python runs arbitrary code (`os.system`, `builtins.eval`, ...).
// Here nothing is imported and nothing is called: GLOBAL resolves its name
// against a fixed allow-list (kAllowedGlobals in torch_pickle.cpp) and any other
// name stops the load at once with TorchCheckpointError(Kind::forbidden_global)
// naming it; REDUCE on an allowed name runs this file's own re-implementation
// (an empty dict for OrderedDict(), a tensor record for _rebuild_tensor_v2).
// Opcodes a state dict never needs (INST, OBJ, NEWOBJ, EXT*, out-of-band
// buffers, the text protocol 0 forms) are refused too.
//
// The machine is iterative (no recursion however deep the nesting); objects
// live in one arena referenced by index (no cycles to leak); the stack, the
// memo and the arena have limits (PickleLimits); every read is bounds-checked.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "models/safetensors.h"
#include "models/torch_error.h"

namespace vkcls {

struct PickleLimits {
  size_t max_objects = size_t(1) << 21;     // arena entries (a 1000-tensor state dict needs ~30k)
  size_t max_items = size_t(1) << 24;       // tuple/list/dict slots over all containers
  size_t max_stack = size_t(1) << 20;       // stack depth, marks included
  size_t max_memo = size_t(1) << 21;        // memo entries
  size_t max_rank = 64;                     // tensor dimensions (torch's own limit)
  size_t max_tensors = size_t(1) << 20;     // names in one state dict (a large model has ~10^4)
  size_t max_total_dims = size_t(1) << 22;  // sum of (rank + 1) over those tensors
  // torch_unpickle_value's tree, a shared object counted each time it is reached
  size_t max_value_nodes = size_t(1) << 20;
};

// One storage named by a persistent id ('storage', <storage type>, key, location, numel).
struct PickledStorage {
  std::string key;        // zip: the entry <archive>/data/<key>; legacy: the storage's key
  std::string type_name;  // "torch.FloatStorage", "torch.storage.UntypedStorage", ...
  size_t element_size;    // bytes per element of the storage type (1 for untyped)
  uint64_t numel;         // elements of the storage type, as the pickle states
  uint64_t nbytes() const { return numel * element_size; }  // checked not to overflow when made
};

// One tensor of the state dict: a strided view of a storage, in elements of its dtype.
struct PickledTensor {
  std::string name;
  size_t storage;  // index into PickledStateDict::storages
  WeightDType dtype;
  std::string dtype_name;  // safetensors spelling: "F32", "BF16", "I64", "U8", ...
  size_t element_size;
  uint64_t storage_offset;       // elements
  std::vector<int64_t> sizes;    // outermost first
  std::vector<int64_t> strides;  // elements; validated: the view lies inside the storage
  bool contiguous() const;       // row-major dense (strides of size-1 dimensions do not matter)
};

struct PickledStateDict {
  std::vector<PickledStorage> storages;  // one per distinct key
  std::vector<PickledTensor> tensors;    // in pickle order; names unique
};

// A plain value read back from a pickle that is not a state dict (the legacy
// format's magic number, protocol version, sys_info and key list).
struct PickleValue {
  enum class Kind {
    none,
    boolean,
    integer,
    big_integer,
    floating,
    string,
    bytes,
    tuple,
    list,
    dict,
    other
  };
  Kind kind = Kind::none;
  int64_t integer = 0;             // boolean, integer
  std::string text;                // string, bytes; big_integer: little-endian two's complement
  std::vector<PickleValue> items;  // tuple, list; dict: key, value, key, value, ...
};

// Runs one pickle program from `bytes` up to and including its STOP opcode and
// returns the state dict it builds: a dict (or OrderedDict) from tensor name to
// tensor. Other values in the dict (e.g. an integer) are skipped; a state dict
// with no tensor at all is an error. `*consumed` (when given) receives the bytes read.
// `where` names the file in messages.
PickledStateDict torch_unpickle_state_dict(const uint8_t* bytes, size_t size,
                                           const std::string& where, size_t* consumed = nullptr,
                                           const PickleLimits& limits = {});

// The same machine for a pickle of plain data (no persistent ids, no globals
// except those on the allow-list), converted to a PickleValue tree of depth at
// most `max_depth` (deeper parts become Kind::other) and at most
// limits.max_value_nodes nodes.
PickleValue torch_unpickle_value(const uint8_t* bytes, size_t size, const std::string& where,
                                 size_t* consumed = nullptr, const PickleLimits& limits = {},
                                 int max_depth = 8);

// The allow-listed globals as "module.name", for messages and documentation.
std::vector<std::string> torch_pickle_allowed_globals();

}  // namespace vkcls
