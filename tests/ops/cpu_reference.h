// Double-precision CPU references of the ops in runtime/ops.h, written as plainly
// as possible (llm.c style): each GPU kernel is tested against one of these.
// Inputs are the float values the device sees (round f16 tables first).
#pragma once
#include <cstdint>
#include <vector>

namespace vkcls::test {

// x: [rows, cols] -> softmax over each row of x * scale + bias
std::vector<double> ref_softmax(const std::vector<float>& x, int64_t rows, int64_t cols,
                                double scale, double bias);
// elementwise 1 / (1 + exp(-(x * scale + bias)))
std::vector<double> ref_sigmoid(const std::vector<float>& x, double scale, double bias);

// x, residual (empty: none): [rows, cols]; gamma, beta (empty: none): [cols]
std::vector<double> ref_layer_norm(const std::vector<float>& x, const std::vector<float>& residual,
                                   const std::vector<float>& gamma, const std::vector<float>& beta,
                                   int64_t rows, int64_t cols, double eps);
std::vector<double> ref_rms_norm(const std::vector<float>& x, const std::vector<float>& residual,
                                 const std::vector<float>& gamma, int64_t rows, int64_t cols,
                                 double eps, double gamma_offset);

// ids etc.: [T]; tables: [rows, hidden] (pos/type empty: none). An id outside
// [0, rows) of its table contributes zeros.
std::vector<double> ref_embed(const std::vector<int32_t>& ids, const std::vector<float>& word,
                              const std::vector<int32_t>& pos_ids, const std::vector<float>& pos,
                              const std::vector<int32_t>& type_ids, const std::vector<float>& type,
                              int64_t hidden, double word_scale);

// Rotary embedding on a copy of x ([T, row_stride] rows), as Hugging Face
// computes it: inv_freq = 1 / theta^(2i / rotary_dim) and angle = pos * inv_freq
// rounded to fp32 like torch does; cos/sin and the rotation in double.
std::vector<double> ref_rope(const std::vector<float>& x, const std::vector<int32_t>& positions,
                             int64_t num_heads, int64_t head_dim, int64_t rotary_dim,
                             int64_t offset, int64_t row_stride, bool neox, const std::vector<float>& inv_freq, double scale = 1.0);

// act: ACT_* of shaders/op_params.h, in double (GELU with erf or tanh, SiLU, ...)
double ref_act(uint32_t act, double x);
// x: [T, 2F] -> y: [T, F] = act(x[:, :F]) * x[:, F:]
std::vector<double> ref_glu(const std::vector<float>& x, int64_t tokens, int64_t features,
                            uint32_t act);

// hidden: [T, H]; ranges: [S, 2] (begin, end rows); mode POOL_*; an empty range gives zeros
std::vector<double> ref_pool(const std::vector<float>& hidden, const std::vector<int32_t>& ranges,
                             int64_t h, uint32_t mode);

}  // namespace vkcls::test
