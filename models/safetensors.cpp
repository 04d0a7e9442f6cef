// safetensors: mmap, validate, view; sharded index; dtype conversion.
#include "models/safetensors.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/json_bounded.h"
#include "models/torch_checkpoint.h"
#include "runtime/half.h"

namespace vkcls {
namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------------------
// dtypes
// ---------------------------------------------------------------------------

namespace {

struct DTypeInfo {
  const char* name;
  WeightDType dtype;
  size_t size;  // bytes per element
};

// Every dtype the safetensors spec defines; an unknown name is an error.
constexpr DTypeInfo kDTypes[] = {
    {"F32", WeightDType::f32, 4},       {"F16", WeightDType::f16, 2},
    {"BF16", WeightDType::bf16, 2},     {"I64", WeightDType::i64, 8},
    {"I32", WeightDType::i32, 4},       {"F64", WeightDType::other, 8},
    {"I16", WeightDType::other, 2},     {"I8", WeightDType::other, 1},
    {"U64", WeightDType::other, 8},     {"U32", WeightDType::other, 4},
    {"U16", WeightDType::other, 2},     {"U8", WeightDType::other, 1},
    {"BOOL", WeightDType::other, 1},    {"F8_E4M3", WeightDType::other, 1},
    {"F8_E5M2", WeightDType::other, 1}, {"F8_E8M0", WeightDType::other, 1},
};

const DTypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : kDTypes)
    if (name == d.name) return &d;
  return nullptr;
}

std::string shape_str(const std::vector<int64_t>& s) {
  return fmt::format("[{}]", fmt::join(s, ", "));
}

}  // namespace

const char* weight_dtype_name(WeightDType d) {
  switch (d) {
    case WeightDType::f32:
      return "F32";
    case WeightDType::f16:
      return "F16";
    case WeightDType::bf16:
      return "BF16";
    case WeightDType::i64:
      return "I64";
    case WeightDType::i32:
      return "I32";
    case WeightDType::other:
      return "other";
  }
  return "?";
}

int64_t WeightView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validated at parse time not to overflow
  return n;
}

// ---------------------------------------------------------------------------
// MappedFile
// ---------------------------------------------------------------------------

MappedFile MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw SafetensorsError(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw SafetensorsError(fmt::format("{} is not a regular file", path));
  }
  MappedFile m;
  m.path_ = path;
  m.size_ = size_t(st.st_size);
  if (m.size_ > 0) {  // mmap of length 0 fails; an empty file is reported by the parser
    void* p = mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw SafetensorsError(
          fmt::format("cannot mmap {} ({} bytes): {}", path, m.size_, std::strerror(err)));
    }
    m.data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps the file alive
  return m;
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      path_(std::move(o.path_)) {}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    if (data_) munmap(const_cast<uint8_t*>(data_), size_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    path_ = std::move(o.path_);
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_) munmap(const_cast<uint8_t*>(data_), size_);
}

// ---------------------------------------------------------------------------
// Parsing one file
// ---------------------------------------------------------------------------

