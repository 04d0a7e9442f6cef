#include "engine/scheduler.h"

#include <algorithm>
#include <stdexcept>

namespace vkcls {

namespace {
// How many sequences that do not fit a batch may be passed over to fill it with later ones.
constexpr int kLookahead = 64;
}  // namespace

Scheduler::Scheduler(int64_t max_batch_tokens, size_t max_batch_seqs, BlockManager* blocks)
    : budget_(std::max<int64_t>(1, max_batch_tokens)),
      max_seqs_(std::max<size_t>(1, max_batch_seqs)),
      blocks_(blocks) {}

void Scheduler::add(uint64_t request, int64_t priority, const std::vector<int64_t>& seq_tokens,
                    bool chunkable, std::vector<SeqKv> kv, std::string cache_salt) {
  if (blocks_ && kv.size() != seq_tokens.size())
    throw std::logic_error("Scheduler::add: paged KV memory needs every sequence's ids");
  Pending p{request, chunkable, {}, 0, 0, std::move(kv), std::move(cache_salt), false, {}};
  for (size_t i = 0; i < seq_tokens.size(); ++i) p.seqs.emplace_back(i, seq_tokens[i]);
  if (p.seqs.empty()) return;
  Key k{priority, arrivals_++};
  queued_seqs_ += p.seqs.size();
  queue_.emplace(k, std::move(p));
  keys_[request] = k;
}

std::vector<size_t> Scheduler::cancel(uint64_t request) {
  std::vector<size_t> dropped;
  auto it = keys_.find(request);
  if (it == keys_.end()) return dropped;
  Pending& p = queue_.at(it->second);
  for (size_t i = p.next; i < p.seqs.size(); ++i) dropped.push_back(p.seqs[i].first);
  queued_seqs_ -= p.seqs.size() - p.next;
  if (p.admitted && blocks_) blocks_->release({request, p.seqs[p.next].first});
  queue_.erase(it->second);
  keys_.erase(it);
  return dropped;
}

void Scheduler::release(uint64_t request, size_t seq) {
  if (blocks_) blocks_->release({request, seq});
}

std::optional<BatchPlan> Scheduler::next() {
  if (queue_.empty()) return std::nullopt;
  BatchPlan plan;
  int passed = 0;
  bool waiting = false;  // a sequence waits for KV pages: none after it is admitted
  std::vector<Key> finished;
  // paged KV: reserve the next sequence's pages; it starts after its cached prefix
  auto admit = [&](Pending& p) {
    if (!blocks_ || p.admitted) return true;
    if (waiting) return false;
    auto [index, tokens] = p.seqs[p.next];
    const std::vector<int32_t>& all = *p.kv[index].ids;
    std::vector<int32_t> ids(all.begin(), all.begin() + std::min<int64_t>(tokens, all.size()));
    auto a = blocks_->admit({p.request, index}, ids, p.salt, p.kv[index].read_cache, tokens - 1);
    if (!a) return !(waiting = true);
    p.admitted = true;
    p.table = *a->pages;
    p.next_begin = a->cached_tokens;
    return true;
  };
  auto take = [&](Pending& p, int64_t len) {
    auto [index, tokens] = p.seqs[p.next];
    bool last = p.next_begin + len >= tokens;
    plan.items.push_back({p.request, index, p.next_begin, len, last, p.table});
    plan.tokens += len;
    if (blocks_) blocks_->computed({p.request, index}, p.next_begin + len);
    if (last) {
      ++p.next;
      p.next_begin = 0;
      p.admitted = false;
      p.table.clear();
      --queued_seqs_;
    } else {
      p.next_begin += len;
    }
    return last;
  };
  for (auto& [key, p] : queue_) {
    // p's sequences in order while they fit; at most one chunk of a chunkable one
    while (p.next < p.seqs.size() && plan.items.size() < max_seqs_ && plan.tokens < budget_) {
      if (!admit(p)) break;
      int64_t left = p.seqs[p.next].second - p.next_begin, room = budget_ - plan.tokens;
      if (left <= room) {
        take(p, left);
        continue;
      }
      if (p.chunkable)
        take(p, room);
      else if (plan.items.empty())
        take(p, left);  // longer than the whole budget: it runs alone, in its turn
      break;
    }
    if (p.next == p.seqs.size()) finished.push_back(key);
    if (plan.tokens >= budget_ || plan.items.size() >= max_seqs_) break;
    if (p.next < p.seqs.size() && ++passed > kLookahead) break;
  }
  for (const Key& k : finished) {
    keys_.erase(queue_.at(k).request);
    queue_.erase(k);
  }
  if (plan.items.empty()) return std::nullopt;
  return plan;
}

}  // namespace vkcls
