// PyTorch checkpoints: find the pickle and the storages in either container,
// run the restricted unpickler, and turn each tensor into a WeightView.
#include "models/torch_checkpoint.h"

#include <fmt/format.h>

#include <cstring>
#include <map>

#include "models/torch_zip.h"

namespace vkcls {

namespace {

using Kind = TorchCheckpointError::Kind;

// The legacy format's first pickle: LONG1 of these 10 bytes (0x1950a86a20f9469cfc6c,
// little-endian).
constexpr uint8_t kLegacyMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr int64_t kLegacyProtocolVersion = 1001;

TorchCheckpointError error(Kind k, const std::string& file, const std::string& what) {
  return TorchCheckpointError(k, fmt::format("invalid PyTorch checkpoint {}: {}", file, what));
}

// Row-major copy of a strided view: out[i0, ..., in] = base[sum_k ik * stride_k], element by
// element except that a unit-stride innermost dimension is one memcpy per row. numel > 0.
void copy_strided(const uint8_t* base, const PickledTensor& t, uint64_t numel, uint8_t* out) {
  const size_t es = t.element_size, rank = t.sizes.size();
  if (rank == 0) {
    std::memcpy(out, base, es);
    return;
  }
  const uint64_t inner = uint64_t(t.sizes[rank - 1]), inner_stride = uint64_t(t.strides[rank - 1]);
  std::vector<int64_t> index(rank - 1, 0);  // position in the outer dimensions
  uint64_t src = 0;                         // element offset of index
  for (uint64_t row = 0, rows = numel / inner; row < rows; row++) {
    const uint8_t* s = base + src * es;
    if (inner_stride == 1) {
      std::memcpy(out, s, inner * es);
    } else {
      for (uint64_t j = 0; j < inner; j++) std::memcpy(out + j * es, s + j * inner_stride * es, es);
    }
    out += inner * es;
    for (size_t d = rank - 1; d-- > 0;) {  // odometer over the outer dimensions
      src += uint64_t(t.strides[d]);
      if (++index[d] < t.sizes[d]) break;
      src -= uint64_t(t.strides[d]) * uint64_t(t.sizes[d]);
      index[d] = 0;
    }
  }
}

// Views for every tensor, given where each storage's bytes are.
TorchCheckpoint make_views(const PickledStateDict& sd,
                           const std::vector<const uint8_t*>& storage_data, const std::string& file,
                           uint64_t copy_budget) {
  TorchCheckpoint out;
  uint64_t copied = 0;
  for (const PickledTensor& t : sd.tensors) {
    uint64_t numel = 1;
    for (int64_t s : t.sizes) numel *= uint64_t(s);  // checked by the unpickler not to overflow
    const uint64_t bytes = numel * t.element_size;
    const uint8_t* base = storage_data[t.storage] + t.storage_offset * t.element_size;
    WeightView v{t.name, t.dtype, t.sizes, base, size_t(bytes), file, t.dtype_name};
    if (!t.contiguous()) {
      if (bytes > copy_budget - copied)
        throw error(
            Kind::limit, file,
            fmt::format(
                "non-contiguous tensor '{}' needs a {}-byte copy; copies would exceed {} bytes "
                "(TorchLoadLimits::max_copy_bytes)",
                t.name, bytes, copy_budget));
      copied += bytes;
      out.owned.emplace_back(size_t(bytes));
      copy_strided(base, t, numel, out.owned.back().data());
      v.data = out.owned.back().data();
    }
    out.views.push_back(std::move(v));
  }
  return out;
}

TorchCheckpoint parse_zip(const uint8_t* bytes, size_t size, const std::string& file,
                          const TorchLoadLimits& limits, uint64_t copy_budget) {
  std::vector<ZipEntry> entries = zip_list_stored(bytes, size, file);
  std::map<std::string, const ZipEntry*> by_name;
  for (const auto& e : entries) by_name.emplace(e.name, &e);

  // <archive>/data.pkl names the archive folder (the file's stem when it was saved).
  const ZipEntry* pkl = nullptr;
  for (const auto& e : entries) {
    size_t slash = e.name.find('/');
    if (slash != std::string::npos && slash > 0 &&
        e.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      if (pkl)
        throw error(Kind::malformed, file,
                    fmt::format("two pickles: {} and {}", pkl->name, e.name));
      pkl = &e;
    }
  }
  if (!pkl) {
    bool torchscript = false;
    for (const auto& e : entries)
      torchscript |=
          e.name.ends_with("/constants.pkl") || e.name.find("/code/") != std::string::npos;
    throw error(
        Kind::unsupported, file,
        torchscript
            ? "a TorchScript archive (torch.jit.save), not a state dict saved with torch.save"
            : "a zip archive without <archive>/data.pkl: not written by torch.save");
  }
  const std::string prefix = pkl->name.substr(0, pkl->name.size() - std::strlen("data.pkl"));
  auto bo = by_name.find(prefix + "byteorder");  // absent before PyTorch 1.9: little-endian
  if (bo != by_name.end()) {
    std::string order(reinterpret_cast<const char*>(bo->second->data), size_t(bo->second->size));
    if (order != "little")
      throw error(
          Kind::unsupported, file,
          fmt::format("byteorder is \"{}\"; only little-endian checkpoints are read", order));
  }

  PickledStateDict sd = torch_unpickle_state_dict(pkl->data, size_t(pkl->size),
                                                  file + ":" + pkl->name, nullptr, limits.pickle);
  std::vector<const uint8_t*> data;
  for (const PickledStorage& s : sd.storages) {
    if (s.key.empty() || s.key.find('/') != std::string::npos)
      throw error(Kind::malformed, file,
                  fmt::format("storage key \"{}\" is not a plain name", s.key));
    auto it = by_name.find(prefix + "data/" + s.key);
    if (it == by_name.end())
      throw error(Kind::malformed, file,
                  fmt::format("storage '{}' has no entry {}data/{}", s.key, prefix, s.key));
    if (it->second->size < s.nbytes())
      throw error(
          Kind::truncated, file,
          fmt::format("storage '{}' ({} x {}) needs {} bytes, entry {} holds {}", s.key, s.numel,
                      s.type_name, s.nbytes(), it->second->name, it->second->size));
    data.push_back(it->second->data);
  }
  return make_views(sd, data, file, copy_budget);
}

TorchCheckpoint parse_legacy(const uint8_t* bytes, size_t size, const std::string& file,
                             const TorchLoadLimits& limits, uint64_t copy_budget) {
  size_t pos = 0, used = 0;
  auto next_value = [&](const char* what) {
    PickleValue v = torch_unpickle_value(bytes + pos, size - pos,
                                         fmt::format("{} ({}, byte {})", file, what, pos), &used,
                                         limits.pickle);
    pos += used;
    return v;
  };
  using VK = PickleValue::Kind;
  PickleValue magic = next_value("magic number");
  if (magic.kind != VK::big_integer ||
      magic.text != std::string(reinterpret_cast<const char*>(kLegacyMagic), sizeof kLegacyMagic))
    throw error(
        Kind::malformed, file,
        "starts with a pickle but not with PyTorch's magic number: not a PyTorch checkpoint");
  PickleValue protocol = next_value("protocol version");
  if (protocol.kind != VK::integer || protocol.integer != kLegacyProtocolVersion)
    throw error(Kind::unsupported, file,
                fmt::format("legacy protocol version {} (only {} is known)", protocol.integer,
                            kLegacyProtocolVersion));
  PickleValue sys_info = next_value(
      "sys_info");  // {'protocol_version': 1001, 'little_endian': True, 'type_sizes': {...}}
  if (sys_info.kind != VK::dict) throw error(Kind::malformed, file, "sys_info is not a dict");
  for (size_t i = 0; i + 1 < sys_info.items.size(); i += 2) {
    if (sys_info.items[i].text == "little_endian" && sys_info.items[i + 1].integer != 1)
      throw error(Kind::unsupported, file,
                  "saved on a big-endian machine; only little-endian checkpoints are read");
  }

  PickledStateDict sd = torch_unpickle_state_dict(
      bytes + pos, size - pos, fmt::format("{} (state dict, byte {})", file, pos), &used,
      limits.pickle);
  pos += used;
  PickleValue keys = next_value("storage keys");
  if (keys.kind != VK::list)
    throw error(Kind::malformed, file, "the storage key list is not a list");

  // Per key, in the list's order: [u64 element count][count * element_size bytes].
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < sd.storages.size(); i++) index.emplace(sd.storages[i].key, i);
  std::vector<const uint8_t*> data(sd.storages.size(), nullptr);
  for (const PickleValue& k : keys.items) {
    if (k.kind != VK::string) throw error(Kind::malformed, file, "a storage key is not a string");
    auto it = index.find(k.text);
    if (it == index.end())
      throw error(Kind::malformed, file,
                  fmt::format("storage key '{}' is not used by the state dict", k.text));
    const PickledStorage& s = sd.storages[it->second];
    if (size - pos < 8)
      throw error(Kind::truncated, file,
                  fmt::format("file ends before storage '{}' (byte {})", k.text, pos));
    uint64_t count = 0;
    for (int b = 7; b >= 0; b--) count = count << 8 | bytes[pos + size_t(b)];
    pos += 8;
    if (count != s.numel)
      throw error(Kind::malformed, file,
                  fmt::format("storage '{}' holds {} elements, the pickle says {}", k.text, count,
                              s.numel));
    if (s.nbytes() > size - pos)
      throw error(Kind::truncated, file,
                  fmt::format("storage '{}' needs {} bytes at byte {}, the file has {} left",
                              k.text, s.nbytes(), pos, size - pos));
    if (data[it->second])
      throw error(Kind::malformed, file, fmt::format("storage key '{}' is listed twice", k.text));
    data[it->second] = bytes + pos;
    pos += size_t(s.nbytes());
  }
  for (size_t i = 0; i < data.size(); i++)
    if (!data[i])
      throw error(Kind::malformed, file,
                  fmt::format("storage '{}' has no data", sd.storages[i].key));
  TorchCheckpoint out = make_views(sd, data, file, copy_budget);
  out.legacy_format = true;
  return out;
}

}  // namespace

bool torch_checkpoint_signature(const uint8_t* bytes, size_t size) {
  return zip_has_signature(bytes, size) ||
         (size >= 2 && bytes[0] == 0x80 && bytes[1] >= 2 && bytes[1] <= 5);
}

TorchCheckpoint torch_checkpoint_parse(const uint8_t* bytes, size_t size, const std::string& file,
                                       const TorchLoadLimits& limits) {
  uint64_t budget =
      limits.max_copy_bytes ? limits.max_copy_bytes : 2 * uint64_t(size) + (uint64_t(64) << 20);
  if (zip_has_signature(bytes, size)) return parse_zip(bytes, size, file, limits, budget);
  if (size >= 2 && bytes[0] == 0x80) return parse_legacy(bytes, size, file, limits, budget);
  if (size >= 262 && std::memcmp(bytes + 257, "ustar", 5) == 0)
    throw error(
        Kind::unsupported, file,
        "the tar format of PyTorch < 0.1.10 is not supported; re-save it with a newer torch");
  throw error(
      size < 4 ? Kind::truncated : Kind::malformed, file,
      fmt::format("{} bytes that are neither a zip archive nor a pickle: not a PyTorch checkpoint",
                  size));
}

}  // namespace vkcls
