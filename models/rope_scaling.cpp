#include "models/rope_scaling.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "models/blocks.h"
#include "vkcls/types.h"

namespace vkcls {

namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& what) {
  throw Error(ErrorKind::model, "config.json: " + what);
}

double number(const json& j, const char* key, double fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number()) bad(fmt::format("rope scaling '{}' must be a number", key));
  return it->get<double>();
}

double required(const json& j, const char* key, const std::string& kind) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number())
    bad(fmt::format("rope scaling type '{}' needs the number '{}'", kind, key));
  return it->get<double>();
}

// llama3 (transformers' _compute_llama3_parameters) in float32 as torch runs it; torch's
// `scalar / tensor` is reciprocal(tensor) * scalar.
void llama3(std::vector<float>& inv, const json& sc, float factor) {
  const float lo = float(required(sc, "low_freq_factor", "llama3"));
  const float hi = float(required(sc, "high_freq_factor", "llama3"));
  const double old = required(sc, "original_max_position_embeddings", "llama3");
  if (!(hi > lo)) bad("rope scaling llama3: high_freq_factor must exceed low_freq_factor");
  const float low_wavelen = float(old / lo), high_wavelen = float(old / hi);
  const float two_pi = float(2 * std::numbers::pi), oldf = float(old),
              span = float(double(hi) - lo);
  for (float& f : inv) {
    const float wavelen = (1.0f / f) * two_pi;
    const float out = wavelen > low_wavelen ? f / factor : f;
    const float smooth = ((1.0f / wavelen) * oldf - lo) / span;
    if (wavelen >= high_wavelen && wavelen <= low_wavelen)
      f = (1.0f - smooth) * out / factor + smooth * out;
    else
      f = out;
  }
}

// yarn (_compute_yarn_parameters): returns the attention factor
float yarn(std::vector<float>& inv, const json& sc, double theta, int64_t d, float factor,
           int64_t max_positions) {
  const double old = number(sc, "original_max_position_embeddings", double(max_positions));
  const double beta_fast = number(sc, "beta_fast", 32), beta_slow = number(sc, "beta_slow", 1);
  double af = number(sc, "attention_factor", 0);
  if (af == 0) {
    auto mscale = [&](double s, double k) { return s <= 1 ? 1.0 : 0.1 * k * std::log(s) + 1.0; };
    const double m = number(sc, "mscale", 0), mall = number(sc, "mscale_all_dim", 0);
    af = m != 0 && mall != 0 ? mscale(factor, m) / mscale(factor, mall) : mscale(factor, 1.0);
  }
  auto corr = [&](double rot) {
    return (double(d) * std::log(old / (rot * 2 * std::numbers::pi))) / (2 * std::log(theta));
  };
  double low = corr(beta_fast), high = corr(beta_slow);
  auto t = sc.find("truncate");
  if (t == sc.end() || !t->is_boolean() || t->get<bool>())
    low = std::floor(low), high = std::ceil(high);
  low = std::max(low, 0.0), high = std::min(high, double(d - 1));
  if (low == high) high += 0.001;
  const float lowf = float(low), span = float(high - low), base = float(theta);
  for (size_t i = 0; i < inv.size(); ++i) {
    // theta^(2i/d) in rope_inv_freq's float32 steps (before its reciprocal)
    const float pos = float(std::pow(double(base), double(float(2 * i) / float(d))));
    const float ramp = std::clamp((float(i) - lowf) / span, 0.0f, 1.0f);
    const float extrapolation = 1.0f - ramp;
    const float interp = 1.0f / (factor * pos), extrap = 1.0f / pos;
    inv[i] = interp * (1.0f - extrapolation) + extrap * extrapolation;
  }
  return float(af);
}

}  // namespace

std::vector<float> RopeScaling::inv_freq_for_length(int64_t n) const {
  if (kind != "dynamic" || n <= max_positions) return inv_freq;
  const double d = double(dim);
  const double base =
      theta * std::pow((factor * double(n) / double(max_positions)) - (factor - 1), d / (d - 2));
  return rope_inv_freq(base, dim);
}

RopeScaling rope_scaling_from_config(const ModelConfig& cfg, int64_t dim) {
  RopeScaling r;
  r.dim = dim;
  r.theta = cfg.rope_theta;
  r.max_positions = cfg.max_position_embeddings;
  if (dim <= 2 || dim % 2 != 0)
    bad(fmt::format("the rotary dimension {} must be even and above 2", dim));
  const json& raw = cfg.raw;
  json sc;
  if (auto rp = raw.find("rope_parameters"); rp != raw.end() && rp->is_object())
    sc = *rp;
  else if (auto rs = raw.find("rope_scaling"); rs != raw.end() && rs->is_object())
    sc = *rs;
  if (sc.is_object()) {
    auto kind = sc.find("rope_type");
    if (kind == sc.end() || kind->is_null()) kind = sc.find("type");
    if (kind != sc.end() && !kind->is_null()) {
      if (!kind->is_string()) bad("rope scaling 'rope_type' must be a string");
      r.kind = kind->get<std::string>();
    }
  }
  r.inv_freq = rope_inv_freq(r.theta, dim);
  if (r.kind == "default") return r;
  r.factor = number(sc, "factor", 1.0);
  if (!(r.factor >= 1.0)) bad(fmt::format("rope scaling factor {} must be at least 1", r.factor));
  const float f = float(r.factor);
  if (r.kind == "linear") {
    for (float& x : r.inv_freq) x = x / f;
  } else if (r.kind == "dynamic") {
    if (r.max_positions <= 0) bad("rope scaling dynamic needs max_position_embeddings");
  } else if (r.kind == "llama3") {
    llama3(r.inv_freq, sc, f);
  } else if (r.kind == "yarn") {
    r.attention_scale = yarn(r.inv_freq, sc, r.theta, dim, f, r.max_positions);
  } else {
    bad(fmt::format(
        "rope scaling type '{}' is not supported (default, linear, dynamic, llama3, yarn)",
        r.kind));
  }
  return r;
}

}  // namespace vkcls
