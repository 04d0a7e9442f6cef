// Runtime: memory paths, barriers, pipeline cache, limits, and the proof that
// the validation layer is on and catches what it should.
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "runtime/pipeline.h"
#include "runtime/vk_check.h"
#include "tests/ops/op_test.h"

namespace vkcls::test {
namespace {

class Runtime : public OpTest {
 protected:
  // y = x + 1 on n floats
  void add_one(Recorder& rec, const Tensor& x, const Tensor& y, uint32_t n) {
    const Pipeline& p = ctx().pipelines().get({"test_copy", 2, 4, {}});
    rec.dispatch(p, {in(x), out(y)}, n, (n + 63) / 64);
  }
  // Fails unless the validation layer reported an error whose text contains `needle`;
  // then forgets the messages so TearDown passes.
  void expect_validation_error(const std::string& needle) {
    auto msgs = ctx().validation_messages();
    bool found = false;
    for (auto& m : msgs) found |= m.find(needle) != std::string::npos;
    EXPECT_TRUE(found) << "no validation message containing '" << needle << "' among "
                       << msgs.size();
    EXPECT_GT(ctx().validation_errors(), 0u);
    ctx().clear_validation_messages();
  }
};

TEST_F(Runtime, ChainedDispatchesGetBarriersAndCorrectResults) {
  const uint32_t n = 1000;
  Tensor a = upload_f32(random_vector(n, 1), {n});
  Tensor b = arena().alloc(DType::f32, {n}), c = arena().alloc(DType::f32, {n}),
         d = arena().alloc(DType::f32, {n});
  Recorder rec(ctx());
  add_one(rec, a, b, n);  // b = a + 1
  add_one(rec, a, d, n);  // independent of the first: no barrier needed
  add_one(rec, b, c, n);  // reads b: barrier
  rec.submit_and_wait();
  EXPECT_EQ(rec.num_barriers(), 1u);
  auto av = download_f32(a), cv = download_f32(c), dv = download_f32(d);
  for (uint32_t i = 0; i < n; ++i) {
    ASSERT_EQ(cv[i], av[i] + 1.f + 1.f) << i;
    ASSERT_EQ(dv[i], av[i] + 1.f) << i;
  }
}

TEST_F(Runtime, ValidationCatchesMissingBarrier) {
  const uint32_t n = 256;
  Tensor a = upload_f32(random_vector(n, 2), {n});
  Tensor b = arena().alloc(DType::f32, {n}), c = arena().alloc(DType::f32, {n});
  Recorder rec(ctx());
  rec.insert_barriers = false;  // deliberately wrong: c reads b with no barrier after b is written
  add_one(rec, a, b, n);
  add_one(rec, b, c, n);
  rec.submit_and_wait();
  expect_validation_error("READ_AFTER_WRITE");
}

TEST_F(Runtime, ValidationCatchesBadBinding) {
  Tensor a = upload_f32(random_vector(64, 3), {64});
  Tensor b = arena().alloc(DType::f32, {64});
  Binding bad = out(b);
  bad.bytes =
      1ull << 26;  // 64 MiB: far past the end of the 16 MiB block; the layer must flag the range
  const Pipeline& p = ctx().pipelines().get({"test_copy", 2, 4, {}});
  Recorder rec(ctx());
  Binding bs[2] = {in(a), bad};
  uint32_t n = 64;
  rec.dispatch_raw(p, bs, 2, &n, 4, 1, 1, 1);
  expect_validation_error("VUID-VkDescriptorBufferInfo-range");
  rec.submit_and_wait();
  ctx().clear_validation_messages();
}

TEST_F(Runtime, RejectsBindingOverDeviceLimitAndWrongArity) {
  Tensor a = upload_f32(random_vector(64, 4), {64});
  const Pipeline& p = ctx().pipelines().get({"test_copy", 2, 4, {}});
  Recorder rec(ctx());
  Binding huge = in(a);
  huge.bytes = ctx().info().max_storage_buffer_range + 4;
  Binding bs[2] = {huge, out(a)};
  uint32_t n = 64;
  EXPECT_THROW(rec.dispatch_raw(p, bs, 2, &n, 4, 1, 1, 1), std::invalid_argument);
  EXPECT_THROW(rec.dispatch_raw(p, bs, 1, &n, 4, 1, 1, 1), std::invalid_argument);
  EXPECT_THROW(ctx().pipelines().get({"no_such_shader", 1, 0, {}}), std::invalid_argument);
}

TEST_F(Runtime, ArenaRefusesTensorOverBindingLimit) {
  int64_t too_many = int64_t(ctx().info().max_storage_buffer_range / 4) + 1;
  try {
    arena().alloc(DType::f32, {too_many});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("maxStorageBufferRange"), std::string::npos) << e.what();
  }
}

TEST_F(Runtime, ArenaAlignsAndTracksUse) {
  Tensor a = arena().alloc(DType::f16, {3});
  Tensor b = arena().alloc(DType::f32, {5});
  EXPECT_EQ(b.offset % ctx().info().min_storage_buffer_offset_alignment, 0u);
  EXPECT_GT(b.offset, a.offset);
  EXPECT_GT(arena().bytes_in_use(), 0u);
  arena().reset();
  EXPECT_EQ(arena().bytes_in_use(), 0u);
  EXPECT_EQ(arena().alloc(DType::f32, {1}).offset, 0u);
}

// The discrete-GPU path: device memory not mapped, copies through staging buffers.
TEST(RuntimeStaging, UploadDownloadThroughStaging) {
  ContextOptions o;
  o.validation = Validation::on;
  o.force_staging = true;
  o.disk_pipeline_cache = false;
  Context ctx(o);
  Arena arena(ctx, "staging-test");
  auto v = random_vector(5000, 5);
  Tensor t = arena.alloc(DType::f32, {5000});
  EXPECT_EQ(t.host, nullptr);
  ctx.upload(t, v.data(), v.size() * 4);
  Tensor u = arena.alloc(DType::f32, {5000});
  Recorder rec(ctx);
  rec.dispatch(ctx.pipelines().get({"test_copy", 2, 4, {}}), {in(t), out(u)}, uint32_t(5000),
               (5000 + 63) / 64);
  rec.submit_and_wait();
  std::vector<float> back(5000);
  ctx.download(u, back.data(), back.size() * 4);
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(back[i], v[i] + 1.f);
  EXPECT_THROW(ctx.upload(t, v.data(), v.size() * 4 + 4), std::invalid_argument);
  for (auto& m : ctx.validation_messages()) ADD_FAILURE() << m;
}

TEST(RuntimePipelineCache, SavedOnDiskAndReused) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / fmt::format("vkcls-cache-test-{}", ::getpid());
  fs::remove_all(dir);
  setenv("VKCLS_CACHE_DIR", dir.c_str(), 1);
  std::string path;
  {
    Context ctx;
    path = ctx.pipelines().disk_path();
    ctx.pipelines().get({"test_copy", 2, 4, {}});
  }
  EXPECT_TRUE(fs::exists(path)) << path;
  EXPECT_NE(path.find(Context().info().uuid_hex()), std::string::npos);
  {
    Context ctx;  // loads the file; must still work
    EXPECT_NO_THROW(ctx.pipelines().get({"test_copy", 2, 4, {}}));
  }
  // a corrupt file is ignored, not fatal
  { std::ofstream(path, std::ios::binary) << "garbage"; }
  { EXPECT_NO_THROW(Context().pipelines().get({"test_copy", 2, 4, {}})); }
  unsetenv("VKCLS_CACHE_DIR");
  fs::remove_all(dir);
}

