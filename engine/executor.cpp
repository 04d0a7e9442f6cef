#include "engine/executor.h"

#include <fmt/format.h>

#include <algorithm>

#include "runtime/vk_check.h"
#include "vkcls/types.h"

namespace vkcls {

namespace {

// VulkanError -> Error: a lost device or a timeout ends the device's work; anything else is a bug.
[[noreturn]] void rethrow_vulkan(const VulkanError& e) {
  bool lost = e.device_lost() || e.result() == VK_TIMEOUT;
  throw Error(lost ? ErrorKind::device_lost : ErrorKind::internal,
              fmt::format("device: {}", e.what()));
}

}  // namespace

DeviceExecutor::DeviceExecutor(Context& ctx, ModelRunner& runner, const KvCache* kv, size_t slots)
    : ctx_(ctx), runner_(runner), kv_(kv) {
  slots_.resize(std::max<size_t>(1, slots));
  for (size_t i = 0; i < slots_.size(); ++i) {
    slots_[i].scratch = std::make_unique<Arena>(ctx, fmt::format("activations {}", i), 64ull << 20);
    slots_[i].rec = std::make_unique<Recorder>(ctx);
  }
}

DeviceExecutor::~DeviceExecutor() = default;

uint64_t DeviceExecutor::peak_scratch_bytes() const {
  uint64_t peak = 0;
  for (const Slot& s : slots_) peak = std::max<uint64_t>(peak, s.scratch->peak_bytes_in_use());
  return peak;
}

uint64_t DeviceExecutor::reserved_scratch_bytes() const {
  uint64_t sum = 0;
  for (const Slot& s : slots_) sum += s.scratch->bytes_reserved();
  return sum;
}

void DeviceExecutor::launch(size_t slot, const std::vector<ExecItem>& items) {
  Slot& s = slots_.at(slot);
  if (ctx_.lost())
    throw Error(ErrorKind::device_lost,
                "device: the GPU was lost earlier; no further work runs on it");
  try {
    record(s, items);
    s.rec->submit();
  } catch (const VulkanError& e) {
    s.rec->discard();
    rethrow_vulkan(e);
  } catch (...) {
    s.rec->discard();
    throw;
  }
}

void DeviceExecutor::record(Slot& s, const std::vector<ExecItem>& items) {
  const RunnerInfo& info = runner_.info();
  s.scratch->reset();
  s.rec->discard();  // nothing half-recorded from a launch that threw
  s.outputs.clear();
  s.items = items.size();

  // the packed batch: ids, positions, token types, sequence boundaries
  std::vector<int32_t> ids, pos, types, cu = {0};
  int64_t max_len = 0;
  for (const ExecItem& it : items) {
    for (int64_t t = it.begin; t < it.begin + it.len; ++t) {
      ids.push_back((*it.ids)[size_t(t)]);
      pos.push_back(int32_t(t) + info.position_offset);
      types.push_back(it.type_ids && size_t(t) < it.type_ids->size() ? (*it.type_ids)[size_t(t)]
                                                                     : 0);
    }
    cu.push_back(int32_t(ids.size()));
    max_len = std::max(max_len, it.len);
  }
  Arena& a = *s.scratch;
  const int64_t T = int64_t(ids.size());
  DeviceBatch b;
  b.tokens = T;
  b.seqs = int64_t(items.size());
  b.max_seqlen = max_len;
  b.ids = a.alloc(DType::i32, {T});
  b.positions = a.alloc(DType::i32, {T});
  b.type_ids = a.alloc(DType::i32, {T});
  b.cu_seqlens = a.alloc(DType::i32, {int64_t(cu.size())});
  ctx_.upload(b.ids, ids.data(), ids.size() * 4);
  ctx_.upload(b.positions, pos.data(), pos.size() * 4);
  ctx_.upload(b.type_ids, types.data(), types.size() * 4);
  ctx_.upload(b.cu_seqlens, cu.data(), cu.size() * 4);
  b.host_cu_seqlens = cu;
  for (const ExecItem& it : items) b.seq_lengths.push_back(int64_t(it.ids->size()));
  Tensor layer1;
  bool want_layer1 = std::any_of(items.begin(), items.end(),
                                 [](const ExecItem& i) { return i.head == HeadKind::hidden1; });
  if (want_layer1) b.capture_layer1 = &layer1;

  Recorder& rec = *s.rec;
  if (kv_) {
    add_block_tables(b, a, items);
    rec.barrier_after_earlier_submissions();  // the cache is shared with the batch before
  }
  Tensor hidden = runner_.forward(rec, a, b);

  // pooled heads: one ops::pool over every pooled item's rows, then the heads on their subsets
  for (HeadKind kind : {HeadKind::sequence, HeadKind::embed}) {
    std::vector<int32_t> ranges;
    std::vector<size_t> which;
    for (size_t i = 0; i < items.size(); ++i)
      if (items[i].head == kind) {
        ranges.push_back(cu[i] + items[i].pool_begin);
        ranges.push_back(cu[i] + items[i].pool_end);
        which.push_back(i);
      }
    if (which.empty()) continue;
    const int64_t n = int64_t(which.size());
    Tensor r = a.alloc(DType::i32, {n, 2});
    ctx_.upload(r, ranges.data(), ranges.size() * 4);
    Tensor pooled = a.alloc(DType::f32, {n, info.hidden});
    ops::pool(ctx_, rec, hidden, r, pooled, ops::Pool::mean);
    Tensor out = pooled;
    if (kind == HeadKind::sequence) {
      const HeadSpec* head = runner_.sequence_head();
      if (!head)
        throw Error(ErrorKind::unsupported, "the model has no sequence-classification head");
      out = run_head(ctx_, rec, a, *head, pooled);
    }
    for (size_t k = 0; k < which.size(); ++k)
      s.outputs.push_back({out, out.dim(1), which[k], int64_t(k), 1});
  }
  // per-token outputs: rows of each item in the packed batch
  bool token = false;
  for (const ExecItem& it : items) token |= it.head == HeadKind::token;
  Tensor logits;
  if (token) {
    const HeadSpec* head = runner_.token_head();
    if (!head) throw Error(ErrorKind::unsupported, "the model has no token-classification head");
    logits = run_head(ctx_, rec, a, *head, hidden);
  }
  for (size_t i = 0; i < items.size(); ++i) {
    HeadKind k = items[i].head;
    const Tensor* t = k == HeadKind::token     ? &logits
                      : k == HeadKind::hidden  ? &hidden
                      : k == HeadKind::hidden1 ? &layer1
                                               : nullptr;
    if (t) s.outputs.push_back({*t, t->dim(1), i, cu[i], items[i].len});
  }
}

// context_lens [S]: tokens of each sequence before its chunk; block_tables [S, max pages];
// slot_mapping [T]: where each new token's K and V go
void DeviceExecutor::add_block_tables(DeviceBatch& b, Arena& a,
                                      const std::vector<ExecItem>& items) const {
  const int64_t P = kv_->page_size();
  size_t width = 1;
  for (const ExecItem& it : items) {
    if (!it.pages || int64_t(it.pages->size()) * P < it.begin + it.len)
      throw Error(ErrorKind::internal, "paged KV: an item without pages for its tokens");
    width = std::max(width, it.pages->size());
  }
  std::vector<int32_t> context, tables(items.size() * width, 0), slots;
  for (size_t i = 0; i < items.size(); ++i) {
    const ExecItem& it = items[i];
    context.push_back(int32_t(it.begin));
    std::copy(it.pages->begin(), it.pages->end(), tables.begin() + int64_t(i * width));
    for (int64_t t = it.begin; t < it.begin + it.len; ++t)
      slots.push_back(int32_t((*it.pages)[size_t(t / P)] * P + t % P));
  }
  b.context_lens = a.alloc(DType::i32, {int64_t(items.size())});
  b.block_tables = a.alloc(DType::i32, {int64_t(items.size()), int64_t(width)});
  b.slot_mapping = a.alloc(DType::i32, {int64_t(slots.size())});
  ctx_.upload(b.context_lens, context.data(), context.size() * 4);
  ctx_.upload(b.block_tables, tables.data(), tables.size() * 4);
  ctx_.upload(b.slot_mapping, slots.data(), slots.size() * 4);
  b.kv = kv_;
}

bool DeviceExecutor::done(size_t slot) {
  try {
    return slots_.at(slot).rec->done();
  } catch (const VulkanError& e) {
    rethrow_vulkan(e);
  }
}

std::vector<std::vector<float>> DeviceExecutor::finish(size_t slot) {
  Slot& s = slots_.at(slot);
  try {
    s.rec->wait();
  } catch (const VulkanError& e) {
    rethrow_vulkan(e);
  }
  // one download per distinct output tensor, then slices per item
  std::vector<std::vector<float>> rows(s.items);
  std::vector<std::pair<VkBuffer, VkDeviceSize>> seen;
  std::vector<std::vector<float>> host;
  for (const Output& o : s.outputs) {
    auto key = std::make_pair(o.t.buffer, o.t.offset);
    size_t k = size_t(std::find(seen.begin(), seen.end(), key) - seen.begin());
    if (k == seen.size()) {
      seen.push_back(key);
      host.emplace_back(size_t(o.t.numel()));
      ctx_.download(o.t, host.back().data(), host.back().size() * 4);
    }
    const std::vector<float>& h = host[k];
    rows[o.item].assign(h.begin() + o.row * o.width, h.begin() + (o.row + o.rows) * o.width);
  }
  s.outputs.clear();
  return rows;
}

}  // namespace vkcls
