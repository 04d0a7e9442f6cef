// Blocks shared by the architecture files: the pieces of a transformer layer as functions over
// tensors, each recording a few ops. Shapes: x [T, H]; heads of head_dim D.
#pragma once
#include <string>
#include <vector>

#include "models/runner.h"
#include "runtime/context.h"
#include "runtime/memory.h"
#include "runtime/ops.h"

namespace vkcls {

// config.json hidden_act / hidden_activation -> the GEMM epilogue activation; throws
// Error(model) naming unknown ones.
ops::Act activation_from_config(const std::string& hidden_act);

// A linear layer: w [out, in] (model dtype), b [out] f32 or invalid (no bias).
struct Linear {
  Tensor w, b;
  int64_t out() const { return w.dim(0); }
};

// y = act(x w^T + b) (+ residual); y allocated in scratch when not given.
Tensor linear(Context& ctx, Recorder& rec, Arena& scratch, const Tensor& x, const Linear& l,
              ops::Act act = ops::Act::none, const Tensor* residual = nullptr);

// Causal self-attention of layer `layer` with the batch's paged KV cache (b.kv): this batch's k
// and v rows (aa's offsets and kv_row_stride) into their slots, then aa's q over every key of
// each sequence up to the query (aa.window, aa.softcap as in ops::attention).
void attention_paged(Context& ctx, Recorder& rec, const DeviceBatch& b, size_t layer,
                     const Tensor& q, const Tensor& k, const Tensor& v,
                     const ops::AttentionArgs& aa, const Tensor& out);

// RoPE frequencies [dim / 2] in Hugging Face's float32 steps:
//   inv_freq_i = 1 / float32(float32(theta) ^ float32(2i / dim))
// computed on the host so the bits equal torch's buffer (a device pow() a few ulp off moves the
// angle at position 8k by ~1e-3 rad).
std::vector<float> rope_inv_freq(double theta, int64_t dim);

}  // namespace vkcls
