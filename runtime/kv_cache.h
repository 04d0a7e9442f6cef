// Paged KV memory: every layer's keys and values in fixed-size pages of `page_size` token slots,
// one tensor [num_pages * page_size, kv_heads * head_dim] per layer for K and one for V (f32, or
// f16 beside f16 weights; each its own binding, never over maxStorageBufferRange, packed into a
// few device allocations). Which pages a sequence owns is the
// engine's business (engine/block_manager.h); the ops kv_write and paged_attention reach slots
// through block tables (runtime/ops.h).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/memory.h"

namespace vkcls {

class KvCache {
 public:
  // row_width: kv_heads * head_dim of one layer; page_size: a power of two.
  KvCache(Context& ctx, int64_t layers, int64_t row_width, int64_t page_size, int64_t num_pages,
          DType dtype = DType::f32);
  // How many pages `budget_bytes` buys (0 when not one), capped so that one layer's tensor
  // stays within one binding.
  static int64_t pages_for_budget(Context& ctx, uint64_t budget_bytes, int64_t layers,
                                  int64_t row_width, int64_t page_size, DType dtype);
  static uint64_t bytes_per_token(int64_t layers, int64_t row_width, DType dtype) {
    return uint64_t(2 * layers * row_width) * dtype_size(dtype);
  }

  const Tensor& k(size_t layer) const { return k_.at(layer); }
  const Tensor& v(size_t layer) const { return v_.at(layer); }
  int64_t layers() const { return int64_t(k_.size()); }
  int64_t page_size() const { return page_size_; }
  int64_t num_pages() const { return num_pages_; }
  int64_t row_width() const { return row_width_; }
  DType dtype() const { return dtype_; }
  uint64_t bytes() const {
    return uint64_t(num_pages_ * page_size_) * bytes_per_token(layers(), row_width_, dtype_);
  }

 private:
  int64_t page_size_, num_pages_, row_width_;
  DType dtype_;
  std::unique_ptr<Arena> arena_;
  std::vector<Tensor> k_, v_;
};

}  // namespace vkcls
