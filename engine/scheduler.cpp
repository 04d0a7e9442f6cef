#include "engine/scheduler.h"

#include <algorithm>

namespace vkcls {

namespace {
// How many sequences that do not fit a batch may be passed over to fill it with later ones.
constexpr int kLookahead = 64;
}  // namespace

Scheduler::Scheduler(int64_t max_batch_tokens, size_t max_batch_seqs)
    : budget_(std::max<int64_t>(1, max_batch_tokens)),
      max_seqs_(std::max<size_t>(1, max_batch_seqs)) {}

void Scheduler::add(uint64_t request, int64_t priority, const std::vector<int64_t>& seq_tokens,
                    bool chunkable) {
  Pending p{request, chunkable, {}, 0, 0};
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
  queue_.erase(it->second);
  keys_.erase(it);
  return dropped;
}

std::optional<BatchPlan> Scheduler::next() {
  if (queue_.empty()) return std::nullopt;
  BatchPlan plan;
  int passed = 0;
  std::vector<Key> finished;
  auto take = [&](Pending& p, int64_t len) {
    auto [index, tokens] = p.seqs[p.next];
    bool last = p.next_begin + len >= tokens;
    plan.items.push_back({p.request, index, p.next_begin, len, last});
    plan.tokens += len;
    if (last) {
      ++p.next;
      p.next_begin = 0;
      --queued_seqs_;
    } else {
      p.next_begin += len;
    }
    return last;
  };
  for (auto& [key, p] : queue_) {
    // p's sequences in order while they fit; at most one chunk of a chunkable one
    while (p.next < p.seqs.size() && plan.items.size() < max_seqs_ && plan.tokens < budget_) {
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
  return plan;
}

}  // namespace vkcls
