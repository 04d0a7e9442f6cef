#include "tests/ops/cpu_reference.h"

#include <algorithm>
#include <cmath>

#include "shaders/op_params.h"

namespace vkcls::test {

std::vector<double> ref_softmax(const std::vector<float>& x, int64_t rows, int64_t cols,
                                double scale, double bias) {
  std::vector<double> y(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = &x[r * cols];
    double m = -INFINITY, sum = 0;
    for (int64_t c = 0; c < cols; ++c) m = std::max(m, xr[c] * scale + bias);
    for (int64_t c = 0; c < cols; ++c) sum += std::exp(xr[c] * scale + bias - m);
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = std::exp(xr[c] * scale + bias - m) / sum;
  }
  return y;
}

std::vector<double> ref_sigmoid(const std::vector<float>& x, double scale, double bias) {
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = 1.0 / (1.0 + std::exp(-(x[i] * scale + bias)));
  return y;
}

static double value(const std::vector<float>& x, const std::vector<float>& residual, size_t i) {
  return residual.empty() ? double(x[i]) : double(x[i]) + double(residual[i]);
}

std::vector<double> ref_layer_norm(const std::vector<float>& x, const std::vector<float>& residual,
                                   const std::vector<float>& gamma, const std::vector<float>& beta,
                                   int64_t rows, int64_t cols, double eps) {
  std::vector<double> y(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t c = 0; c < cols; ++c) mean += value(x, residual, r * cols + c);
    mean /= cols;
    for (int64_t c = 0; c < cols; ++c) var += std::pow(value(x, residual, r * cols + c) - mean, 2);
    var /= cols;
    double rstd = 1.0 / std::sqrt(var + eps);
    for (int64_t c = 0; c < cols; ++c)
      y[r * cols + c] = (value(x, residual, r * cols + c) - mean) * rstd * gamma[c] +
                        (beta.empty() ? 0.0 : beta[c]);
  }
  return y;
}

std::vector<double> ref_rms_norm(const std::vector<float>& x, const std::vector<float>& residual,
                                 const std::vector<float>& gamma, int64_t rows, int64_t cols,
                                 double eps, double gamma_offset) {
  std::vector<double> y(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    double ms = 0;
    for (int64_t c = 0; c < cols; ++c) ms += std::pow(value(x, residual, r * cols + c), 2);
    double rrms = 1.0 / std::sqrt(ms / cols + eps);
    for (int64_t c = 0; c < cols; ++c)
      y[r * cols + c] = value(x, residual, r * cols + c) * rrms * (gamma[c] + gamma_offset);
  }
  return y;
}

// Row `id` of table [*, hidden] as doubles added into out, or nothing when out of range.
static void add_row(const std::vector<float>& table, int64_t hidden, int32_t id, double scale,
                    double* out) {
  int64_t rows = hidden ? int64_t(table.size()) / hidden : 0;
  if (id < 0 || id >= rows) return;
  for (int64_t h = 0; h < hidden; ++h) out[h] += double(table[id * hidden + h]) * scale;
}

std::vector<double> ref_embed(const std::vector<int32_t>& ids, const std::vector<float>& word,
                              const std::vector<int32_t>& pos_ids, const std::vector<float>& pos,
                              const std::vector<int32_t>& type_ids, const std::vector<float>& type,
                              int64_t hidden, double word_scale) {
  std::vector<double> y(ids.size() * hidden, 0.0);
  for (size_t t = 0; t < ids.size(); ++t) {
    add_row(word, hidden, ids[t], word_scale, &y[t * hidden]);
    if (!pos.empty()) add_row(pos, hidden, pos_ids[t], 1.0, &y[t * hidden]);
    if (!type.empty()) add_row(type, hidden, type_ids[t], 1.0, &y[t * hidden]);
  }
  return y;
}

std::vector<double> ref_rope(const std::vector<float>& x, const std::vector<int32_t>& positions,
                             int64_t num_heads, int64_t head_dim, int64_t rotary_dim,
                             int64_t offset, int64_t row_stride, bool neox, const std::vector<float>& inv_freq,
                             double scale) {
  std::vector<double> y(x.begin(), x.end());
  int64_t half = rotary_dim / 2;
  for (size_t t = 0; t < positions.size(); ++t)
    for (int64_t h = 0; h < num_heads; ++h)
      for (int64_t i = 0; i < half; ++i) {
        // torch: (inv_freq @ pos) in fp32, then cos / sin
        float angle = float(positions[t]) * inv_freq[size_t(i)];
        double c = std::cos(double(angle)) * scale, s = std::sin(double(angle)) * scale;
        int64_t head = offset + int64_t(t) * row_stride + h * head_dim;
        int64_t ia = neox ? head + i : head + 2 * i, ib = neox ? head + i + half : head + 2 * i + 1;
        double a = x[ia], b = x[ib];
        y[ia] = a * c - b * s;
        y[ib] = b * c + a * s;
      }
  return y;
}

double ref_act(uint32_t act, double x) {
  switch (act) {
    case ACT_GELU_ERF:
      return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case ACT_GELU_TANH:
      return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case ACT_TANH:
      return std::tanh(x);
    case ACT_SILU:
      return x / (1.0 + std::exp(-x));
    case ACT_RELU:
      return std::max(x, 0.0);
    default:
      return x;
  }
}

std::vector<double> ref_glu(const std::vector<float>& x, int64_t tokens, int64_t features,
                            uint32_t act) {
  std::vector<double> y(tokens * features);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t f = 0; f < features; ++f)
      y[t * features + f] =
          ref_act(act, x[t * 2 * features + f]) * double(x[t * 2 * features + features + f]);
  return y;
}

std::vector<double> ref_pool(const std::vector<float>& hidden, const std::vector<int32_t>& ranges,
                             int64_t h, uint32_t mode) {
  int64_t seqs = int64_t(ranges.size()) / 2;
  std::vector<double> y(seqs * h, 0.0);
  for (int64_t s = 0; s < seqs; ++s) {
    int64_t total = int64_t(hidden.size()) / h;  // rows are clamped to [0, T), as the shader does
    int64_t b = std::clamp<int64_t>(ranges[2 * s], 0, total),
            e = std::clamp<int64_t>(ranges[2 * s + 1], 0, total);
    if (e <= b) continue;  // empty: zeros
    for (int64_t j = 0; j < h; ++j) {
      double v = 0;
      if (mode == POOL_FIRST)
        v = hidden[b * h + j];
      else if (mode == POOL_LAST)
        v = hidden[(e - 1) * h + j];
      else {
        for (int64_t r = b; r < e; ++r) v += hidden[r * h + j];
        v /= double(e - b);
      }
      y[s * h + j] = v;
    }
  }
  return y;
}

}  // namespace vkcls::test
