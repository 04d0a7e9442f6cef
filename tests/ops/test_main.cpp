// main() of every op test binary: one Context for the whole process, with the
// validation layer (synchronization checks included) unless VKCLS_VALIDATION says otherwise.
#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/ops/op_test.h"

namespace vkcls::test {

Context& test_context() {
  static Context* ctx = [] {
    ContextOptions o;
    o.validation = Validation::sync;
    o.disk_pipeline_cache = false;
    if (std::getenv("VKCLS_TEST_FORCE_STAGING")) o.force_staging = true;
    return new Context(o);  // leaked on purpose: destroyed after gtest's own statics otherwise
  }();
  return *ctx;
}

}  // namespace vkcls::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
