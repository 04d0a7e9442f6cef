// The scheduler: one queue of tokenized sequences from every request, packed into device
// batches under a real token budget. No threads and no device here (the Engine drives it),
// so its decisions are tested on their own, deterministically.
//
// Order: most urgent request first (lowest priority value, then arrival), a request's
// sequences in order. A batch takes sequences in that order while they fit the budget; when a
// request's next sequence does not fit, the batch goes on with the next requests (up to a
// few passed over) so that shorter ones fill it; a request's own sequences never overtake
// each other. Sequences of different requests, tasks and parameters share a batch: everything
// per request is applied after the forward pass. A sequence longer than the whole budget that
// cannot be split runs alone.
//
// Chunkable sequences (causal decoders) may be split: a chunk fills what is left of the budget
// and the rest waits for a later batch (at most one chunk of a sequence per batch, in order).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace vkcls {

struct BatchItem {
  uint64_t request = 0;
  size_t seq = 0;              // index among the request's sequences
  int64_t begin = 0, len = 0;  // the chunk: tokens [begin, begin + len) of the sequence
  bool last = true;            // the chunk ends the sequence
};

struct BatchPlan {
  std::vector<BatchItem> items;
  int64_t tokens = 0;
};

class Scheduler {
 public:
  // max_batch_tokens: the budget of one batch; max_batch_seqs: sequences per batch.
  explicit Scheduler(int64_t max_batch_tokens, size_t max_batch_seqs = 4096);

  // Queues a request's sequences (their token counts). A sequence longer than the budget must
  // be chunkable (the Engine refuses it otherwise, before it gets here).
  void add(uint64_t request, int64_t priority, const std::vector<int64_t>& seq_tokens,
           bool chunkable);
  // Drops what is still queued of a request; returns the indices of the sequences dropped
  // (a chunked sequence partly run counts as dropped).
  std::vector<size_t> cancel(uint64_t request);
  // The next batch, or nothing when the queue is empty.
  std::optional<BatchPlan> next();

  bool empty() const { return queue_.empty(); }
  size_t queued_requests() const { return queue_.size(); }
  size_t queued_sequences() const { return queued_seqs_; }
  int64_t max_batch_tokens() const { return budget_; }

 private:
  struct Pending {
    uint64_t request;
    bool chunkable;
    std::vector<std::pair<size_t, int64_t>> seqs;  // (index, tokens), in order
    size_t next = 0;                               // first sequence not yet fully scheduled
    int64_t next_begin = 0;  // tokens of seqs[next] already scheduled (chunked)
  };
  using Key = std::pair<int64_t, uint64_t>;  // (priority, arrival)

  int64_t budget_;
  size_t max_seqs_;
  uint64_t arrivals_ = 0;
  size_t queued_seqs_ = 0;
  std::map<Key, Pending> queue_;
  std::map<uint64_t, Key> keys_;  // request -> its queue key
};

}  // namespace vkcls
