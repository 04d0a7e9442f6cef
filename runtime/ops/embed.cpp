// ops::embed: shaders/embed.comp (embed_f32, embed_f16 with -DTABLE_F16).
// A word table larger than one binding (maxStorageBufferRange, or the smaller
// VKCLS_MAX_BINDING_BYTES when set: tests use it) is bound in row ranges, one
// dispatch per range; the first writes y, later ones add into it.
#include <numeric>

#include "runtime/context.h"
#include "runtime/ops.h"
#include "runtime/ops/op_util.h"
#include "runtime/pipeline.h"

namespace vkcls::ops {

using namespace detail;

namespace {
constexpr const char* kOp = "embed";

// A table: [rows, hidden] of the word table's dtype, within one binding.
void check_table(const char* name, const Tensor& t, DType dt, int64_t hidden) {
  expect_dtype(kOp, name, t, dt);
  expect_rank(kOp, name, t, 2);
  if (t.dim(1) != hidden)
    fail(kOp, fmt::format("{} is {}, expected [rows, hidden = {}]", name, t.describe(), hidden));
}
void check_ids(const char* name, const Tensor& t, int64_t tokens) {
  expect_dtype(kOp, name, t, DType::i32);
  expect_shape(kOp, name, t, {tokens}, "[tokens]");
}
}  // namespace

void embed(Context& ctx, Recorder& rec, const Tensor& ids, const Tensor& word_table, const Tensor& y,
           const EmbedArgs& args) {
  // ids, pos_ids, type_ids: [T] i32; tables: [rows, H] f32|f16 (one dtype); y: [T, H] f32
  expect_dtype(kOp, "ids", ids, DType::i32);
  expect_rank(kOp, "ids", ids, 1);
  int64_t tokens = ids.dim(0);
  DType dt = word_table.dtype;
  if (dt != DType::f32 && dt != DType::f16)
    fail(kOp, fmt::format("word_table is {}, expected dtype f32 or f16", word_table.describe()));
  expect_rank(kOp, "word_table", word_table, 2);
  int64_t hidden = word_table.dim(1);
  if (dt == DType::f16 && !ctx.fp16_enabled())
    fail(kOp, fmt::format("word_table is {}: this device has no 16-bit storage buffers", word_table.describe()));
  if ((args.pos_ids == nullptr) != (args.pos_table == nullptr))
    fail(kOp, "pos_ids and pos_table come together (one is missing)");
  if ((args.type_ids == nullptr) != (args.type_table == nullptr))
    fail(kOp, "type_ids and type_table come together (one is missing)");
  if (args.pos_ids) {
    check_ids("pos_ids", *args.pos_ids, tokens);
    check_table("pos_table", *args.pos_table, dt, hidden);
  }
  if (args.type_ids) {
    check_ids("type_ids", *args.type_ids, tokens);
    check_table("type_table", *args.type_table, dt, hidden);
  }
  expect_dtype(kOp, "y", y, DType::f32);
  expect_shape(kOp, "y", y, {tokens, hidden}, "[tokens, hidden]");
  expect_u32_elements(kOp, "y", y);
  if (word_table.dim(0) == 0) fail(kOp, fmt::format("word_table is {}, expected at least one row", word_table.describe()));
  if (word_table.dim(0) > INT32_MAX) fail(kOp, fmt::format("word_table is {}: too many rows", word_table.describe()));
  if (tokens == 0 || hidden == 0) return;

  const DeviceInfo& info = ctx.info();
  for (const Tensor* t : {args.pos_table, args.type_table})
    if (t && uint64_t(t->numel()) * dtype_size(dt) > info.max_storage_buffer_range)
      fail(kOp, fmt::format("{} is larger than one binding ({} bytes)", t->describe(), info.max_storage_buffer_range));

  // Row ranges of the word table: each within max_bytes, each starting at an
  // offset aligned to minStorageBufferOffsetAlignment.
  uint64_t row_bytes = uint64_t(hidden) * dtype_size(dt);
  uint64_t table_rows = uint64_t(word_table.dim(0));
  uint64_t max_bytes = max_binding_bytes(ctx);
  uint64_t align = std::max<uint64_t>(1, info.min_storage_buffer_offset_alignment);
  uint64_t step = align / std::gcd(row_bytes, align);  // rows between aligned offsets
  uint64_t rows_per_range = table_rows;
  if (table_rows * row_bytes > max_bytes) {
    rows_per_range = max_bytes / row_bytes / step * step;
    if (word_table.offset % align != 0 || rows_per_range == 0)
      fail(kOp, fmt::format("word_table {} cannot be split into bindings of at most {} bytes at {}-byte aligned offsets",
                            word_table.describe(), max_bytes, align));
  }

  params::EmbedParams p{};
  p.tokens = uint32_t(tokens);
  p.hidden = uint32_t(hidden);
  p.has_pos = args.pos_ids != nullptr;
  p.has_type = args.type_ids != nullptr;
  p.word_scale = args.word_scale;
  const Pipeline& pl = ctx.pipelines().get(
      PipelineDesc{dt == DType::f16 ? "embed_f16" : "embed_f32", 7, sizeof(p), {}});
  Grid g = grid_for(ctx, div_up(uint64_t(tokens) * hidden, kWorkgroup));

  for (uint64_t begin = 0; begin < table_rows; begin += rows_per_range) {
    uint64_t end = std::min(table_rows, begin + rows_per_range);
    Binding word{word_table.buffer, word_table.offset + begin * row_bytes, (end - begin) * row_bytes, Access::read};
    p.word_row_begin = uint32_t(begin);
    p.word_row_end = uint32_t(end);
    p.accumulate = begin != 0;
    Binding pos_ids = in(args.pos_ids ? *args.pos_ids : ids), type_ids = in(args.type_ids ? *args.type_ids : ids);
    Binding pos = args.pos_table ? in(*args.pos_table) : word, type = args.type_table ? in(*args.type_table) : word;
    rec.dispatch(pl, {in(ids), word, pos_ids, pos, type_ids, type, p.accumulate ? inout(y) : out(y)}, p, g.x, g.y);
  }
}

}  // namespace vkcls::ops
