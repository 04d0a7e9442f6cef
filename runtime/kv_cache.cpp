#include "runtime/kv_cache.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "runtime/context.h"

namespace vkcls {

int64_t KvCache::pages_for_budget(Context& ctx, uint64_t budget_bytes, int64_t layers,
                                  int64_t row_width, int64_t page_size, DType dtype) {
  const uint64_t page_bytes = uint64_t(page_size) * bytes_per_token(layers, row_width, dtype);
  if (page_bytes == 0) return 0;
  int64_t pages = int64_t(budget_bytes / page_bytes);
  // one layer's K: pages * page_size rows of row_width f32 in one binding (and 32-bit indices)
  const uint64_t limit = std::min<uint64_t>(ctx.info().max_storage_buffer_range, UINT32_MAX);
  const uint64_t per_layer_page = uint64_t(page_size * row_width) * dtype_size(dtype);
  return std::min<int64_t>(pages, int64_t(limit / per_layer_page));
}

KvCache::KvCache(Context& ctx, int64_t layers, int64_t row_width, int64_t page_size,
                 int64_t num_pages, DType dtype)
    : page_size_(page_size), num_pages_(num_pages), row_width_(row_width), dtype_(dtype) {
  if (layers <= 0 || row_width <= 0 || num_pages <= 0 || page_size <= 0 ||
      (page_size & (page_size - 1)) != 0)
    throw std::invalid_argument(fmt::format(
        "KvCache: {} layers, row width {}, {} pages of {} (a power of two) must all be positive",
        layers, row_width, num_pages, page_size));
  if (dtype != DType::f32 && (dtype != DType::f16 || row_width % 2))
    throw std::invalid_argument("KvCache: f32, or f16 with an even row width");
  const int64_t slots = num_pages * page_size;
  // as many of the 2 * layers tensors per allocation as one binding's size holds
  const uint64_t tensor = uint64_t(slots * row_width) * dtype_size(dtype);
  const uint64_t fit = std::min<uint64_t>(ctx.info().max_storage_buffer_range, 2 * layers * tensor);
  arena_ = std::make_unique<Arena>(ctx, "kv cache", std::max(tensor, fit / tensor * tensor));
  for (int64_t l = 0; l < layers; ++l) {
    k_.push_back(arena_->alloc(dtype, {slots, row_width}));
    v_.push_back(arena_->alloc(dtype, {slots, row_width}));
  }
}

}  // namespace vkcls
