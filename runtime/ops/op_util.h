// Small helpers shared by the op host functions: argument checks that throw
// std::invalid_argument naming the op, the tensor, its shape and the
// expectation; and the 2-D grid that keeps dispatches under maxComputeWorkGroupCount.
#pragma once
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/context.h"
#include "runtime/tensor.h"

namespace vkcls::ops::detail {

[[noreturn]] inline void fail(const char* op, const std::string& what) {
  throw std::invalid_argument(fmt::format("ops::{}: {}", op, what));
}

inline void expect_dtype(const char* op, const char* name, const Tensor& t, DType want) {
  if (!t.valid()) fail(op, fmt::format("{} is not a tensor (no buffer)", name));
  if (t.dtype != want)
    fail(op, fmt::format("{} is {}, expected dtype {}", name, t.describe(), dtype_name(want)));
}

inline void expect_rank(const char* op, const char* name, const Tensor& t, size_t rank) {
  if (t.shape.size() != rank)
    fail(op, fmt::format("{} is {}, expected {} dimension(s)", name, t.describe(), rank));
}

// t has exactly `shape` (given as text for the message, e.g. "[rows, cols] = [3, 7]").
inline void expect_shape(const char* op, const char* name, const Tensor& t, std::vector<int64_t> shape,
                         const char* meaning) {
  if (t.shape != shape) {
    std::string s;
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    fail(op, fmt::format("{} is {}, expected shape {} = [{}]", name, t.describe(), meaning, s));
  }
}

// The shader indexes with 32-bit unsigned integers.
inline void expect_u32_elements(const char* op, const char* name, const Tensor& t) {
  if (uint64_t(t.numel()) > UINT32_MAX)
    fail(op, fmt::format("{} is {}: more than 2^32 - 1 elements", name, t.describe()));
}

inline bool overlaps(const Tensor& a, const Tensor& b) {
  return a.buffer == b.buffer && a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
}

// `groups` workgroups as a gx * gy grid with gx within the device's limit; the
// shaders flatten it with group_index() (shaders/grid.glsl) and skip the excess.
struct Grid {
  uint32_t x = 1, y = 1;
};
inline Grid grid_for(const Context& ctx, uint64_t groups) {
  uint64_t max_x = std::max<uint32_t>(1, std::min<uint32_t>(ctx.info().max_workgroup_count[0], 65535));
  uint64_t max_y = std::max<uint32_t>(1, ctx.info().max_workgroup_count[1]);
  if (groups == 0) return {0, 0};
  Grid g;
  g.x = uint32_t(std::min(groups, max_x));
  uint64_t gy = (groups + g.x - 1) / g.x;
  if (gy > max_y) throw std::invalid_argument(fmt::format("{} workgroups exceed the device's grid", groups));
  g.y = uint32_t(gy);
  return g;
}
inline uint64_t div_up(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// The most bytes one weight binding may span: maxStorageBufferRange, or the smaller
// VKCLS_MAX_BINDING_BYTES when set (tests use it to split small tables and matrices).
inline uint64_t max_binding_bytes(const Context& ctx) {
  uint64_t max_bytes = ctx.info().max_storage_buffer_range;
  long override_bytes = env_int("VKCLS_MAX_BINDING_BYTES", 0);
  if (override_bytes > 0) max_bytes = std::min<uint64_t>(max_bytes, uint64_t(override_bytes));
  return max_bytes;
}

// The attention ops' CPU-driver kernels (attention_cpu.comp, paged_attention_cpu.comp):
// wanted on CPU drivers, VKCLS_ATTENTION=tiled|cpu overrides (tests) ...
inline bool attention_wants_cpu_kernel(const Context& ctx) {
  const char* force = std::getenv("VKCLS_ATTENTION");
  const std::string f = force ? force : "";
  if (f == "tiled") return false;
  return f == "cpu" || ctx.info().type == VK_PHYSICAL_DEVICE_TYPE_CPU;
}
// ... and possible where the device reads vec4 texels with subgroup broadcasts over 8 lanes and
// each tensor is whole texels at a 16-byte offset within the texel-buffer limit.
inline bool attention_cpu_kernel_fits(const Context& ctx, std::initializer_list<const Tensor*> ts) {
  const DeviceInfo& d = ctx.info();
  bool ok = d.texel_buffer_f32x4 && d.subgroup_ballot && d.subgroup_size >= 8;
  for (const Tensor* t : ts)
    ok = ok && (t->dtype == DType::f32 || d.texel_buffer_f16x4) && t->offset % 16 == 0 &&
         t->bytes % 16 == 0 && uint64_t(t->numel() / 4) <= d.max_texel_buffer_elements;
  return ok;
}

constexpr uint32_t kWorkgroup = 256;  // local_size_x of every op shader here

}  // namespace vkcls::ops::detail
