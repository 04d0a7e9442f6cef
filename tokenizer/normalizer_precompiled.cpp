// SentencePiece "precompiled_charsmap" normalizer, decoded natively.
//
// The charsmap (base64 in tokenizer.json) is:
//   u32 little-endian  trie_size (bytes)
//   trie_size bytes    darts-clone double-array trie: UTF-8 key -> offset
//   rest               NUL-separated normalized strings
// Matching follows tokenizers' Precompiled (spm_precompiled crate): the text
// is cut in extended grapheme clusters; a cluster shorter than 6 bytes is
// first looked up whole, otherwise (or when absent) char by char. A lookup
// takes the FIRST (shortest) prefix match of the trie, as the crate does.
#include <cstring>

#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace vkcls::tok {
namespace {

bool base64_decode(std::string_view in, std::string& out) {
  auto val = [](unsigned char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  out.clear();
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (unsigned char c : in) {
    if (c == '=') {
      ++pad;
      continue;
    }
    if (c == '\n' || c == '\r' || c == ' ') continue;
    if (pad) return false;  // data after padding
    int v = val(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return pad <= 2;
}

class PrecompiledNormalizer final : public Normalizer {
 public:
  PrecompiledNormalizer(const std::string& blob, const std::string& path) {
    if (blob.size() < 4) json_fail(path, "precompiled_charsmap too short");
    uint32_t trie_size;
    std::memcpy(&trie_size, blob.data(), 4);  // little-endian hosts only (x86, arm)
    if (trie_size % 4 != 0 || trie_size > blob.size() - 4 || trie_size == 0)
      json_fail(path, "precompiled_charsmap: bad trie size");
    trie_.resize(trie_size / 4);
    std::memcpy(trie_.data(), blob.data() + 4, trie_size);
    normalized_ = blob.substr(4 + trie_size);
  }

  void normalize(NormalizedString& s) const override {
    const std::string& t = s.get();
    std::vector<CharChange> changes;
    changes.reserve(t.size());
    bool modified = false;
    GraphemeBreaker gb;
    size_t g_start = 0, i = 0;
    while (i <= t.size()) {
      size_t at = i;
      bool boundary = true;
      if (i < t.size()) {
        char32_t c = utf8_next(t, i);
        boundary = gb.boundary_before(c);
      }
      if (boundary && at > g_start) {
        modified |= normalize_grapheme(std::string_view(t).substr(g_start, at - g_start), changes);
        g_start = at;
      }
      if (at == t.size()) break;
    }
    if (modified) s.transform(changes, 0);
  }

 private:
  bool normalize_grapheme(std::string_view g, std::vector<CharChange>& changes) const {
    std::string_view norm;
    if (g.size() < 6 && lookup(g, norm)) {
      replace(changes, g, norm);
      return true;
    }
    bool modified = false;
    size_t i = 0;
    while (i < g.size()) {
      size_t start = i;
      char32_t c = utf8_next(g, i);
      if (lookup(g.substr(start, i - start), norm)) {
        replace(changes, g.substr(start, i - start), norm);
        modified = true;
      } else {
        changes.push_back({c, 0});
      }
    }
    return modified;
  }

  // tokenizers' `replace`: new chars replace old ones one for one; extra new
  // chars are insertions; fewer new chars fold the removal into the last
  // change pushed so far.
  static void replace(std::vector<CharChange>& changes, std::string_view old_part,
                      std::string_view new_part) {
    int32_t old_count = static_cast<int32_t>(utf8_count(old_part));
    int32_t new_count = static_cast<int32_t>(utf8_count(new_part));
    int32_t diff = new_count - old_count;
    size_t i = 0;
    while (i < new_part.size()) changes.push_back({utf8_next(new_part, i), 0});
    if (diff > 0) {
      for (int32_t k = 0; k < diff; ++k) changes[changes.size() - 1 - k].change = 1;
    } else if (diff < 0 && !changes.empty()) {
      changes.back().change += diff;
    }
  }

  // darts-clone common prefix search, first result only.
  bool lookup(std::string_view key, std::string_view& out) const {
    auto has_leaf = [](uint32_t u) { return ((u >> 8) & 1) == 1; };
    auto value = [](uint32_t u) { return u & ((1u << 31) - 1); };
    auto label = [](uint32_t u) { return u & ((1u << 31) | 0xFF); };
    auto offset = [](uint32_t u) -> size_t { return (u >> 10) << ((u & (1u << 9)) >> 6); };
    size_t node = 0;
    uint32_t unit = trie_[0];
    node ^= offset(unit);
    for (unsigned char c : key) {
      if (c == 0) break;
      node ^= c;
      if (node >= trie_.size()) return false;
      unit = trie_[node];
      if (label(unit) != c) return false;
      node ^= offset(unit);
      if (has_leaf(unit)) {
        if (node >= trie_.size()) return false;
        size_t idx = value(trie_[node]);
        if (idx >= normalized_.size()) return false;
        size_t end = normalized_.find('\0', idx);
        if (end == std::string::npos) end = normalized_.size();
        out = std::string_view(normalized_).substr(idx, end - idx);
        return utf8_find_invalid(out) == std::string_view::npos;
      }
    }
    return false;
  }

  std::vector<uint32_t> trie_;
  std::string normalized_;
};

class IdentityNormalizer final : public Normalizer {
 public:
  void normalize(NormalizedString&) const override {}
};

}  // namespace

std::unique_ptr<Normalizer> make_precompiled_normalizer(const json& j, const std::string& path) {
  const json& v = json_at(j, "precompiled_charsmap", path);
  if (v.is_null()) return std::make_unique<IdentityNormalizer>();
  if (!v.is_string()) json_fail(path + ".precompiled_charsmap", "expected a base64 string");
  std::string blob;
  if (!base64_decode(v.get<std::string>(), blob))
    json_fail(path + ".precompiled_charsmap", "invalid base64");
  if (blob.empty()) return std::make_unique<IdentityNormalizer>();
  return std::make_unique<PrecompiledNormalizer>(blob, path + ".precompiled_charsmap");
}

}  // namespace vkcls::tok
