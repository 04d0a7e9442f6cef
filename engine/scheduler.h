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
//
// With paged KV memory (a BlockManager), a sequence is admitted (all its pages reserved, the
// cached prefix found) when it is first scheduled, and its chunks start after the cached
// tokens. A sequence whose pages are not free waits, and no later sequence is admitted before
// it (admitted ones go on, finish and free theirs); the Engine releases a sequence's pages once
// its last chunk came back.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/block_manager.h"

namespace vkcls {

struct BatchItem {
  uint64_t request = 0;
  size_t seq = 0;              // index among the request's sequences
  int64_t begin = 0, len = 0;  // the chunk: tokens [begin, begin + len) of the sequence
  bool last = true;            // the chunk ends the sequence
  std::vector<int32_t> pages;  // paged KV: the sequence's block table (a copy: the batch may
                               // run after the sequence was cancelled and its pages freed)
};

// What paged KV memory needs of a sequence: its ids (hashed for the prefix cache) and whether
// it may start from cached pages (LAST pooling on a causal model: rows before the last one are
// never read).
struct SeqKv {
  const std::vector<int32_t>* ids = nullptr;
  bool read_cache = false;
};

struct BatchPlan {
  std::vector<BatchItem> items;
  int64_t tokens = 0;
};

class Scheduler {
 public:
  // max_batch_tokens: the budget of one batch; max_batch_seqs: sequences per batch.
  // blocks: paged KV memory (decoders), or nullptr.
  explicit Scheduler(int64_t max_batch_tokens, size_t max_batch_seqs = 4096,
                     BlockManager* blocks = nullptr);

  // Queues a request's sequences (their token counts). A sequence longer than the budget must
  // be chunkable (the Engine refuses it otherwise, before it gets here).
  // With paged KV memory, `kv` has one entry per sequence (ids outlive the request's stay here),
  // and cache_salt keys its pages apart from other tenants'.
  void add(uint64_t request, int64_t priority, const std::vector<int64_t>& seq_tokens,
           bool chunkable, std::vector<SeqKv> kv = {}, std::string cache_salt = {});
  // The sequence's last chunk came back (or failed): its pages are free again.
  void release(uint64_t request, size_t seq);
  // Drops what is still queued of a request; returns the indices of the sequences dropped
  // (a chunked sequence partly run counts as dropped).
  std::vector<size_t> cancel(uint64_t request);
  // The next batch; nothing when the queue is empty, or when every queued sequence waits for
  // KV pages that sequences in flight still hold.
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
    std::vector<SeqKv> kv;
    std::string salt;
    bool admitted = false;       // seqs[next] holds its KV pages
    std::vector<int32_t> table;  // and these are they
  };
  using Key = std::pair<int64_t, uint64_t>;  // (priority, arrival)

  int64_t budget_;
  size_t max_seqs_;
  BlockManager* blocks_;
  uint64_t arrivals_ = 0;
  size_t queued_seqs_ = 0;
  std::map<Key, Pending> queue_;
  std::map<uint64_t, Key> keys_;  // request -> its queue key
};

}  // namespace vkcls
