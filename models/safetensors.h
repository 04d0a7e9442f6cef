// Memory-mapped safetensors: one model's weights, from model.safetensors or a
// sharded model.safetensors.index.json (or, failing those, PyTorch's pytorch_model.bin
// or its sharded index: see torch_checkpoint.h). Read-only views into the mapped files;
// typed copies (float for heads and norms, IEEE half bits for fp16 device weights).
//
// File format (https://github.com/huggingface/safetensors):
//   [u64 little-endian N][N bytes of JSON header][data section]
//   header: {"<name>": {"dtype": "F32", "shape": [a, b], "data_offsets": [begin, end]}, ...,
//            "__metadata__": {...}}   offsets are relative to the data section.
// Everything is validated when a file is opened; a malformed file gives a
// SafetensorsError naming the file and what is wrong, never a crash.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace vkcls {

enum class WeightDType { f32, f16, bf16, i64, i32, other };

struct WeightView {
  std::string name;
  WeightDType dtype;
  std::vector<int64_t> shape;   // row-major, outermost first
  const uint8_t* data;          // into the mapping; not aligned to anything in particular
  size_t bytes;
  std::string file;             // the file it lives in (for error messages)
  std::string dtype_name;       // as written in the header: "F32", "BF16", "I8", ...
  int64_t numel() const;
};

class SafetensorsError : public std::runtime_error {
  using runtime_error::runtime_error;
};

// A read-only mmap (PROT_READ, MAP_PRIVATE) of a whole file. Movable, not copyable.
class MappedFile {
 public:
  static MappedFile open(const std::string& path);  // throws SafetensorsError
  MappedFile() = default;
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

class WeightStore {
 public:
  // The first of these that exists, as transformers picks them: model.safetensors,
  // model.safetensors.index.json + shards, pytorch_model.bin, pytorch_model.bin.index.json
  // + shards; otherwise a clear error.
  static WeightStore open_dir(const std::string& model_dir);
  // One file: a PyTorch checkpoint when the name ends in .bin, .pt or .pth, safetensors when
  // it ends in .safetensors, otherwise whichever its first bytes say.
  static WeightStore open_file(const std::string& path);

  bool has(const std::string& name) const;
  // Throws naming the tensor and listing names that share its suffix.
  const WeightView& get(const std::string& name) const;
  // Also checks the shape (-1 in expected_shape matches any extent):
  // "tensor X has shape [a, b], expected [c, d]".
  const WeightView& get(const std::string& name, const std::vector<int64_t>& expected_shape) const;
  std::vector<std::string> names() const;  // sorted
  size_t size() const { return views_.size(); }

  // F32/F16/BF16 -> float; other dtypes throw.
  std::vector<float> to_f32(const std::string& name) const;
  // F32/F16/BF16 -> IEEE half bits, round to nearest even (bf16 goes via float:
  // exact, then one rounding). Values beyond half's range become +-inf.
  std::vector<uint16_t> to_f16(const std::string& name) const;

 private:
  void add_file(const std::string& path);  // maps, parses, adds views; duplicate names throw
  // <dir>/<index_name>: {"weight_map": {tensor: shard}}; adds every shard
  void add_index(const std::string& dir, const std::string& index_name);

  std::string source_;                       // dir or file, for messages
  std::vector<MappedFile> files_;            // mappings do not move when the vector grows
  std::vector<std::vector<uint8_t>> owned_;  // row-major copies of non-contiguous .bin tensors
  std::map<std::string, WeightView> views_;
};

// Parses one safetensors image (exposed for tests): validates and returns the
// views into `bytes`. `file` is only used in messages.
std::vector<WeightView> safetensors_parse(const uint8_t* bytes, size_t size, const std::string& file);

const char* weight_dtype_name(WeightDType d);

}  // namespace vkcls
