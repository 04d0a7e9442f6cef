// Shared by all shaders: the push-constant structs and small math helpers.
#extension GL_EXT_control_flow_attributes : enable
#include "op_params.h"

float act_apply(uint act, float x) {
  if (act == ACT_GELU_ERF) {
    // erf via Abramowitz-Stegun 7.1.26 is too coarse (1.5e-7 abs is fine, but the
    // tail matters for 1e-5 rel): use the W. J. Cody style rational erf below.
    float z = x * 0.70710678118654752;
    float a = abs(z);
    float t = 1.0 / (1.0 + 0.5 * a);
    // Numerical Recipes erfc, fractional error < 1.2e-7 everywhere
    float r = t * exp(-a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
              t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
              t * (-0.82215223 + t * 0.17087277)))))))));
    float erf_z = z >= 0.0 ? 1.0 - r : r - 1.0;
    return 0.5 * x * (1.0 + erf_z);
  }
  if (act == ACT_GELU_TANH) {
    float u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
    return 0.5 * x * (1.0 + tanh(clamp(u, -15.0, 15.0)));
  }
  if (act == ACT_TANH) return tanh(clamp(x, -15.0, 15.0));
  if (act == ACT_SILU) return x / (1.0 + exp(-x));
  if (act == ACT_RELU) return max(x, 0.0);
  return x;
}