TEST(RuntimeDevices, ChoosesByTypeAndHonoursRequest) {
  std::vector<DeviceInfo> ds(3);
  ds[0].type = VK_PHYSICAL_DEVICE_TYPE_CPU;
  ds[1].type = VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU;
  ds[2].type = VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
  std::string why;
  EXPECT_EQ(choose_device(ds, -1, &why), 2);
  EXPECT_NE(why.find("discrete"), std::string::npos);
  EXPECT_EQ(choose_device(ds, 0, &why), 0);
  EXPECT_THROW(choose_device(ds, 3, &why), std::invalid_argument);
  EXPECT_THROW(choose_device({}, -1, &why), std::runtime_error);
}

}  // namespace
}  // namespace vkcls::test

namespace vkcls::test {
namespace {

// Whole-program tests (engine, CLI, server) run with VKCLS_VALIDATION_FATAL=1: a Context
// that saw a validation error must end the process with a failure.
void provoke_hazard_then_destroy_context() {
  setenv("VKCLS_VALIDATION_FATAL", "1", 1);
  ContextOptions o;
  o.validation = Validation::sync;
  o.disk_pipeline_cache = false;
  auto ctx = std::make_unique<Context>(o);
  {
    Arena arena(*ctx, "fatal");
    Tensor a = arena.alloc(DType::f32, {64}), b = arena.alloc(DType::f32, {64}),
           c = arena.alloc(DType::f32, {64});
    const Pipeline& p = ctx->pipelines().get({"test_copy", 2, 4, {}});
    Recorder rec(*ctx);
    rec.insert_barriers = false;  // the hazard the layer reports
    uint32_t n = 64;
    rec.dispatch(p, {in(a), out(b)}, n, 1);
    rec.dispatch(p, {in(b), out(c)}, n, 1);
    rec.submit_and_wait();
  }
  ctx.reset();  // reports and exits here
  std::exit(0);
}

TEST(RuntimeValidation, FatalModeFailsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(provoke_hazard_then_destroy_context(), ::testing::ExitedWithCode(70),
              "validation error");
}

}  // namespace
}  // namespace vkcls::test

