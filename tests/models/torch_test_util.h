// Test helpers for PyTorch checkpoints: a pickle program builder, a stored-zip
// writer laid out like torch.save's, and a one-tensor state dict.
#pragma once
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace vkcls::test {

// Appends pickle opcodes. Methods are named after pickletools' opcode names.
struct Pickle {
  std::string b;
  Pickle& raw(const std::string& s) { return b += s, *this; }
  Pickle& op(uint8_t c) { return b += char(c), *this; }
  Pickle& le(uint64_t v, int n) {
    for (int i = 0; i < n; i++) b += char(uint8_t(v >> (8 * i)));
    return *this;
  }
  Pickle& proto(int v = 2) { return op(0x80).op(uint8_t(v)); }
  Pickle& mark() { return op('('); }
  Pickle& stop() { return op('.'); }
  Pickle& str(const std::string& s) { return op('X').le(s.size(), 4).raw(s); }  // BINUNICODE
  Pickle& short_str(const std::string& s) {
    return op(0x8c).le(s.size(), 1).raw(s);
  }                                                                         // SHORT_BINUNICODE
  Pickle& integer(int64_t v) { return op(0x8a).op(8).le(uint64_t(v), 8); }  // LONG1 of 8 bytes
  Pickle& binint(int32_t v) { return op('J').le(uint32_t(v), 4); }
  Pickle& global(const std::string& module, const std::string& name) {
    return op('c').raw(module + "\n" + name + "\n");
  }
  Pickle& stack_global(const std::string& module, const std::string& name) {
    return short_str(module).short_str(name).op(0x93);
  }
  Pickle& tuple_of(const std::vector<int64_t>& v) {
    mark();
    for (int64_t x : v) integer(x);
    return op('t');
  }
  Pickle& reduce() { return op('R'); }
  Pickle& empty_dict() { return op('}'); }
  Pickle& empty_tuple() { return op(')'); }
  Pickle& setitem() { return op('s'); }
  Pickle& binput(uint8_t i) { return op('q').op(i); }
  Pickle& binget(uint8_t i) { return op('h').op(i); }
  Pickle& newfalse() { return op(0x89); }
  Pickle& none() { return op('N'); }

  // ('storage', torch.<type>, key, 'cpu', numel) BINPERSID
  Pickle& storage(const std::string& type, const std::string& key, int64_t numel) {
    return mark()
        .str("storage")
        .global("torch", type)
        .str(key)
        .str("cpu")
        .integer(numel)
        .op('t')
        .op('Q');
  }
  // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())
  Pickle& tensor(const std::string& type, const std::string& key, int64_t numel, int64_t offset,
                 const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides) {
    global("torch._utils", "_rebuild_tensor_v2").mark();
    storage(type, key, numel).integer(offset).tuple_of(sizes).tuple_of(strides).newfalse();
    global("collections", "OrderedDict").empty_tuple().reduce();
    return op('t').reduce();
  }
};

// {name: tensor} as data.pkl.
inline std::string one_tensor_pickle(const std::string& name, const std::string& type,
                                     const std::string& key, int64_t numel, int64_t offset,
                                     const std::vector<int64_t>& sizes,
                                     const std::vector<int64_t>& strides) {
  Pickle p;
  p.proto()
      .empty_dict()
      .str(name)
      .tensor(type, key, numel, offset, sizes, strides)
      .setitem()
      .stop();
  return p.b;
}

struct ZipFileEntry {
  std::string name, data;
  uint16_t method = 0;  // 0 stored; anything else is only written into the headers
  uint16_t flags = 0;
};

// A zip archive: local headers + data, central directory, end record. CRCs are left 0
// (the reader does not check them).
inline std::vector<uint8_t> make_zip(const std::vector<ZipFileEntry>& entries) {
  std::string out, cd;
  auto le = [](std::string& s, uint64_t v, int n) {
    for (int i = 0; i < n; i++) s += char(uint8_t(v >> (8 * i)));
  };
  for (const auto& e : entries) {
    uint64_t offset = out.size();
    le(out, 0x04034b50, 4), le(out, 20, 2), le(out, e.flags, 2), le(out, e.method, 2),
        le(out, 0, 4), le(out, 0, 4);
    le(out, e.data.size(), 4), le(out, e.data.size(), 4), le(out, e.name.size(), 2), le(out, 0, 2);
    out += e.name + e.data;
    le(cd, 0x02014b50, 4), le(cd, 20, 2), le(cd, 20, 2), le(cd, e.flags, 2), le(cd, e.method, 2),
        le(cd, 0, 4);
    le(cd, 0, 4), le(cd, e.data.size(), 4), le(cd, e.data.size(), 4), le(cd, e.name.size(), 2),
        le(cd, 0, 2);
    le(cd, 0, 2), le(cd, 0, 2), le(cd, 0, 2), le(cd, 0, 4), le(cd, offset, 4);
    cd += e.name;
  }
  uint64_t cd_offset = out.size();
  out += cd;
  le(out, 0x06054b50, 4), le(out, 0, 2), le(out, 0, 2), le(out, entries.size(), 2),
      le(out, entries.size(), 2);
  le(out, cd.size(), 4), le(out, cd_offset, 4), le(out, 0, 2);
  return std::vector<uint8_t>(out.begin(), out.end());
}

// A torch.save-like archive: archive/data.pkl, archive/byteorder, archive/data/<key> per storage.
inline std::vector<uint8_t> make_torch_zip(
    const std::string& pickle, const std::vector<std::pair<std::string, std::string>>& storages,
    const std::string& byteorder = "little") {
  std::vector<ZipFileEntry> e{{"archive/data.pkl", pickle}, {"archive/byteorder", byteorder}};
  for (const auto& [key, data] : storages) e.push_back({"archive/data/" + key, data});
  e.push_back({"archive/version", "3\n"});
  return make_zip(e);
}

inline std::string float_bytes(const std::vector<float>& v) {
  std::string s(v.size() * 4, '\0');
  if (!v.empty()) std::memcpy(s.data(), v.data(), s.size());
  return s;
}

inline std::vector<uint8_t> read_bytes(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

inline void write_bytes(const std::filesystem::path& p, const std::vector<uint8_t>& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

}  // namespace vkcls::test
