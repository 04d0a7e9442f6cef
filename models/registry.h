// The registry of architecture families: config.json's model_type picks the file that
// implements it. Adding a family = one models/<family>.cpp + one line in registry.cpp + its
// golden fixtures.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models/config.h"
#include "models/runner.h"
#include "models/safetensors.h"
#include "runtime/context.h"

namespace vkcls {

struct RunnerArgs {
  Context& ctx;
  const ModelConfig& cfg;
  const WeightStore& store;
  DType dtype;  // matrices on the device: f32 or f16
};

// Throws Error(model) naming the model type and the supported ones.
std::unique_ptr<ModelRunner> create_runner(const RunnerArgs& args);
std::vector<std::string> supported_model_types();

}  // namespace vkcls
