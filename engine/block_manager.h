// The KV page bookkeeping of the paged cache (runtime/kv_cache.h): which pages each admitted
// sequence owns, and the prefix cache. No device here: the scheduler drives it and tests check
// it against a plain model of itself.
//
// A sequence is admitted whole (every page it will need is reserved before its first chunk
// runs), so admitted sequences always finish and free their pages; one that does not fit now
// waits, one that could never fit is refused before it is queued.
//
// Prefix cache (vLLM's automatic prefix caching): a page full of tokens is keyed by a hash chain
// (the previous page's key, the request's cache_salt, its own token ids), registered once the
// batch that computes it is launched, and found by later sequences with the same salt and the
// same tokens up to that page. Pages are reference-counted; a cached page nobody holds stays
// until the pool runs short, then the least recently used goes first. Keys are compared in full
// (salt and ids, not only the hash), so tenants with different salts never share a page.
#pragma once
#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vkcls {

struct BlockStats {
  int64_t pages = 0, page_size = 0;
  int64_t pages_in_use = 0;   // held by admitted sequences
  int64_t pages_cached = 0;   // holding a registered prefix (held or not)
  uint64_t query_tokens = 0;  // prompt tokens of sequences that looked up the cache
  uint64_t hit_tokens = 0;    // of which found in it
};

class BlockManager {
 public:
  using Key = std::pair<uint64_t, size_t>;  // (request, sequence)

  BlockManager(int64_t num_pages, int64_t page_size, bool prefix_cache);

  int64_t pages_for(int64_t tokens) const { return (tokens + page_size_ - 1) / page_size_; }
  int64_t num_pages() const { return num_pages_; }
  int64_t page_size() const { return page_size_; }
  bool caches() const { return prefix_cache_; }

  struct Admission {
    const std::vector<int32_t>* pages;  // the sequence's block table (valid until release)
    int64_t cached_tokens;              // a multiple of page_size: tokens not to compute
  };
  // Reserves pages for all of `ids`. With read_cache, full pages of the prefix found in the
  // cache are shared, at most max_cached tokens of them. nullopt: not enough free pages now
  // (nothing is changed then).
  std::optional<Admission> admit(Key key, const std::vector<int32_t>& ids, const std::string& salt,
                                 bool read_cache, int64_t max_cached);
  // The sequence's tokens [0, computed) are (being) computed: register its full pages.
  void computed(Key key, int64_t computed);
  // Frees the sequence's pages (no-op when it holds none).
  void release(Key key);
  // Forgets every registered prefix (a batch that should have computed some of them failed).
  void drop_cache();
  bool holds(Key key) const { return seqs_.count(key) != 0; }

  BlockStats stats() const;
  // Free pages (none held) plus cached ones that could be evicted.
  int64_t available() const { return int64_t(free_.size() + lru_.size()); }
  // Checks every invariant (reference counts match the tables, no page both free and held,
  // the hash map and the LRU agree); throws std::logic_error naming the first broken one.
  void check() const;

 private:
  struct Page {
    int32_t ref = 0;
    bool hashed = false;
    uint64_t hash = 0;
    // the full key, compared on lookup: parent page's hash, salt, ids
    uint64_t parent = 0;
    std::string salt;
    std::vector<int32_t> ids;
    std::list<int32_t>::iterator lru;  // valid when ref == 0 && hashed
  };
  struct Seq {
    std::vector<int32_t> pages;
    std::vector<uint64_t> hashes;  // chain of this sequence's full pages, computed on admission
    std::vector<int32_t> ids;
    std::string salt;
    int64_t registered = 0;  // pages [0, registered) are registered or were found cached
  };

  uint64_t chain(uint64_t parent, const std::string& salt, const int32_t* ids) const;
  std::optional<int32_t> lookup(uint64_t hash, uint64_t parent, const std::string& salt,
                                const int32_t* ids) const;
  int32_t take_page();  // free first, else evict the least recently used cached page
  void unhash(int32_t page);
  void unref(int32_t page);

  int64_t num_pages_, page_size_;
  bool prefix_cache_;
  std::vector<Page> pages_;
  std::vector<int32_t> free_;  // unhashed pages nobody holds
  std::list<int32_t> lru_;     // hashed pages nobody holds, least recently used first
  std::unordered_map<uint64_t, int32_t> by_hash_;
  std::map<Key, Seq> seqs_;
  uint64_t query_tokens_ = 0, hit_tokens_ = 0;
};

}  // namespace vkcls
