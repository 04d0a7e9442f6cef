// PyTorch checkpoints (pytorch_model.bin) as WeightViews, without Python.
//
// Two container formats, both holding a pickled state dict (torch_pickle.h) and raw storages:
//   zip (torch.save's default since PyTorch 1.6; torch_zip.h): storages are the
//     uncompressed entries <archive>/data/<key>, so views point into the caller's bytes.
//   legacy (PyTorch < 1.6, or _use_new_zipfile_serialization=False): five pickles back to back
//     (magic number 0x1950a86a20f9469cfc6c, protocol version 1001, sys_info, the state dict,
//     the sorted storage keys), then per key: u64 little-endian element count + the raw bytes.
// The tar format of PyTorch < 0.1.10 is refused with a clear error.
//
// A tensor that is a contiguous view of its storage (the usual case) is a view
// into the file; a non-contiguous one (e.g. a transposed weight saved as is) is
// copied into a row-major buffer owned by the result, within a copy budget.
// Only little-endian checkpoints are read. Every offset, size and stride is
// checked against the file: a bad file gives TorchCheckpointError, never a crash.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "models/safetensors.h"
#include "models/torch_error.h"
#include "models/torch_pickle.h"

namespace vkcls {

struct TorchLoadLimits {
  PickleLimits pickle;
  // Bytes of row-major copies of non-contiguous tensors; 0: twice the file size plus 64 MiB.
  uint64_t max_copy_bytes = 0;
};

struct TorchCheckpoint {
  std::vector<WeightView> views;  // in pickle order; into the caller's bytes or into `owned`
  std::vector<std::vector<uint8_t>>
      owned;                   // the copies; moving the struct keeps view pointers valid
  bool legacy_format = false;  // the pre-1.6 format (not zip)
};

// True when `bytes` looks like either format (zip signature, or a pickle PROTO opcode
// at byte 0 as the legacy format starts); the parser decides the rest.
bool torch_checkpoint_signature(const uint8_t* bytes, size_t size);

// Parses a whole checkpoint held in `bytes` (e.g. a MappedFile). `file` names it in
// messages and in WeightView::file. Throws TorchCheckpointError.
TorchCheckpoint torch_checkpoint_parse(const uint8_t* bytes, size_t size, const std::string& file,
                                       const TorchLoadLimits& limits = {});

}  // namespace vkcls
