// The scheduler on its own (no device, no threads): budget, order, priorities, chunking, cancel.
#include <gtest/gtest.h>

#include <set>

#include "engine/scheduler.h"

namespace vkcls::test {
namespace {

// (request, seq, begin, len) of every item
std::vector<std::tuple<uint64_t, size_t, int64_t, int64_t>> items(const BatchPlan& p) {
  std::vector<std::tuple<uint64_t, size_t, int64_t, int64_t>> out;
  for (const BatchItem& i : p.items) out.emplace_back(i.request, i.seq, i.begin, i.len);
  return out;
}

TEST(Scheduler, PacksRequestsUnderTheBudgetInOrder) {
  Scheduler s(10);
  s.add(1, 0, {4, 3}, false);
  s.add(2, 0, {2, 5}, false);
  EXPECT_EQ(s.queued_requests(), 2u);
  EXPECT_EQ(s.queued_sequences(), 4u);
  auto b = s.next();
  ASSERT_TRUE(b);
  // request 1 whole (7 tokens), then request 2's first sequence (2): 9 <= 10; its second (5) waits
  using T = std::tuple<uint64_t, size_t, int64_t, int64_t>;
  EXPECT_EQ(items(*b), (std::vector<T>{{1, 0, 0, 4}, {1, 1, 0, 3}, {2, 0, 0, 2}}));
  EXPECT_EQ(b->tokens, 9);
  b = s.next();
  ASSERT_TRUE(b);
  EXPECT_EQ(items(*b), (std::vector<T>{{2, 1, 0, 5}}));
  EXPECT_FALSE(s.next());
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.queued_sequences(), 0u);
}

TEST(Scheduler, LowerPriorityValueFirstThenArrival) {
  Scheduler s(4);
  s.add(1, 5, {4}, false);
  s.add(2, 0, {4}, false);
  s.add(3, -5, {4}, false);
  s.add(4, 0, {4}, false);
  std::vector<uint64_t> order;
  while (auto b = s.next()) order.push_back(b->items.at(0).request);
  EXPECT_EQ(order, (std::vector<uint64_t>{3, 2, 4, 1}));
}

TEST(Scheduler, ShorterLaterSequencesFillTheBatch) {
  Scheduler s(10);
  s.add(1, 0, {6}, false);
  s.add(2, 0, {6}, false);  // does not fit after request 1
  s.add(3, 0, {3}, false);  // does
  auto b = s.next();
  ASSERT_TRUE(b);
  ASSERT_EQ(b->items.size(), 2u);
  EXPECT_EQ(b->items[0].request, 1u);
  EXPECT_EQ(b->items[1].request, 3u);
  b = s.next();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->items.at(0).request, 2u);
}

TEST(Scheduler, ARequestsOwnSequencesKeepTheirOrder) {
  Scheduler s(10);
  s.add(1, 0, {4, 8, 1}, false);  // 4 + 8 does not fit: the 1 must not overtake the 8
  auto b = s.next();
  ASSERT_EQ(b->items.size(), 1u);
  b = s.next();
  ASSERT_EQ(b->items.size(), 2u);
  EXPECT_EQ(b->items[0].seq, 1u);
  EXPECT_EQ(b->items[1].seq, 2u);
}

TEST(Scheduler, ChunkableSequencesSplitOneChunkPerBatch) {
  Scheduler s(8);
  s.add(1, 0, {3}, false);
  s.add(2, 0, {20}, true);
  auto b = s.next();
  using T = std::tuple<uint64_t, size_t, int64_t, int64_t>;
  EXPECT_EQ(items(*b), (std::vector<T>{{1, 0, 0, 3}, {2, 0, 0, 5}}));
  EXPECT_FALSE(b->items[1].last);
  b = s.next();
  EXPECT_EQ(items(*b), (std::vector<T>{{2, 0, 5, 8}}));
  b = s.next();
  EXPECT_EQ(items(*b), (std::vector<T>{{2, 0, 13, 7}}));
  EXPECT_TRUE(b->items[0].last);
  EXPECT_FALSE(s.next());
}

