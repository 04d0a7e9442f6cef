#include "engine/block_manager.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace vkcls {

BlockManager::BlockManager(int64_t num_pages, int64_t page_size, bool prefix_cache)
    : num_pages_(num_pages), page_size_(page_size), prefix_cache_(prefix_cache) {
  if (num_pages < 0 || page_size <= 0)
    throw std::invalid_argument("BlockManager: negative pages or a page size below 1");
  pages_.resize(size_t(num_pages));
  for (int64_t p = num_pages; p-- > 0;) free_.push_back(int32_t(p));
}

// FNV-1a over (parent, salt, ids): the chain makes a page's key depend on every earlier token
uint64_t BlockManager::chain(uint64_t parent, const std::string& salt, const int32_t* ids) const {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const void* data, size_t n) {
    const auto* b = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  mix(&parent, sizeof parent);
  const uint64_t salt_len = salt.size();
  mix(&salt_len, sizeof salt_len);
  mix(salt.data(), salt.size());
  mix(ids, size_t(page_size_) * sizeof(int32_t));
  return h;
}

std::optional<int32_t> BlockManager::lookup(uint64_t hash, uint64_t parent, const std::string& salt,
                                            const int32_t* ids) const {
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return std::nullopt;
  const Page& p = pages_[size_t(it->second)];
  if (p.parent != parent || p.salt != salt || !std::equal(p.ids.begin(), p.ids.end(), ids))
    return std::nullopt;
  return it->second;
}

std::optional<BlockManager::Admission> BlockManager::admit(Key key, const std::vector<int32_t>& ids,
                                                           const std::string& salt, bool read_cache,
                                                           int64_t max_cached) {
  if (seqs_.count(key))
    throw std::logic_error(
        fmt::format("BlockManager: sequence ({}, {}) is admitted twice", key.first, key.second));
  const int64_t n = int64_t(ids.size()), need = pages_for(n), full = n / page_size_;
  Seq s;
  s.ids = ids;
  s.salt = salt;
  if (prefix_cache_) {
    uint64_t parent = 0;
    for (int64_t i = 0; i < full; ++i) {
      parent = chain(parent, salt, ids.data() + i * page_size_);
      s.hashes.push_back(parent);
    }
  }
  // the cached prefix: whole pages, leaving at least the last token (and what the caller needs
  // computed) to the forward pass
  std::vector<int32_t> hits;
  if (prefix_cache_ && read_cache) {
    const int64_t limit = std::max<int64_t>(0, std::min(max_cached, n - 1)) / page_size_;
    for (int64_t i = 0; i < limit; ++i) {
      auto page = lookup(s.hashes[size_t(i)], i ? s.hashes[size_t(i) - 1] : 0, salt,
                         ids.data() + i * page_size_);
      if (!page) break;
      hits.push_back(*page);
    }
  }
  int64_t idle_hits = 0;
  for (int32_t p : hits) idle_hits += pages_[size_t(p)].ref == 0;
  if (need - int64_t(hits.size()) > available() - idle_hits) return std::nullopt;

  for (int32_t p : hits) {
    Page& pg = pages_[size_t(p)];
    if (pg.ref++ == 0) lru_.erase(pg.lru);
    s.pages.push_back(p);
  }
  while (int64_t(s.pages.size()) < need) {
    int32_t p = take_page();
    pages_[size_t(p)].ref = 1;
    s.pages.push_back(p);
  }
  s.registered = int64_t(hits.size());
  if (prefix_cache_ && read_cache) {
    query_tokens_ += uint64_t(n);
    hit_tokens_ += uint64_t(hits.size()) * uint64_t(page_size_);
  }
  const int64_t cached = int64_t(hits.size()) * page_size_;
  auto [it, inserted] = seqs_.emplace(key, std::move(s));
  return Admission{&it->second.pages, cached};
}

void BlockManager::computed(Key key, int64_t computed) {
  auto it = seqs_.find(key);
  if (it == seqs_.end() || !prefix_cache_) return;
  Seq& s = it->second;
  const int64_t full = std::min<int64_t>(computed / page_size_, int64_t(s.hashes.size()));
  for (int64_t i = s.registered; i < full; ++i) {
    const uint64_t h = s.hashes[size_t(i)];
    if (by_hash_.count(h)) continue;  // another sequence computed the same page first
    Page& pg = pages_[size_t(s.pages[size_t(i)])];
    pg.hashed = true;
    pg.hash = h;
    pg.parent = i ? s.hashes[size_t(i) - 1] : 0;
    pg.salt = s.salt;
    pg.ids.assign(s.ids.begin() + i * page_size_, s.ids.begin() + (i + 1) * page_size_);
    by_hash_[h] = s.pages[size_t(i)];
  }
  s.registered = std::max(s.registered, full);
}