std::vector<WeightView> safetensors_parse(const uint8_t* bytes, size_t size,
                                          const std::string& file) {
  auto fail = [&](const std::string& what) -> SafetensorsError {
    return SafetensorsError(fmt::format("invalid safetensors file {}: {}", file, what));
  };

  // [u64 N][N bytes JSON][data]
  if (size < 8)
    throw fail(fmt::format("file is {} bytes, too short for the 8-byte header length", size));
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = n << 8 | bytes[i];
  if (n > size - 8)
    throw fail(
        fmt::format("header length {} exceeds the {} bytes after the length field", n, size - 8));
  if (n < 2) throw fail(fmt::format("header length {} is too small for a JSON object", n));
  const char* hbeg = reinterpret_cast<const char*>(bytes + 8);
  json header;
  try {
    header = json_parse_bounded<json>(std::string_view(hbeg, n), kJsonConfigLimits);
  } catch (const JsonParseError& e) {
    throw fail(fmt::format("header is not valid JSON ({})", e.what()));
  }
  if (!header.is_object()) throw fail("header is not a JSON object");

  const uint8_t* data = bytes + 8 + n;
  const uint64_t data_size = size - 8 - n;

  std::vector<WeightView> views;
  std::vector<std::pair<uint64_t, uint64_t>>
      ranges;  // [begin, end) per view, for the overlap check
  for (const auto& item : header.items()) {
    // Not a structured binding: clang < 16 cannot capture one in the lambda below (fuzz builds).
    const std::string& name = item.key();
    const json& t = item.value();
    if (name == "__metadata__") continue;  // free-form string map; not needed
    auto bad = [&](const std::string& what) {
      return fail(fmt::format("tensor '{}': {}", name, what));
    };
    if (!t.is_object()) throw bad("entry is not an object");

    auto dt = t.find("dtype");
    if (dt == t.end() || !dt->is_string()) throw bad("missing or non-string \"dtype\"");
    const DTypeInfo* info = find_dtype(dt->get<std::string>());
    if (!info) throw bad(fmt::format("unknown dtype \"{}\"", dt->get<std::string>()));

    auto sh = t.find("shape");
    if (sh == t.end() || !sh->is_array()) throw bad("missing or non-array \"shape\"");
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned())
        throw bad(fmt::format("shape entry {} is not a non-negative integer", d.dump()));
      uint64_t v = d.get<uint64_t>();
      if (v > uint64_t(INT64_MAX) || __builtin_mul_overflow(numel, v, &numel))
        throw bad(fmt::format("shape {} overflows", sh->dump()));
      shape.push_back(int64_t(v));
    }
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(numel, uint64_t(info->size), &nbytes) || numel > uint64_t(INT64_MAX))
      throw bad(fmt::format("shape {} overflows", sh->dump()));

    auto off = t.find("data_offsets");
    if (off == t.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      throw bad("\"data_offsets\" must be [begin, end] with non-negative integers");
    uint64_t b = (*off)[0].get<uint64_t>(), e = (*off)[1].get<uint64_t>();
    if (b > e) throw bad(fmt::format("data_offsets [{}, {}] has begin after end", b, e));
    if (e > data_size)
      throw bad(fmt::format("data_offsets [{}, {}] run past the end of the data section ({} bytes)",
                            b, e, data_size));
    if (e - b != nbytes)
      throw bad(fmt::format("data_offsets [{}, {}] hold {} bytes, but dtype {} x shape {} needs {}",
                            b, e, e - b, info->name, shape_str(shape), nbytes));

    views.push_back(WeightView{name, info->dtype, std::move(shape), data + b, size_t(nbytes), file,
                               info->name});
    ranges.push_back({b, e});
  }

  // No two tensors may share bytes (empty tensors occupy nothing).
  std::vector<size_t> order(views.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ranges[a] < ranges[b]; });
  uint64_t reach = 0;  // furthest end of any non-empty tensor so far, and which one
  size_t reach_by = 0;
  for (size_t i : order) {
    auto [b, e] = ranges[i];
    if (b == e) continue;
    if (b < reach)
      throw fail(fmt::format("tensors '{}' [{}, {}] and '{}' [{}, {}] overlap",
                             views[reach_by].name, ranges[reach_by].first, ranges[reach_by].second,
                             views[i].name, b, e));
    reach = e;
    reach_by = i;
  }
  return views;
}

// ---------------------------------------------------------------------------
// WeightStore
// ---------------------------------------------------------------------------

void WeightStore::add_file(const std::string& path) {
  files_.push_back(MappedFile::open(path));
  const MappedFile& m = files_.back();
  std::vector<WeightView> views;
  // By name (.bin / .pt / .pth: PyTorch), else by content.
  bool torch_name = path.ends_with(".bin") || path.ends_with(".pt") || path.ends_with(".pth");
  if (torch_name ||
      (!path.ends_with(".safetensors") && torch_checkpoint_signature(m.data(), m.size()))) {
    TorchCheckpoint ckpt = torch_checkpoint_parse(m.data(), m.size(), path);
    views = std::move(ckpt.views);
    for (auto& buffer : ckpt.owned)
      owned_.push_back(std::move(buffer));  // moving keeps the views' pointers valid
  } else {
    views = safetensors_parse(m.data(), m.size(), path);
  }
  for (auto& v : views) {
    auto it = views_.find(v.name);
    if (it != views_.end())
      throw SafetensorsError(
          fmt::format("tensor '{}' appears in both {} and {}", v.name, it->second.file, path));
    views_.emplace(v.name, std::move(v));
  }
}

