// Shared harness of the op tests: one Context per test binary, validation layer
// with synchronization checks on, and any validation message fails the test.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "runtime/context.h"
#include "runtime/half.h"
#include "runtime/memory.h"
#include "runtime/ops.h"
#include "runtime/recorder.h"

namespace vkcls::test {

// The process-wide context of a test binary (validation: sync unless VKCLS_VALIDATION says otherwise).
Context& test_context();

class OpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx().clear_validation_messages();
    arena_ = std::make_unique<Arena>(ctx(), "test", 16ull << 20);
  }
  void TearDown() override {
    arena_.reset();
    auto msgs = ctx().validation_messages();
    for (const auto& m : msgs) ADD_FAILURE() << "validation: " << m;
  }
  Context& ctx() { return test_context(); }
  Arena& arena() { return *arena_; }

  // Uploads host data as a tensor of the given dtype (f16 converts from float).
  Tensor upload_f32(const std::vector<float>& v, std::vector<int64_t> shape, DType dt = DType::f32) {
    Tensor t = arena_->alloc(dt, std::move(shape));
    if (dt == DType::f16) {
      std::vector<uint16_t> h(v.size());
      for (size_t i = 0; i < v.size(); ++i) h[i] = float_to_half(v[i]);
      ctx().upload(t, h.data(), h.size() * 2);
    } else {
      ctx().upload(t, v.data(), v.size() * 4);
    }
    return t;
  }
  Tensor upload_i32(const std::vector<int32_t>& v, std::vector<int64_t> shape) {
    Tensor t = arena_->alloc(DType::i32, std::move(shape));
    ctx().upload(t, v.data(), v.size() * 4);
    return t;
  }
  std::vector<float> download_f32(const Tensor& t) {
    std::vector<float> v(t.numel());
    ctx().download(t, v.data(), v.size() * 4);
    return v;
  }

 private:
  std::unique_ptr<Arena> arena_;
};

// Sets an environment variable for the lifetime of the object (VKCLS_MAX_BINDING_BYTES,
// VKCLS_GEMM: the op host functions read them on every call).
struct ScopedEnv {
  ScopedEnv(const char* name, const std::string& value) : name_(name) { setenv(name, value.c_str(), 1); }
  ~ScopedEnv() { unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};
struct MaxBindingBytes : ScopedEnv {
  explicit MaxBindingBytes(uint64_t bytes) : ScopedEnv("VKCLS_MAX_BINDING_BYTES", std::to_string(bytes)) {}
};

inline std::vector<float> random_vector(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Values as the device sees them after rounding to f16 (so references use the same inputs).
inline std::vector<float> round_to_f16(std::vector<float> v) {
  for (auto& x : v) x = half_to_float(float_to_half(x));
  return v;
}

// |got - want| <= atol + rtol * |want| everywhere; reports the worst element.
inline ::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<double>& want,
                                            double rtol, double atol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  double worst = 0;
  size_t at = 0, bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double err = std::abs(double(got[i]) - want[i]);
    double excess = err - (atol + rtol * std::abs(want[i]));
    if (!(excess <= 0)) bad++;  // also catches NaN
    if (!(excess <= worst)) {
      worst = std::isnan(excess) ? INFINITY : excess;
      at = i;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << got.size() << " elements off; worst at " << at
                                       << ": got " << got[at] << ", want " << want[at];
}

}  // namespace vkcls::test