void BlockManager::unref(int32_t page) {
  Page& pg = pages_[size_t(page)];
  if (pg.ref <= 0)
    throw std::logic_error(
        fmt::format("BlockManager: page {} released more often than held", page));
  if (--pg.ref > 0) return;
  if (pg.hashed)
    pg.lru = lru_.insert(lru_.end(), page);
  else
    free_.push_back(page);
}

void BlockManager::release(Key key) {
  auto it = seqs_.find(key);
  if (it == seqs_.end()) return;
  // the last page first, so a prefix's head is the last to be evicted
  for (auto p = it->second.pages.rbegin(); p != it->second.pages.rend(); ++p) unref(*p);
  seqs_.erase(it);
}

void BlockManager::unhash(int32_t page) {
  Page& pg = pages_[size_t(page)];
  if (!pg.hashed) return;
  auto it = by_hash_.find(pg.hash);
  if (it != by_hash_.end() && it->second == page) by_hash_.erase(it);
  pg.hashed = false;
  pg.ids.clear();
  pg.salt.clear();
  if (pg.ref == 0) {
    lru_.erase(pg.lru);
    free_.push_back(page);
  }
}

int32_t BlockManager::take_page() {
  if (free_.empty()) {
    if (lru_.empty()) throw std::logic_error("BlockManager: no page to take");
    unhash(lru_.front());  // evict: it moves to the free list
  }
  int32_t p = free_.back();
  free_.pop_back();
  return p;
}

void BlockManager::drop_cache() {
  for (int32_t p = 0; p < int32_t(pages_.size()); ++p) unhash(p);
  by_hash_.clear();
}

BlockStats BlockManager::stats() const {
  BlockStats s;
  s.pages = num_pages_;
  s.page_size = page_size_;
  for (const Page& p : pages_) {
    s.pages_in_use += p.ref > 0;
    s.pages_cached += p.hashed;
  }
  s.query_tokens = query_tokens_;
  s.hit_tokens = hit_tokens_;
  return s;
}

void BlockManager::check() const {
  auto broken = [](const std::string& what) { throw std::logic_error("BlockManager: " + what); };
  std::vector<int32_t> refs(pages_.size(), 0);
  for (const auto& [key, s] : seqs_) {
    if (int64_t(s.pages.size()) != pages_for(int64_t(s.ids.size())))
      broken(fmt::format("sequence ({}, {}) holds {} pages for {} tokens", key.first, key.second,
                         s.pages.size(), s.ids.size()));
    for (int32_t p : s.pages) {
      if (p < 0 || p >= int32_t(pages_.size())) broken(fmt::format("page {} out of range", p));
      ++refs[size_t(p)];
    }
    std::vector<int32_t> sorted = s.pages;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
      broken("a sequence holds one page twice");
  }
  std::vector<int> in_free(pages_.size(), 0), in_lru(pages_.size(), 0);
  for (int32_t p : free_) ++in_free[size_t(p)];
  for (int32_t p : lru_) ++in_lru[size_t(p)];
  for (size_t p = 0; p < pages_.size(); ++p) {
    const Page& pg = pages_[p];
    if (pg.ref != refs[p])
      broken(
          fmt::format("page {} has reference count {}, {} sequences hold it", p, pg.ref, refs[p]));
    const int want_free = pg.ref == 0 && !pg.hashed, want_lru = pg.ref == 0 && pg.hashed;
    if (in_free[p] != want_free)
      broken(fmt::format("page {} is {} times on the free list", p, in_free[p]));
    if (in_lru[p] != want_lru)
      broken(fmt::format("page {} is {} times on the LRU list", p, in_lru[p]));
    if (pg.hashed) {
      auto it = by_hash_.find(pg.hash);
      if (it == by_hash_.end() || it->second != int32_t(p))
        broken(fmt::format("hashed page {} is not in the hash map", p));
      if (int64_t(pg.ids.size()) != page_size_)
        broken(fmt::format("cached page {} has no full key", p));
    }
  }
  for (const auto& [h, p] : by_hash_)
    if (!pages_[size_t(p)].hashed || pages_[size_t(p)].hash != h)
      broken(fmt::format("the hash map names page {}, which does not hold that prefix", p));
}

}  // namespace vkcls
