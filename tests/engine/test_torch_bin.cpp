// A pytorch_model.bin folder classifies exactly as its safetensors twin: bert-seqcls with its
// weights as tests/data/torch_bin/bert-seqcls/pytorch_model.bin (torch.save of the same model).
#include <gtest/gtest.h>
#include <unistd.h>
#include <vkcls/engine.h>

#include <filesystem>

namespace fs = std::filesystem;

TEST(EngineTorchBin, SameLogitsAsSafetensorsTwin) {
  const fs::path data(VKCLS_TEST_DATA), twin = data / "models" / "bert-seqcls";
  const fs::path dir =
      fs::temp_directory_path() / ("vkcls_engine_torch_bin_" + std::to_string(getpid()));
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(twin))
    if (e.path().extension() != ".safetensors") fs::copy_file(e.path(), dir / e.path().filename());
  fs::copy_file(data / "torch_bin" / "bert-seqcls" / "pytorch_model.bin",
                dir / "pytorch_model.bin");

  const std::vector<vkcls::TextInput> inputs = {
      {"I loved it"}, {"Dreadful."}, {"the river market", "a pair"}};
  vkcls::RequestParams raw;
  raw.use_activation = false;  // logits
  auto want =
      vkcls::Engine::open({.model_dir = twin.string(), .dtype = "f32"})->classify(inputs, raw);
  auto got =
      vkcls::Engine::open({.model_dir = dir.string(), .dtype = "f32"})->classify(inputs, raw);
  fs::remove_all(dir);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); i++) {
    ASSERT_TRUE(got[i].ok() && want[i].ok()) << got[i].error << want[i].error;
    EXPECT_EQ(got[i].probs, want[i].probs) << i;  // same bytes in, same kernels: identical logits
  }
}