WeightStore WeightStore::open_file(const std::string& path) {
  WeightStore s;
  s.source_ = path;
  s.add_file(path);
  return s;
}

// Sharded weights: {"metadata": {...}, "weight_map": {"<tensor>":
// "model-00001-of-00002.safetensors", ...}} (pytorch_model.bin.index.json has the same shape,
// naming .bin shards).
void WeightStore::add_index(const std::string& model_dir, const std::string& index_name) {
  fs::path dir(model_dir), index_path = dir / index_name;
  std::error_code ec;
  json index;
  try {
    std::ifstream f(index_path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    index = json_parse_bounded<json>(text, kJsonConfigLimits);
  } catch (const JsonParseError& e) {
    throw SafetensorsError(fmt::format("{} is not valid JSON ({})", index_path.string(), e.what()));
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    throw SafetensorsError(fmt::format("{} has no \"weight_map\" object", index_path.string()));
  std::vector<std::string> shards;  // in first-seen order
  for (const auto& [tensor, shard] : index["weight_map"].items()) {
    if (!shard.is_string())
      throw SafetensorsError(
          fmt::format("{}: weight_map entry '{}' is not a file name", index_path.string(), tensor));
    std::string name = shard.get<std::string>();
    fs::path p(name);
    if (name.empty() || p.is_absolute() || p.has_parent_path() || name == "." || name == "..")
      throw SafetensorsError(
          fmt::format("{}: shard name \"{}\" must be a plain file name in the same directory",
                      index_path.string(), name));
    if (std::find(shards.begin(), shards.end(), name) == shards.end()) shards.push_back(name);
  }
  for (const auto& shard : shards) {
    fs::path p = dir / shard;
    if (!fs::exists(p, ec))
      throw SafetensorsError(
          fmt::format("{} names shard {}, which is missing", index_path.string(), p.string()));
    add_file(p.string());
  }
  for (const auto& [tensor, shard] : index["weight_map"].items()) {
    auto it = views_.find(tensor);
    std::string want = (dir / shard.get<std::string>()).string();
    if (it == views_.end() || it->second.file != want)
      throw SafetensorsError(
          fmt::format("{} places tensor '{}' in {}, but that shard does not hold it",
                      index_path.string(), tensor, want));
  }
}

WeightStore WeightStore::open_dir(const std::string& model_dir) {
  fs::path dir(model_dir);
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw SafetensorsError(fmt::format("model directory {} does not exist", model_dir));

  WeightStore s;
  s.source_ = model_dir;
  // Same preference as transformers: safetensors before PyTorch pickles, the single file before the
  // index.
  if (fs::exists(dir / "model.safetensors", ec)) {
    s.add_file((dir / "model.safetensors").string());
  } else if (fs::exists(dir / "model.safetensors.index.json", ec)) {
    s.add_index(model_dir, "model.safetensors.index.json");
  } else if (fs::exists(dir / "pytorch_model.bin", ec)) {
    s.add_file((dir / "pytorch_model.bin").string());
  } else if (fs::exists(dir / "pytorch_model.bin.index.json", ec)) {
    s.add_index(model_dir, "pytorch_model.bin.index.json");
  } else {
    throw SafetensorsError(
        fmt::format("{} has no weights: none of model.safetensors, model.safetensors.index.json, "
                    "pytorch_model.bin, "
                    "pytorch_model.bin.index.json",
                    model_dir));
  }
  return s;
}

bool WeightStore::has(const std::string& name) const {
  return views_.count(name) != 0;
}

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> out;
  out.reserve(views_.size());
  for (const auto& [n, v] : views_) out.push_back(n);
  return out;
}

const WeightView& WeightStore::get(const std::string& name) const {
  auto it = views_.find(name);
  if (it != views_.end()) return it->second;

  // Suggest names that share the longest dotted suffix with the request, e.g.
  // "bert.encoder.layer.0.output.dense.weight" -> "encoder.layer.0.output.dense.weight".
  std::vector<std::string> parts;
  for (size_t b = 0, e; b <= name.size(); b = e + 1) {
    e = name.find('.', b);
    if (e == std::string::npos) e = name.size();
    parts.push_back(name.substr(b, e - b));
  }
  std::vector<std::string> similar;
  for (size_t k = parts.size();
       k-- > 1 && similar.empty();) {  // suffix of k components, longest first
    std::string suffix;
    for (size_t i = parts.size() - k; i < parts.size(); i++)
      suffix += (suffix.empty() ? "" : ".") + parts[i];
    for (const auto& [n, v] : views_) {
      bool match =
          n == suffix || (n.size() > suffix.size() &&
                          n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0 &&
                          n[n.size() - suffix.size() - 1] == '.');
      if (match) similar.push_back(n);
    }
  }
  std::string msg =
      fmt::format("tensor '{}' not found in {} ({} tensors)", name, source_, views_.size());
  if (!similar.empty()) {
    if (similar.size() > 8) similar.resize(8);
    msg += fmt::format("; similar names: {}", fmt::join(similar, ", "));
  }
  throw SafetensorsError(msg);
}

const WeightView& WeightStore::get(const std::string& name,
                                   const std::vector<int64_t>& expected) const {
  const WeightView& v = get(name);
  bool ok = v.shape.size() == expected.size();
  for (size_t i = 0; ok && i < expected.size(); i++)
    ok = expected[i] < 0 || expected[i] == v.shape[i];
  if (!ok)
    throw SafetensorsError(fmt::format("tensor {} has shape {}, expected {} (in {})", name,
                                       shape_str(v.shape), shape_str(expected), v.file));
  return v;
}

namespace {

template <typename T>
T load(const uint8_t* p) {  // unaligned read (little-endian host)
  T x;
  std::memcpy(&x, p, sizeof(T));
  return x;
}

SafetensorsError not_float(const WeightView& v) {
  return SafetensorsError(fmt::format("tensor {} has dtype {}, expected F32, F16 or BF16 (in {})",
                                      v.name, v.dtype_name, v.file));
}

}  // namespace

std::vector<float> WeightStore::to_f32(const std::string& name) const {
  const WeightView& v = get(name);
  size_t n = size_t(v.numel());
  std::vector<float> out(n);
  switch (v.dtype) {
    case WeightDType::f32:
      if (n) std::memcpy(out.data(), v.data, v.bytes);  // n == 0: data() may be null
      break;
    case WeightDType::f16:
      for (size_t i = 0; i < n; i++) out[i] = half_to_float(load<uint16_t>(v.data + 2 * i));
      break;
    case WeightDType::bf16:
      for (size_t i = 0; i < n; i++) out[i] = bf16_to_float(load<uint16_t>(v.data + 2 * i));
      break;
    default:
      throw not_float(v);
  }
  // A NaN or inf in a weight poisons every output (and some kernels' max() hide it behind
  // confident, identical answers): refuse the checkpoint at load, naming the tensor.
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < n; i++)
    if (!std::isfinite(out[i]) && bad++ == 0) first = i;
  if (bad)
    throw SafetensorsError(fmt::format(
        "{}: tensor '{}' has {} non-finite value{} (NaN or inf; the first at element {}): the "
        "checkpoint is corrupt",
        v.file, name, bad, bad == 1 ? "" : "s", first));
  return out;
}

std::vector<uint16_t> WeightStore::to_f16(const std::string& name) const {
  const WeightView& v = get(name);
  size_t n = size_t(v.numel());
  std::vector<uint16_t> out(n);
  switch (v.dtype) {
    case WeightDType::f16:
      if (n) std::memcpy(out.data(), v.data, v.bytes);
      break;
    case WeightDType::f32:
      for (size_t i = 0; i < n; i++) out[i] = float_to_half(load<float>(v.data + 4 * i));
      break;
    case WeightDType::bf16:  // bf16 -> float is exact, so this rounds once
      for (size_t i = 0; i < n; i++)
        out[i] = float_to_half(bf16_to_float(load<uint16_t>(v.data + 2 * i)));
      break;
    default:
      throw not_float(v);
  }
  return out;
}

}  // namespace vkcls