TEST(Scheduler, AnUnsplittableSequenceOverTheBudgetRunsAlone) {
  Scheduler s(8);
  s.add(1, 0, {20, 2}, false);
  auto b = s.next();
  ASSERT_EQ(b->items.size(), 1u);
  EXPECT_EQ(b->items[0].len, 20);
  b = s.next();
  EXPECT_EQ(b->items.at(0).len, 2);
}

TEST(Scheduler, CancelDropsWhatIsQueued) {
  Scheduler s(4);
  s.add(1, 0, {4, 4, 4}, false);
  s.add(2, 0, {1}, false);
  auto b = s.next();  // request 1's first sequence
  EXPECT_EQ(b->items.at(0).request, 1u);
  EXPECT_EQ(s.cancel(1), (std::vector<size_t>{1, 2}));
  EXPECT_TRUE(s.cancel(1).empty());  // twice: nothing more
  EXPECT_TRUE(s.cancel(99).empty());
  b = s.next();
  EXPECT_EQ(b->items.at(0).request, 2u);
  EXPECT_FALSE(s.next());
}

TEST(Scheduler, MaxSequencesPerBatch) {
  Scheduler s(1000, 3);
  s.add(1, 0, {1, 1, 1, 1, 1}, false);
  EXPECT_EQ(s.next()->items.size(), 3u);
  EXPECT_EQ(s.next()->items.size(), 2u);
}

// Random workloads: every sequence's tokens are scheduled exactly once, in order, within the
// budget (unless alone), and the queue counters end at zero.
TEST(Scheduler, RandomWorkloadsScheduleEverythingOnce) {
  uint64_t seed = 12345;
  auto rnd = [&](int n) {
    return int((seed = seed * 6364136223846793005ull + 1442695040888963407ull) >> 33) % n;
  };
  for (int round = 0; round < 200; ++round) {
    const int64_t budget = 1 + rnd(64);
    Scheduler s(budget, size_t(1 + rnd(16)));
    std::map<uint64_t, std::vector<int64_t>> lengths;
    std::map<uint64_t, bool> chunkable;
    std::set<uint64_t> cancelled;
    std::map<std::pair<uint64_t, size_t>, int64_t> covered;
    uint64_t next = 1;
    for (int step = 0; step < 60; ++step) {
      int op = rnd(10);
      if (op < 5) {
        std::vector<int64_t> l(size_t(1 + rnd(5)));
        for (auto& x : l) x = 1 + rnd(int(budget) * 2);
        bool ch = rnd(2) == 0;
        s.add(next, rnd(3) - 1, l, ch);
        lengths[next] = l;
        chunkable[next++] = ch;
      } else if (op < 6 && next > 1) {
        uint64_t r = 1 + uint64_t(rnd(int(next - 1)));
        for (size_t q : s.cancel(r)) covered[{r, q}] = -1;
        cancelled.insert(r);
      } else if (auto b = s.next()) {
        ASSERT_FALSE(b->items.empty());
        if (b->items.size() > 1) {
          EXPECT_LE(b->tokens, budget);
        }
        std::set<std::pair<uint64_t, size_t>> in_batch;
        for (const BatchItem& i : b->items) {
          ASSERT_TRUE(in_batch.insert({i.request, i.seq}).second)
              << "two chunks of one sequence in one batch";
          int64_t& done = covered[{i.request, i.seq}];
          ASSERT_GE(done, 0) << "a cancelled sequence ran";
          EXPECT_EQ(i.begin, done) << "chunks out of order";
          if (!chunkable[i.request]) {
            EXPECT_EQ(i.len, lengths[i.request][i.seq]);
          }
          done += i.len;
          EXPECT_EQ(i.last, done == lengths[i.request][i.seq]);
        }
      }
    }
    while (auto b = s.next())
      for (const BatchItem& i : b->items) covered[{i.request, i.seq}] += i.len;
    EXPECT_EQ(s.queued_sequences(), 0u);
    for (auto& [r, l] : lengths)
      for (size_t q = 0; q < l.size(); ++q) {
        int64_t got = covered[{r, q}];
        if (got != -1 && !cancelled.count(r)) {
          EXPECT_EQ(got, l[q]) << "request " << r << " seq " << q;
        }
      }
  }
}

}  // namespace
}  // namespace vkcls::test
