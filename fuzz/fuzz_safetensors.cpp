// libFuzzer target: the safetensors header parser (models/safetensors.h). Every byte of every
// view it returns is read, so AddressSanitizer catches a view outside the input.
#include <cstddef>
#include <cstdint>

#include "models/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    unsigned sum = 0;
    for (const auto& v : vkcls::safetensors_parse(data, size, "fuzz.safetensors")) {
      for (size_t i = 0; i < v.bytes; i++) sum += v.data[i];
      sum += unsigned(v.numel());
    }
    volatile unsigned keep = sum;
    (void)keep;
  } catch (const vkcls::SafetensorsError&) {
  }
  return 0;
}
