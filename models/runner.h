// The model runner interface: one implementation per architecture family (models/<family>.cpp),
// chosen by the registry (models/registry.h) from config.json. A runner turns a packed batch of
// token ids into final hidden states; it knows nothing of tasks, requests or activations. Its
// heads are data (poolers/head.h) that the pooler runs.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "poolers/head.h"
#include "poolers/pooling.h"
#include "runtime/kv_cache.h"
#include "runtime/memory.h"
#include "runtime/recorder.h"

namespace vkcls {

// One device batch: sequences packed back to back, no padding (all tensors i32).
//   ids, positions, type_ids: [T]    cu_seqlens: [S + 1] (rows of sequence s: cu[s] .. cu[s+1])
// Causal decoders with paged KV memory (kv set) add, per sequence, the tokens already in the
// cache before this chunk and the block table through which attention reads them; every new
// token's K and V go to its slot first (positions are the tokens' own, chunk or not).
struct DeviceBatch {
  Tensor ids, positions, type_ids, cu_seqlens;
  int64_t tokens = 0, seqs = 0, max_seqlen = 0;
  Tensor context_lens;  // [S]: tokens of each sequence already in the KV cache (invalid: none)
  Tensor block_tables;  // [S, max_blocks] KV pages of each sequence (invalid: no paged KV)
  Tensor slot_mapping;  // [T]: the KV slot each new token is written to
  const KvCache* kv = nullptr;
  Tensor* capture_layer1 = nullptr;  // tests: receives the hidden state after the first layer
  // host copies: cu_seqlens, and each sequence's whole length (a chunk may hold part of it);
  // dynamic NTK RoPE picks frequencies by length
  std::vector<int32_t> host_cu_seqlens;
  std::vector<int64_t> seq_lengths;
};

struct RunnerInfo {
  std::string family;  // "bert", "modernbert", ...
  int64_t hidden = 0, vocab_size = 0;
  int64_t max_tokens = 0;       // longest sequence the positions allow
  int64_t type_vocab_size = 0;  // 0: token types are ignored
  int32_t position_offset = 0;  // position of token i is i + offset (RoBERTa: padding_idx + 1)
  bool causal = false;          // decoders: causal attention (chunked prefill, prefix cache)
  int64_t kv_layers = 0, kv_row_width = 0;  // causal: layers, kv_heads * head_dim of the cache
  // false when a token's keys depend on more than the tokens before it (dynamic NTK RoPE picks
  // frequencies by the whole input's length): no page is shared between sequences then
  bool prefix_cacheable = true;
  std::optional<int32_t> pad_token_id;         // LAST pooling skips trailing pad tokens
  SeqPooling seq_pooling = SeqPooling::cls;    // what the sequence head pools
  SeqPooling embed_pooling = SeqPooling::cls;  // the model's own embedding pooling
  // f32 activations of one token through the forward pass (bytes), and the widest single
  // activation row, for sizing batches under the scratch arena and the binding limit
  int64_t scratch_bytes_per_token = 0;
  int64_t widest_row_bytes = 0;
  uint64_t weight_bytes = 0;
};

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;
  virtual const RunnerInfo& info() const = 0;
  // Records the forward pass; returns the final hidden states [T, hidden] f32 in `scratch`.
  virtual Tensor forward(Recorder& rec, Arena& scratch, const DeviceBatch& batch) = 0;
  // The checkpoint's heads (nullptr when it has none): sequence classification on pooled rows,
  // token classification on every row.
  virtual const HeadSpec* sequence_head() const { return nullptr; }
  virtual const HeadSpec* token_head() const { return nullptr; }
};

}  // namespace vkcls
