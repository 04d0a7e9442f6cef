// The allow-list and the opcode names of the restricted unpickler (see torch_pickle.h).
#include "models/torch_pickle_tables.h"

#include <utility>
#include <vector>

#include "models/torch_pickle.h"

namespace vkcls::torch_pickle {

// Why each is here:
//   collections.OrderedDict                 state_dict() is an OrderedDict: OrderedDict() then
//   SETITEMS torch._utils._rebuild_tensor_v2         every tensor torch.save writes (PyTorch
//   >= 1.0) torch._utils._rebuild_tensor            the same in files from PyTorch 0.4
//   torch._utils._rebuild_tensor_v3         tensors of dtypes newer than the typed storages
//   (float8, uint16, ...) torch._utils._rebuild_parameter(_with_state)   nn.Parameter objects saved
//   directly (older checkpoints) torch.<T>Storage, torch.cuda.<T>Storage the storage type in each
//   persistent id: gives the dtype torch.storage.UntypedStorage            the storage type used
//   with _rebuild_tensor_v3 torch.<dtype>                           the dtype argument of
//   _rebuild_tensor_v3
constexpr AllowedGlobal kAllowedGlobals[] = {
    {"collections", "OrderedDict", Role::ordered_dict},
    {"torch._utils", "_rebuild_tensor", Role::rebuild_tensor},
    {"torch._utils", "_rebuild_tensor_v2", Role::rebuild_tensor_v2},
    {"torch._utils", "_rebuild_tensor_v3", Role::rebuild_tensor_v3},
    {"torch._utils", "_rebuild_parameter", Role::rebuild_parameter},
    {"torch._utils", "_rebuild_parameter_with_state", Role::rebuild_parameter},
    {"torch", "FloatStorage", Role::storage_type, "F32", WeightDType::f32, 4},
    {"torch", "HalfStorage", Role::storage_type, "F16", WeightDType::f16, 2},
    {"torch", "BFloat16Storage", Role::storage_type, "BF16", WeightDType::bf16, 2},
    {"torch", "LongStorage", Role::storage_type, "I64", WeightDType::i64, 8},
    {"torch", "IntStorage", Role::storage_type, "I32", WeightDType::i32, 4},
    {"torch", "DoubleStorage", Role::storage_type, "F64", WeightDType::other, 8},
    {"torch", "ShortStorage", Role::storage_type, "I16", WeightDType::other, 2},
    {"torch", "CharStorage", Role::storage_type, "I8", WeightDType::other, 1},
    {"torch", "ByteStorage", Role::storage_type, "U8", WeightDType::other, 1},
    {"torch", "BoolStorage", Role::storage_type, "BOOL", WeightDType::other, 1},
    {"torch.cuda", "FloatStorage", Role::storage_type, "F32", WeightDType::f32, 4},
    {"torch.cuda", "HalfStorage", Role::storage_type, "F16", WeightDType::f16, 2},
    {"torch.cuda", "BFloat16Storage", Role::storage_type, "BF16", WeightDType::bf16, 2},
    {"torch.cuda", "LongStorage", Role::storage_type, "I64", WeightDType::i64, 8},
    {"torch.cuda", "IntStorage", Role::storage_type, "I32", WeightDType::i32, 4},
    {"torch.cuda", "DoubleStorage", Role::storage_type, "F64", WeightDType::other, 8},
    {"torch.cuda", "ShortStorage", Role::storage_type, "I16", WeightDType::other, 2},
    {"torch.cuda", "CharStorage", Role::storage_type, "I8", WeightDType::other, 1},
    {"torch.cuda", "ByteStorage", Role::storage_type, "U8", WeightDType::other, 1},
    {"torch.cuda", "BoolStorage", Role::storage_type, "BOOL", WeightDType::other, 1},
    {"torch.storage", "UntypedStorage", Role::storage_type, "", WeightDType::other, 1},
    {"torch", "float32", Role::dtype, "F32", WeightDType::f32, 4},
    {"torch", "float16", Role::dtype, "F16", WeightDType::f16, 2},
    {"torch", "bfloat16", Role::dtype, "BF16", WeightDType::bf16, 2},
    {"torch", "int64", Role::dtype, "I64", WeightDType::i64, 8},
    {"torch", "int32", Role::dtype, "I32", WeightDType::i32, 4},
    {"torch", "float64", Role::dtype, "F64", WeightDType::other, 8},
    {"torch", "int16", Role::dtype, "I16", WeightDType::other, 2},
    {"torch", "int8", Role::dtype, "I8", WeightDType::other, 1},
    {"torch", "uint8", Role::dtype, "U8", WeightDType::other, 1},
    {"torch", "bool", Role::dtype, "BOOL", WeightDType::other, 1},
    {"torch", "uint16", Role::dtype, "U16", WeightDType::other, 2},
    {"torch", "uint32", Role::dtype, "U32", WeightDType::other, 4},
    {"torch", "uint64", Role::dtype, "U64", WeightDType::other, 8},
    {"torch", "float8_e4m3fn", Role::dtype, "F8_E4M3", WeightDType::other, 1},
    {"torch", "float8_e5m2", Role::dtype, "F8_E5M2", WeightDType::other, 1},
    {"torch", "float8_e8m0fnu", Role::dtype, "F8_E8M0", WeightDType::other, 1},
};

const AllowedGlobal& allowed_global(size_t index) {
  return kAllowedGlobals[index];
}
size_t allowed_global_index(const AllowedGlobal& g) {
  return size_t(&g - kAllowedGlobals);
}

const AllowedGlobal* find_allowed_global(const std::string& module, const std::string& name) {
  for (const auto& g : kAllowedGlobals)
    if (module == g.module && name == g.name) return &g;
  return nullptr;
}

// Globals that are PyTorch's own but outside what we rebuild (complex and quantized storages,
// sparse / quantized / subclass rebuilds): refused as unsupported rather than as unsafe.
// Either way nothing is imported or called; only the message differs.
bool is_known_unsupported_global(const std::string& module, const std::string& name) {
  bool storage = (module == "torch" || module == "torch.cuda") && name.ends_with("Storage");
  bool rebuild =
      (module == "torch._utils" || module == "torch._tensor") && name.starts_with("_rebuild_");
  bool dtype = module == "torch" && (name.starts_with("complex") || name.starts_with("qint") ||
                                     name.starts_with("quint") || name.starts_with("float8_"));
  return storage || rebuild || dtype;
}

// Every opcode of protocols 0 to 5 by name (pickletools), for messages; unknown bytes have none.
// clang-format off
constexpr std::pair<uint8_t, const char*> kOpcodeNames[] = {
    {'(', "MARK"}, {'.', "STOP"}, {'0', "POP"}, {'1', "POP_MARK"}, {'2', "DUP"}, {'F', "FLOAT"},
    {'I', "INT"}, {'J', "BININT"}, {'K', "BININT1"}, {'L', "LONG"}, {'M', "BININT2"},
    {'N', "NONE"}, {'P', "PERSID"}, {'Q', "BINPERSID"}, {'R', "REDUCE"}, {'S', "STRING"},
    {'T', "BINSTRING"}, {'U', "SHORT_BINSTRING"}, {'V', "UNICODE"}, {'X', "BINUNICODE"},
    {'a', "APPEND"}, {'b', "BUILD"}, {'c', "GLOBAL"}, {'d', "DICT"}, {'}', "EMPTY_DICT"},
    {'e', "APPENDS"}, {'g', "GET"}, {'h', "BINGET"}, {'i', "INST"}, {'j', "LONG_BINGET"},
    {'l', "LIST"}, {']', "EMPTY_LIST"}, {'o', "OBJ"}, {'p', "PUT"}, {'q', "BINPUT"},
    {'r', "LONG_BINPUT"}, {'s', "SETITEM"}, {'t', "TUPLE"}, {')', "EMPTY_TUPLE"},
    {'u', "SETITEMS"}, {'G', "BINFLOAT"}, {0x80, "PROTO"}, {0x81, "NEWOBJ"}, {0x82, "EXT1"},
    {0x83, "EXT2"}, {0x84, "EXT4"}, {0x85, "TUPLE1"}, {0x86, "TUPLE2"}, {0x87, "TUPLE3"},
    {0x88, "NEWTRUE"}, {0x89, "NEWFALSE"}, {0x8a, "LONG1"}, {0x8b, "LONG4"}, {'B', "BINBYTES"},
    {'C', "SHORT_BINBYTES"}, {0x8c, "SHORT_BINUNICODE"}, {0x8d, "BINUNICODE8"},
    {0x8e, "BINBYTES8"}, {0x8f, "EMPTY_SET"}, {0x90, "ADDITEMS"}, {0x91, "FROZENSET"},
    {0x92, "NEWOBJ_EX"}, {0x93, "STACK_GLOBAL"}, {0x94, "MEMOIZE"}, {0x95, "FRAME"},
    {0x96, "BYTEARRAY8"}, {0x97, "NEXT_BUFFER"}, {0x98, "READONLY_BUFFER"},
};
// clang-format on

const char* opcode_name(uint8_t op) {
  for (const auto& [code, name] : kOpcodeNames)
    if (code == op) return name;
  return nullptr;
}

}  // namespace vkcls::torch_pickle

namespace vkcls {

std::vector<std::string> torch_pickle_allowed_globals() {
  std::vector<std::string> out;
  for (const auto& g : torch_pickle::kAllowedGlobals)
    out.push_back(std::string(g.module) + "." + g.name);
  return out;
}

}  // namespace vkcls
