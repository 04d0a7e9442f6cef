// main() of every op test binary: one Context for the whole process, with the
// validation layer (synchronization checks included) unless VKCLS_VALIDATION says otherwise.
// The Context is destroyed in the environment's TearDown, so a leak check sees a clean exit.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>

#include "tests/ops/op_test.h"

namespace vkcls::test {
namespace {

std::unique_ptr<Context> g_context;

class ContextEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { g_context.reset(); }
};

}  // namespace

Context& test_context() {
  if (!g_context) {
    ContextOptions o;
    o.validation = Validation::sync;
    o.disk_pipeline_cache = false;
    if (std::getenv("VKCLS_TEST_FORCE_STAGING")) o.force_staging = true;
    g_context = std::make_unique<Context>(o);
  }
  return *g_context;
}

}  // namespace vkcls::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new vkcls::test::ContextEnvironment);
  return RUN_ALL_TESTS();
}
