// The error type of the PyTorch checkpoint readers (torch_zip, torch_pickle, torch_checkpoint).
#pragma once
#include <string>

#include "models/safetensors.h"

namespace vkcls {

// A malformed, unsupported or unsafe PyTorch checkpoint. Derives from
// SafetensorsError so callers that handle weight-file errors handle this too.
class TorchCheckpointError : public SafetensorsError {
 public:
  enum class Kind {
    truncated,         // the file ends before a structure it declares
    malformed,         // inconsistent structure: bad signature, wrong types, out-of-range offsets
    unsupported,       // valid but not handled: compression, big-endian, complex/quantized dtypes
    forbidden_global,  // the pickle names a global outside the allow-list (possibly malicious)
    limit,             // a size limit was hit (objects, stack, memo, tensor rank, copy budget)
  };
  TorchCheckpointError(Kind kind, const std::string& message)
      : SafetensorsError(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

const char* torch_error_kind_name(TorchCheckpointError::Kind k);

}  // namespace vkcls
