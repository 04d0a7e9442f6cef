// Stored-only zip reader for torch.save archives: end of central directory
// (ZIP64 when present) -> central directory entries -> local headers -> data.
// Layout reference: PKWARE APPNOTE.TXT 6.3 (sections 4.3.7, 4.3.12, 4.3.14-16, 4.5.3).
#include "models/torch_zip.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "models/torch_error.h"

namespace vkcls {

namespace {

using Kind = TorchCheckpointError::Kind;

constexpr uint32_t kLocalHeaderSig = 0x04034b50;   // "PK\3\4"
constexpr uint32_t kCentralSig = 0x02014b50;       // "PK\1\2"
constexpr uint32_t kEndSig = 0x06054b50;           // "PK\5\6"
constexpr uint32_t kEnd64Sig = 0x06064b50;         // "PK\6\6"
constexpr uint32_t kEnd64LocatorSig = 0x07064b50;  // "PK\6\7"
constexpr size_t kEndSize = 22, kEnd64Size = 56, kEnd64LocatorSize = 20;
constexpr size_t kCentralSize = 46, kLocalSize = 30;
constexpr uint64_t kMaxEntries = 1u << 20;  // a checkpoint has one entry per storage, plus a few

uint16_t u16(const uint8_t* p) {
  return uint16_t(p[0] | p[1] << 8);
}
uint32_t u32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint64_t u64(const uint8_t* p) {
  return uint64_t(u32(p)) | uint64_t(u32(p + 4)) << 32;
}

}  // namespace

bool zip_has_signature(const uint8_t* bytes, size_t size) {
  return size >= 4 && u32(bytes) == kLocalHeaderSig;
}

std::vector<ZipEntry> zip_list_stored(const uint8_t* bytes, size_t size, const std::string& file) {
  auto fail = [&](Kind k, const std::string& what) {
    return TorchCheckpointError(k, fmt::format("invalid PyTorch zip archive {}: {}", file, what));
  };

  // End of central directory: the last "PK\5\6" within the final 22 + 65535 bytes (the comment).
  if (size < kEndSize)
    throw fail(Kind::truncated,
               fmt::format("file is {} bytes, shorter than a zip end record", size));
  size_t end = SIZE_MAX;
  for (size_t pos = size - kEndSize + 1, stop = size - std::min<size_t>(size, kEndSize + 65535);
       pos-- > stop;) {
    if (u32(bytes + pos) == kEndSig && pos + kEndSize + u16(bytes + pos + 20) == size) {
      end = pos;
      break;
    }
  }
  if (end == SIZE_MAX)
    throw fail(Kind::truncated, "no end-of-central-directory record (truncated file?)");
  const uint8_t* e = bytes + end;
  if (u16(e + 4) != 0 || u16(e + 6) != 0)
    throw fail(Kind::unsupported, "multi-disk archives are not supported");
  uint64_t count = u16(e + 10), cd_size = u32(e + 12), cd_offset = u32(e + 16);

  // ZIP64: a locator just before the end record points at the 64-bit end record.
  if (end >= kEnd64LocatorSize && u32(bytes + end - kEnd64LocatorSize) == kEnd64LocatorSig) {
    uint64_t off = u64(bytes + end - kEnd64LocatorSize + 8);
    if (off > end - kEnd64LocatorSize || end - kEnd64LocatorSize - off < kEnd64Size)
      throw fail(Kind::malformed, fmt::format("ZIP64 end record offset {} is out of range", off));
    const uint8_t* z = bytes + off;
    if (u32(z) != kEnd64Sig)
      throw fail(Kind::malformed, "ZIP64 locator does not point at a ZIP64 end record");
    if (u32(z + 16) != 0 || u32(z + 20) != 0)
      throw fail(Kind::unsupported, "multi-disk archives are not supported");
    count = u64(z + 32);
    cd_size = u64(z + 40);
    cd_offset = u64(z + 48);
  }
  if (count > kMaxEntries)
    throw fail(Kind::limit, fmt::format("{} entries exceed the limit of {}", count, kMaxEntries));
  if (cd_offset > end || cd_size > end - cd_offset)
    throw fail(
        Kind::malformed,
        fmt::format("central directory [{}, +{}) lies outside the file before its end record ({})",
                    cd_offset, cd_size, end));

  std::vector<ZipEntry> entries;
  std::set<std::string> names;
  const uint8_t* cd = bytes + cd_offset;
  uint64_t pos = 0;
  for (uint64_t i = 0; i < count; i++) {
    if (cd_size - pos < kCentralSize)
      throw fail(Kind::truncated, fmt::format("central directory ends inside entry {}", i));
    const uint8_t* h = cd + pos;
    if (u32(h) != kCentralSig)
      throw fail(Kind::malformed, fmt::format("central directory entry {} has a bad signature", i));
    uint16_t flags = u16(h + 8), method = u16(h + 10);
    uint64_t csize = u32(h + 20), usize = u32(h + 24), local = u32(h + 42);
    size_t name_len = u16(h + 28), extra_len = u16(h + 30), comment_len = u16(h + 32);
    if (cd_size - pos - kCentralSize < name_len + extra_len + comment_len)
      throw fail(Kind::truncated, fmt::format("central directory ends inside entry {}", i));
    std::string name(reinterpret_cast<const char*>(h + kCentralSize), name_len);

    // ZIP64 extended information (id 1): the 64-bit values of the fields that read 0xffffffff, in
    // order.
    const uint8_t* x = h + kCentralSize + name_len;
    for (size_t xp = 0; xp + 4 <= extra_len;) {
      uint16_t id = u16(x + xp), len = u16(x + xp + 2);
      if (xp + 4 + len > extra_len)
        throw fail(Kind::malformed, fmt::format("entry '{}': extra field overruns", name));
      if (id == 1) {
        const uint8_t* f = x + xp + 4;
        size_t left = len;
        for (uint64_t* v : {&usize, &csize, &local}) {
          if (*v != 0xffffffffu) continue;
          if (left < 8)
            throw fail(Kind::malformed,
                       fmt::format("entry '{}': ZIP64 extra field too short", name));
          *v = u64(f);
          f += 8;
          left -= 8;
        }
      }
      xp += 4 + len;
    }
    pos += kCentralSize + name_len + extra_len + comment_len;

    if (flags & 1) throw fail(Kind::unsupported, fmt::format("entry '{}' is encrypted", name));
    if (method != 0)
      throw fail(Kind::unsupported,
                 fmt::format("entry '{}' is compressed (method {}); torch.save stores entries "
                             "uncompressed and only those can be read in place",
                             name, method));
    if (csize != usize)
      throw fail(Kind::malformed, fmt::format("stored entry '{}' has compressed size {} != size {}",
                                              name, csize, usize));

    // The local header repeats the name and has its own extra field (torch pads it for alignment).
    if (local > cd_offset || cd_offset - local < kLocalSize)
      throw fail(Kind::malformed,
                 fmt::format("entry '{}': local header offset {} is out of range", name, local));
    const uint8_t* l = bytes + local;
    if (u32(l) != kLocalHeaderSig)
      throw fail(Kind::malformed, fmt::format("entry '{}': bad local header signature", name));
    uint64_t lname = u16(l + 26), lextra = u16(l + 28);
    uint64_t data = local + kLocalSize + lname + lextra;
    if (data > cd_offset || usize > cd_offset - data)
      throw fail(Kind::truncated,
                 fmt::format("entry '{}': data [{}, +{}) runs past the central directory at {}",
                             name, data, usize, cd_offset));
    if (lname != name_len ||
        std::string(reinterpret_cast<const char*>(l + kLocalSize), lname) != name)
      throw fail(Kind::malformed,
                 fmt::format("entry '{}': local header names a different file", name));
    if (!names.insert(name).second)
      throw fail(Kind::malformed, fmt::format("entry '{}' appears twice", name));
    entries.push_back(ZipEntry{std::move(name), bytes + data, usize});
  }
  return entries;
}

}  // namespace vkcls
