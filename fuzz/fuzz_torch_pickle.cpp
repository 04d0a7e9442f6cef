// libFuzzer target: the restricted unpickler and the PyTorch checkpoint reader.
// The first input byte picks what the rest is:
//   0: data.pkl, placed in a torch.save-like zip with four 64-byte storages "0".."3"
//   1: a whole checkpoint file (zip or legacy format)
//   2: a plain-data pickle (torch_unpickle_value, as the legacy header pickles are read)
// Whatever parses must describe views inside the input or inside its own copies: every byte
// of every view is read, so AddressSanitizer catches a view that strays.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "models/torch_checkpoint.h"
#include "models/torch_pickle.h"
#include "tests/models/torch_test_util.h"

namespace {

unsigned touch(const vkcls::TorchCheckpoint& c) {
  unsigned sum = 0;
  for (const auto& v : c.views)
    for (size_t i = 0; i < v.bytes; i++) sum += v.data[i];
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0] % 3;
  data++, size--;
  vkcls::TorchLoadLimits limits;
  limits.max_copy_bytes = 1 << 20;  // keep one input's copies small
  try {
    if (mode == 0) {
      std::string pkl(reinterpret_cast<const char*>(data), size);
      std::string storage(64, '\x3c');
      std::vector<uint8_t> zip = vkcls::test::make_torch_zip(
          pkl, {{"0", storage}, {"1", storage}, {"2", storage}, {"3", storage}});
      volatile unsigned sum =
          touch(vkcls::torch_checkpoint_parse(zip.data(), zip.size(), "fuzz", limits));
      (void)sum;
    } else if (mode == 1) {
      volatile unsigned sum = touch(vkcls::torch_checkpoint_parse(data, size, "fuzz", limits));
      (void)sum;
    } else {
      vkcls::torch_unpickle_value(data, size, "fuzz", nullptr, limits.pickle);
    }
  } catch (const vkcls::TorchCheckpointError&) {
  }
  return 0;
}
