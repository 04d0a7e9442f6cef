// Byte-Pair Encoding (GPT-2, RoBERTa, Llama, Qwen...): split the word into
// chars (or byte-fallback tokens), then apply merges lowest rank first with a
// priority queue over adjacent pairs, as tokenizers' Word::merge_all does.
#include <cstdio>
#include <memory>
#include <mutex>
#include <queue>

#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace vkcls::tok {
namespace {

struct MergeInfo {
  uint32_t rank;
  int32_t new_id;
};

inline uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

// Open-addressing hash map (pair key -> merge), linear probing: the merge
// lookup is the inner loop of BPE and node-based maps cost a cache miss each.
class MergeMap {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    slots_.assign(cap, Slot{kEmpty, {0, 0}});
    mask_ = cap - 1;
  }
  // Inserts or overwrites (a repeated pair keeps its last rank, as
  // tokenizers' HashMap::from_iter does).
  void put(uint64_t key, MergeInfo v) {
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == kEmpty || slots_[i].key == key) {
        slots_[i] = {key, v};
        return;
      }
    }
  }
  const MergeInfo* find(uint64_t key) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};  // ids are < 2^31: never a real key
  struct Slot {
    uint64_t key;
    MergeInfo value;
  };
  static size_t hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return static_cast<size_t>(k);
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

// Word -> merged pieces (id, byte length) cache, as tokenizers keeps one:
// most words repeat. Sharded so that threads rarely wait on each other.
class WordCache {
 public:
  using Pieces = std::vector<std::pair<int32_t, uint32_t>>;
  static constexpr size_t kMaxWordBytes = 256;

  bool get(std::string_view w, Pieces& out) const {
    const Shard& s = shard(w);
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.map.find(w);
    if (it == s.map.end()) return false;
    out = it->second;
    return true;
  }
  void put(std::string_view w, const Pieces& p) {
    if (w.size() >= kMaxWordBytes) return;
    Shard& s = shard(w);
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.map.size() >= kPerShard) return;  // full: like tokenizers, stop adding
    s.map.emplace(std::string(w), p);
  }

 private:
  static constexpr size_t kShards = 16, kPerShard = 10000 / kShards + 1;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Pieces, StrHash, std::equal_to<>> map;
  };
  Shard& shard(std::string_view w) const { return shards_[std::hash<std::string_view>{}(w) % kShards]; }
  mutable Shard shards_[kShards];
};

// One symbol of the word being merged: a doubly linked list over a vector.
struct Symbol {
  int32_t id;
  int32_t prev, next;
  uint32_t len;  // bytes of the word covered (0 = merged away)
};

struct Candidate {
  uint32_t rank;
  uint32_t pos;
  int32_t new_id;
  // std::priority_queue pops the greatest: lowest rank, then leftmost, wins.
  bool operator<(const Candidate& o) const {
    return rank != o.rank ? rank > o.rank : pos > o.pos;
  }
};

