// The KV page bookkeeping (engine/block_manager.h) against a plain model of it: random
// admit / compute / release / drop sequences, every invariant checked after each step, every
// prefix-cache hit checked to hold exactly the tokens (and salt) it claims; then the scheduler
// with memory: waiting for pages, cached prefixes skipped, pages freed on cancel.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "engine/block_manager.h"
#include "engine/scheduler.h"

namespace vkcls::test {
namespace {

using Key = BlockManager::Key;

// What a page holds once computed, in the model: the salt and every token up to its end.
std::string content(const std::string& salt, const std::vector<int32_t>& ids, int64_t end) {
  std::string s = salt + "|";
  for (int64_t i = 0; i < end; ++i) s += std::to_string(ids[size_t(i)]) + ",";
  return s;
}

struct ModelSeq {
  std::vector<int32_t> ids, pages;
  std::string salt;
  int64_t computed = 0;
};

void run_random(uint32_t seed, int64_t pages, int64_t page_size, int steps) {
  BlockManager bm(pages, page_size, true);
  std::mt19937 rng(seed);
  std::map<Key, ModelSeq> live;
  std::map<int32_t, std::string> page_content;  // pages computed and not reused since
  const std::vector<std::string> salts = {"", "tenant-a", "tenant-b"};
  // a few shared prefixes so that lookups hit
  std::vector<std::vector<int32_t>> prefixes;
  for (int p = 0; p < 4; ++p) {
    std::vector<int32_t> v(size_t(page_size) * (1 + p % 3));
    for (int32_t& x : v) x = int32_t(rng() % 5);
    prefixes.push_back(v);
  }
  uint64_t next_request = 1;
  int hits = 0, waits = 0;
  for (int step = 0; step < steps; ++step) {
    const int op = int(rng() % 10);
    if (op < 4) {  // admit
      ModelSeq m;
      m.salt = salts[rng() % salts.size()];
      if (rng() % 3) m.ids = prefixes[rng() % prefixes.size()];
      const size_t extra = rng() % size_t(3 * page_size);
      for (size_t i = 0; i < extra + 1; ++i) m.ids.push_back(int32_t(rng() % 5));
      const bool read = rng() % 4 != 0;
      const int64_t max_cached = int64_t(m.ids.size()) - 1 - int64_t(rng() % 3);
      const Key key{next_request++, rng() % 3};
      const int64_t need = bm.pages_for(int64_t(m.ids.size()));
      const int64_t before = bm.available();
      auto a = bm.admit(key, m.ids, m.salt, read, max_cached);
      if (!a) {
        ++waits;
        // refused only when the pages it still needs are not there
        ASSERT_GT(need, 0);
        ASSERT_LT(before, need) << "refused with " << before << " pages available for " << need;
        continue;
      }
      m.pages = *a->pages;
      ASSERT_EQ(int64_t(m.pages.size()), need);
      ASSERT_EQ(a->cached_tokens % page_size, 0);
      ASSERT_LE(a->cached_tokens, std::max<int64_t>(0, max_cached));
      ASSERT_LT(a->cached_tokens, int64_t(m.ids.size()));
      if (!read) {
        ASSERT_EQ(a->cached_tokens, 0);
      }
      for (int64_t i = 0; i < a->cached_tokens / page_size; ++i) {
        // a hit holds exactly this sequence's salt and tokens up to the page's end
        auto it = page_content.find(m.pages[size_t(i)]);
        ASSERT_NE(it, page_content.end())
            << "a hit on page " << m.pages[size_t(i)] << ", which nobody computed";
        ASSERT_EQ(it->second, content(m.salt, m.ids, (i + 1) * page_size));
        ++hits;
      }
      // pages newly handed out are no longer what they held
      for (size_t i = size_t(a->cached_tokens / page_size); i < m.pages.size(); ++i)
        page_content.erase(m.pages[i]);
      m.computed = a->cached_tokens;
      live.emplace(key, std::move(m));
    } else if (op < 7 && !live.empty()) {  // a chunk computed
      auto it = std::next(live.begin(), long(rng() % live.size()));
      ModelSeq& m = it->second;
      const int64_t n = int64_t(m.ids.size());
      m.computed = std::min<int64_t>(n, m.computed + 1 + int64_t(rng() % size_t(2 * page_size)));
      for (int64_t i = 0; i < m.computed / page_size; ++i)
        if (!page_content.count(m.pages[size_t(i)]))
          page_content[m.pages[size_t(i)]] = content(m.salt, m.ids, (i + 1) * page_size);
      bm.computed(it->first, m.computed);
    } else if (op < 9 && !live.empty()) {  // finished or cancelled
      auto it = std::next(live.begin(), long(rng() % live.size()));
      bm.release(it->first);
      bm.release(it->first);  // twice: the second is a no-op
      live.erase(it);
    } else if (op == 9 && rng() % 8 == 0) {  // a failed batch: nothing cached is found again
      bm.drop_cache();                       // (pages keep what they hold)
      ASSERT_EQ(bm.stats().pages_cached, 0);
    }
    ASSERT_NO_THROW(bm.check()) << "step " << step;
    // no page held by two live sequences unless both found it as the same cached content
    std::map<int32_t, int> holders;
    for (auto& [k, m] : live)
      for (int32_t p : m.pages) ++holders[p];
    for (auto [p, n] : holders)
      if (n > 1) {
        ASSERT_TRUE(page_content.count(p)) << "page " << p << " shared but never computed";
      }
    BlockStats st = bm.stats();
    ASSERT_EQ(st.pages_in_use, int64_t(holders.size()));
  }
  for (auto& [k, m] : live) bm.release(k);
  ASSERT_NO_THROW(bm.check());
  EXPECT_EQ(bm.stats().pages_in_use, 0);
  EXPECT_EQ(bm.available(), pages);  // nothing leaked
  EXPECT_GT(hits, 0) << "the random run never hit the cache: it tests too little";
  EXPECT_GT(waits, 0) << "the random run never ran out of pages: it tests too little";
}

TEST(BlockManager, RandomSequencesAgainstAModel) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(seed);
    run_random(seed, 24, 4, 3000);
    if (HasFatalFailure()) return;
  }
}

