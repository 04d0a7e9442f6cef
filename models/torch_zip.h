// The zip container of torch.save (the default since PyTorch 1.6), read in place.
//
// torch.save writes a zip archive whose entries are all *stored* (no compression),
// each entry's data aligned to 64 bytes through padding in the local header's
// extra field, and ZIP64 records once the archive passes 4 GiB:
//   <archive>/data.pkl         the pickle program (see torch_pickle.h)
//   <archive>/data/<key>       one raw storage per key, in the byte order of <archive>/byteorder
//   <archive>/byteorder        "little" or "big" (absent in files older than PyTorch 1.9)
//   <archive>/version          the format version as ASCII digits ("3\n")
// This reader lists the entries from the central directory and points into the
// caller's bytes; it never copies or inflates. Compressed or encrypted entries,
// multi-disk archives and anything out of bounds are errors (TorchCheckpointError).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vkcls {

struct ZipEntry {
  std::string name;     // as stored: "archive/data/0"
  const uint8_t* data;  // into the caller's bytes
  uint64_t size;        // bytes (stored: compressed size == uncompressed size)
};

// True when `bytes` starts with a zip local-file-header signature ("PK\3\4").
bool zip_has_signature(const uint8_t* bytes, size_t size);

// Every entry of a stored-only zip, in central-directory order. `file` is only
// used in messages. Throws TorchCheckpointError (truncated / malformed / unsupported / limit).
std::vector<ZipEntry> zip_list_stored(const uint8_t* bytes, size_t size, const std::string& file);

}  // namespace vkcls