class BPE final : public Model {
 public:
  BPE(Vocab v, const std::vector<std::pair<std::string, std::string>>& merges,
      std::optional<std::string> unk, std::string prefix, std::string suffix, bool fuse_unk,
      bool byte_fallback, bool ignore_merges, const std::string& path)
      : vocab_(std::move(v)), unk_(std::move(unk)), prefix_(std::move(prefix)),
        suffix_(std::move(suffix)), fuse_unk_(fuse_unk), byte_fallback_(byte_fallback),
        ignore_merges_(ignore_merges) {
    merges_.reserve(merges.size());

    for (size_t i = 0; i < merges.size(); ++i) {
      const auto& [a, b] = merges[i];
      auto ia = vocab_.to_id.find(a), ib = vocab_.to_id.find(b);
      std::string where = path + ".merges[" + std::to_string(i) + "]";
      if (ia == vocab_.to_id.end()) json_fail(where, "token '" + a + "' is not in the vocabulary");
      if (ib == vocab_.to_id.end()) json_fail(where, "token '" + b + "' is not in the vocabulary");
      // With a continuing-subword prefix, "a" + "##b" merges to "ab".
      if (b.size() < prefix_.size())
        json_fail(where, "token '" + b + "' is shorter than continuing_subword_prefix");
      std::string merged = a + b.substr(prefix_.size());
      auto im = vocab_.to_id.find(merged);
      if (im == vocab_.to_id.end())
        json_fail(where, "merged token '" + merged + "' is not in the vocabulary");
      // A repeated pair keeps its last rank (HashMap::from_iter overwrites).
      merges_.put(pair_key(ia->second, ib->second), {static_cast<uint32_t>(i), im->second});
    }
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      auto it = vocab_.to_id.find(std::string_view(name));
      byte_ids_[b] = it == vocab_.to_id.end() ? -1 : it->second;
    }
    if (unk_) {
      auto it = vocab_.to_id.find(*unk_);
      unk_id_ = it == vocab_.to_id.end() ? -1 : it->second;
    }
  }

  void tokenize(std::string_view word, std::vector<Token>& out) const override {
    if (word.empty()) return;
    if (ignore_merges_) {
      auto it = vocab_.to_id.find(word);
      if (it != vocab_.to_id.end()) {
        out.push_back({it->second, std::string(word), 0, static_cast<uint32_t>(word.size())});
        return;
      }
    }
    thread_local WordCache::Pieces pieces;
    pieces.clear();
    if (!cache_.get(word, pieces)) {
      thread_local std::vector<Symbol> symbols;
      symbols.clear();
      split_word(word, symbols);
      merge_all(symbols);
      for (const Symbol& s : symbols)
        if (s.len != 0) pieces.push_back({s.id, s.len});
      cache_.put(word, pieces);
    }
    uint32_t pos = 0;
    for (auto [id, len] : pieces) {
      out.push_back({id, vocab_.to_token[id], pos, pos + len});
      pos += len;
    }
  }

  std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.id(t); }
  std::optional<std::string> id_to_token(int32_t id) const override { return vocab_.token(id); }
  size_t vocab_size() const override { return vocab_.to_id.size(); }

 private:
  void add_symbol(std::vector<Symbol>& symbols, int32_t id, uint32_t len) const {
    int32_t n = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, n - 1, -1, len});
    if (n > 0) symbols[n - 1].next = n;
  }

  // tokenizers' BPE::merge_word before the merges: one symbol per char
  // (prefix on non-first chars, suffix on the last), unknown chars become
  // byte tokens or (possibly fused) unk.
  void split_word(std::string_view w, std::vector<Symbol>& symbols) const {
    std::string s;
    bool have_unk = false;
    int32_t pending_unk_id = -1;
    uint32_t pending_unk_len = 0;
    size_t i = 0;
    while (i < w.size()) {
      size_t start = i;
      i += utf8_seq_len(static_cast<unsigned char>(w[i]));
      if (i > w.size()) i = w.size();
      uint32_t byte_len = static_cast<uint32_t>(i - start);
      s.clear();
      if (start > 0) s += prefix_;
      s.append(w.substr(start, byte_len));
      if (i == w.size()) s += suffix_;

      auto it = vocab_.to_id.find(s);
      if (it != vocab_.to_id.end()) {
        if (have_unk) {
          add_symbol(symbols, pending_unk_id, pending_unk_len);
          have_unk = false;
        }
        add_symbol(symbols, it->second, byte_len);
        continue;
      }
      if (byte_fallback_) {
        bool all = true;
        for (unsigned char b : s) all &= byte_ids_[b] >= 0;
        if (all) {
          // Note: like tokenizers, a pending unk is not flushed here.
          for (unsigned char b : s) add_symbol(symbols, byte_ids_[b], 1);
          continue;
        }
      }
      if (unk_) {
        if (unk_id_ < 0) throw TokenizerError("BPE: unk token '" + *unk_ + "' is not in the vocabulary");
        if (have_unk && fuse_unk_) {
          pending_unk_len += byte_len;
        } else {
          if (have_unk) add_symbol(symbols, pending_unk_id, pending_unk_len);
          pending_unk_id = unk_id_;
          pending_unk_len = byte_len;
          have_unk = true;
        }
      }
    }
    if (have_unk) add_symbol(symbols, pending_unk_id, pending_unk_len);
  }

  const MergeInfo* find_merge(int32_t a, int32_t b) const { return merges_.find(pair_key(a, b)); }

  void merge_all(std::vector<Symbol>& sym) const {
    if (sym.size() < 2) return;
    thread_local std::vector<Candidate> heap_storage;
    heap_storage.clear();
    std::priority_queue<Candidate> queue(std::less<Candidate>(), std::move(heap_storage));
    for (size_t i = 0; i + 1 < sym.size(); ++i)
      if (const MergeInfo* m = find_merge(sym[i].id, sym[i + 1].id))
        queue.push({m->rank, static_cast<uint32_t>(i), m->new_id});

    while (!queue.empty()) {
      Candidate top = queue.top();
      queue.pop();
      const uint32_t pos = top.pos;
      if (sym[pos].len == 0 || sym[pos].next < 0) continue;
      const int32_t next = sym[pos].next;
      const Symbol right = sym[next];
      // Skip stale entries: the pair at this position changed since queued.
      const MergeInfo* m = find_merge(sym[pos].id, right.id);
      if (!m || m->new_id != top.new_id) continue;

      sym[pos].id = top.new_id;
      sym[pos].len += right.len;
      sym[pos].next = right.next;
      sym[next].len = 0;
      if (right.next >= 0) sym[right.next].prev = static_cast<int32_t>(pos);

      // New pairs with the neighbours of the merged symbol.
      if (int32_t p = sym[pos].prev; p >= 0)
        if (const MergeInfo* pm = find_merge(sym[p].id, sym[pos].id))
          queue.push({pm->rank, static_cast<uint32_t>(p), pm->new_id});
      if (int32_t n = sym[pos].next; n >= 0)
        if (const MergeInfo* nm = find_merge(sym[pos].id, sym[n].id))
          queue.push({nm->rank, pos, nm->new_id});
    }
  }

  Vocab vocab_;
  MergeMap merges_;
  mutable WordCache cache_;
  std::optional<std::string> unk_;
  int32_t unk_id_ = -1;
  std::string prefix_, suffix_;
  bool fuse_unk_, byte_fallback_, ignore_merges_;
  int32_t byte_ids_[256];
};

}  // namespace