TEST(BlockManager, SaltsNeverSharePagesAndTheSameSaltDoes) {
  BlockManager bm(16, 4, true);
  std::vector<int32_t> ids = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  auto a = bm.admit({1, 0}, ids, "alice", true, 100);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->cached_tokens, 0);
  bm.computed({1, 0}, 9);
  auto b = bm.admit({2, 0}, ids, "carol", true, 100);  // as long as "alice"
  ASSERT_TRUE(b);
  EXPECT_EQ(b->cached_tokens, 0);
  for (int32_t p : *b->pages)
    EXPECT_EQ(std::count(a->pages->begin(), a->pages->end(), p), 0) << "page " << p << " shared";
  auto c = bm.admit({3, 0}, ids, "alice", true, 100);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->cached_tokens, 8);  // two full pages; the last token is always computed
  EXPECT_EQ((*c->pages)[0], (*a->pages)[0]);
  EXPECT_EQ((*c->pages)[1], (*a->pages)[1]);
  EXPECT_NE((*c->pages)[2], (*a->pages)[2]);
  auto d = bm.admit({4, 0}, ids, "", true, 100);  // no salt is a salt of its own
  ASSERT_TRUE(d);
  EXPECT_EQ(d->cached_tokens, 0);
  BlockStats st = bm.stats();
  EXPECT_EQ(st.query_tokens, 36u);
  EXPECT_EQ(st.hit_tokens, 8u);
  bm.check();
}