namespace vkcls::test {
namespace {

// A submission that outlives the fence timeout is a typed error (VulkanError::timed_out()), not
// a hang or a crash: the context refuses more work from then on, and what the still-running
// work uses (command buffer, descriptors, buffers) is destroyed only once the device is idle,
// which the validation layer (synchronization checks on) would report otherwise.
TEST(RuntimeTimeout, SubmissionPastTheFenceTimeoutIsATypedError) {
  ContextOptions o;
  o.validation = Validation::sync;
  o.disk_pipeline_cache = false;
  o.fence_timeout_ms = 1;
  auto ctx = std::make_unique<Context>(o);
  {
    Arena arena(*ctx, "timeout", 16ull << 20);
    const int64_t M = 1024, N = 1024,
                  K = 1024;  // 2 GFLOP: at least 50 ms on lavapipe, far over 1 ms
    Tensor x = arena.alloc(DType::f32, {M, K}), w = arena.alloc(DType::f32, {N, K}),
           y = arena.alloc(DType::f32, {M, N});
    Recorder rec(*ctx);
    rec.fill_zero(x);
    rec.fill_zero(w);
    ops::gemm(*ctx, rec, x, w, y);
    try {
      rec.submit_and_wait();
      ADD_FAILURE() << "a 2 GFLOP GEMM finished within 1 ms";
    } catch (const VulkanError& e) {
      EXPECT_TRUE(e.timed_out()) << e.what();
      EXPECT_NE(std::string(e.what()).find("fence_timeout_ms"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(ctx->lost());
    EXPECT_TRUE(ctx->timed_out());
    EXPECT_THROW(ops::gemm(*ctx, rec, x, w, y),
                 VulkanError);  // this recorder's command buffer is still running
    Recorder other(*ctx);
    other.fill_zero(y);
    EXPECT_THROW(other.submit_and_wait(), VulkanError);  // the device is treated as lost
    std::vector<float> host(4);
    ctx->upload(x, host.data(), 16);  // lavapipe maps device memory: a memcpy, no submission
  }  // the arena's buffers and the recorders go now, while the GEMM may still run
  EXPECT_EQ(ctx->validation_errors(), 0u);
  for (const auto& m : ctx->validation_messages()) ADD_FAILURE() << "validation: " << m;
  ctx.reset();  // waits for the device, then destroys what the GEMM used
}

}  // namespace
}  // namespace vkcls::test