std::unique_ptr<Model> make_bpe_from_json(const json& j, const std::string& path) {
  Vocab v = vocab_from_json(json_at(j, "vocab", path), path + ".vocab");
  const json& jm = json_at(j, "merges", path);
  if (!jm.is_array()) json_fail(path + ".merges", "expected an array");
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(jm.size());
  for (size_t i = 0; i < jm.size(); ++i) {
    const json& m = jm[i];
    std::string where = path + ".merges[" + std::to_string(i) + "]";
    if (m.is_string()) {
      // Legacy form "a b": split at the first space.
      const std::string& s = m.get_ref<const std::string&>();
      size_t sp = s.find(' ');
      if (sp == std::string::npos) json_fail(where, "expected \"a b\"");
      merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      json_fail(where, "expected \"a b\" or [\"a\", \"b\"]");
    }
  }
  std::optional<std::string> unk;
  if (j.contains("unk_token") && !j["unk_token"].is_null()) unk = json_string(j, "unk_token", path);
  // dropout is a training-time regularizer: inference is deterministic, so it is ignored.
  if (j.contains("dropout") && !j["dropout"].is_null()) (void)json_number(j, "dropout", path);
  return std::make_unique<BPE>(std::move(v), merges, std::move(unk),
                               json_string(j, "continuing_subword_prefix", path, ""),
                               json_string(j, "end_of_word_suffix", path, ""),
                               json_bool(j, "fuse_unk", path, false),
                               json_bool(j, "byte_fallback", path, false),
                               json_bool(j, "ignore_merges", path, false), path);
}

}  // namespace vkcls::tok