TEST(BlockManager, IdlePagesAreEvictedLeastRecentlyUsedFirst) {
  BlockManager bm(4, 2, true);
  ASSERT_TRUE(bm.admit({1, 0}, {1, 1, 1}, "", true, 9));  // pages for [1 1][1]
  bm.computed({1, 0}, 3);
  bm.release({1, 0});
  ASSERT_TRUE(bm.admit({2, 0}, {2, 2, 2}, "", true, 9));
  bm.computed({2, 0}, 3);
  bm.release({2, 0});
  EXPECT_EQ(bm.stats().pages_cached, 2);
  // four pages needed: both cached pages are evicted, the older one first
  ASSERT_TRUE(bm.admit({3, 0}, {3, 3, 3, 3, 3, 3, 3}, "", true, 9));
  EXPECT_EQ(bm.stats().pages_cached, 0);
  bm.release({3, 0});
  ASSERT_TRUE(bm.admit({4, 0}, {1, 1, 1}, "", true, 9));
  EXPECT_EQ(bm.stats().hit_tokens, 0u);
  bm.check();
}

// (request, seq, begin, len)
using Item = std::tuple<uint64_t, size_t, int64_t, int64_t>;
std::vector<Item> items(const BatchPlan& p) {
  std::vector<Item> out;
  for (const BatchItem& i : p.items) out.emplace_back(i.request, i.seq, i.begin, i.len);
  return out;
}

TEST(SchedulerWithPages, WaitsForPagesThenRuns) {
  BlockManager bm(4, 4, false);  // 16 tokens of cache
  Scheduler s(100, 4096, &bm);
  std::vector<int32_t> a(12, 1), b(8, 2);
  s.add(1, 0, {12}, true, {{&a, false}});
  s.add(2, 0, {8}, true, {{&b, false}});
  auto p = s.next();
  ASSERT_TRUE(p);
  EXPECT_EQ(items(*p), (std::vector<Item>{{1, 0, 0, 12}}));  // 3 pages; 2 more do not fit
  EXPECT_EQ(p->items[0].pages.size(), 3u);
  EXPECT_FALSE(s.next());  // waiting for memory, not empty
  EXPECT_FALSE(s.empty());
  s.release(1, 0);
  p = s.next();
  ASSERT_TRUE(p);
  EXPECT_EQ(items(*p), (std::vector<Item>{{2, 0, 0, 8}}));
  s.release(2, 0);
  EXPECT_EQ(bm.available(), 4);
}

TEST(SchedulerWithPages, CachedPrefixIsSkippedAndChunksFollowIt) {
  BlockManager bm(32, 4, true);
  Scheduler s(6, 4096, &bm);
  std::vector<int32_t> q = {9, 9, 9, 9, 9, 9, 9, 9, 1, 2}, r = {9, 9, 9, 9, 9, 9, 9, 9, 3, 4, 5};
  s.add(1, 0, {10, 11}, true, {{&q, true}, {&r, true}});
  // budget 6: seq 0 in chunks [0,6) [6,10); its pages 0..1 are registered as they are planned
  auto p = s.next();
  ASSERT_TRUE(p);
  EXPECT_EQ(items(*p), (std::vector<Item>{{1, 0, 0, 6}}));
  p = s.next();
  ASSERT_TRUE(p);
  // seq 0's last 4, then seq 1 starts after the 8 cached tokens: 3 computed
  EXPECT_EQ(items(*p), (std::vector<Item>{{1, 0, 6, 4}, {1, 1, 8, 2}}));
  p = s.next();
  ASSERT_TRUE(p);
  EXPECT_EQ(items(*p), (std::vector<Item>{{1, 1, 10, 1}}));
  EXPECT_EQ(bm.stats().hit_tokens, 8u);
}

TEST(SchedulerWithPages, CancelFreesTheSequenceInProgress) {
  BlockManager bm(8, 4, false);
  Scheduler s(4, 4096, &bm);
  std::vector<int32_t> a(20, 1);
  s.add(1, 0, {20}, true, {{&a, false}});
  ASSERT_TRUE(s.next());  // first chunk; all 5 pages reserved
  EXPECT_EQ(bm.available(), 3);
  s.cancel(1);
  EXPECT_EQ(bm.available(), 8);
  bm.check();
}

}  // namespace
}  // namespace vkcls::test
