#include "server/embed_encoding.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace vkcls::server {

namespace {

struct DTypeRow {
  EmbedDType dtype;
  const char* name;
  size_t bytes;
};
constexpr DTypeRow kDTypes[] = {{EmbedDType::float32, "float32", 4},
                                {EmbedDType::float16, "float16", 2},
                                {EmbedDType::bfloat16, "bfloat16", 2},
                                {EmbedDType::fp8_e4m3, "fp8_e4m3", 1},
                                {EmbedDType::fp8_e5m2, "fp8_e5m2", 1}};

// float -> a sign, `ebits` exponent and `mbits` mantissa bits (bias 2^(ebits-1) - 1), rounded
// to nearest even. `ieee` formats (e5m2) keep the top exponent for infinity and NaN, and what
// rounds past the largest finite value is infinity; e4m3fn uses the top exponent for numbers
// but its all-ones mantissa is NaN, and what rounds there or past it is NaN (torch's c10).
uint8_t to_minifloat(float f, int ebits, int mbits, bool ieee) {
  const uint8_t sign = std::signbit(f) ? 0x80 : 0;
  const uint8_t nan = sign | 0x7f;
  const int max_field = (1 << ebits) - 1;
  const uint8_t inf = uint8_t(sign | max_field << mbits);
  if (std::isnan(f)) return nan;
  if (std::isinf(f)) return ieee ? inf : nan;
  const double a = std::fabs(double(f));
  if (a == 0) return sign;
  const int bias = (1 << (ebits - 1)) - 1;
  int e = 0;
  std::frexp(a, &e);                    // a in [2^(e-1), 2^e)
  int exp = std::max(e - 1, 1 - bias);  // below the smallest normal: its step (subnormals)
  // a / step is exact (a float over a power of two); nearbyint rounds ties to even
  double q = std::nearbyint(a / std::ldexp(1.0, exp - mbits));
  if (q >= double(2 << mbits)) q /= 2, ++exp;  // rounded up into the next binade
  const int field = q >= double(1 << mbits) ? exp + bias : 0;
  const int mant = int(q) - (field ? 1 << mbits : 0);
  if (ieee ? field >= max_field
           : field > max_field || (field == max_field && mant == (1 << mbits) - 1))
    return ieee ? inf : nan;
  return uint8_t(sign | field << mbits | mant);
}

}  // namespace

std::optional<EmbedDType> embed_dtype_from_name(std::string_view name) {
  for (const DTypeRow& r : kDTypes)
    if (name == r.name) return r.dtype;
  return std::nullopt;
}

const char* embed_dtype_name(EmbedDType d) {
  return kDTypes[size_t(d)].name;
}
size_t embed_dtype_bytes(EmbedDType d) {
  return kDTypes[size_t(d)].bytes;
}

uint16_t to_bfloat16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t(u >> 16 | 0x40);
  return uint16_t((u + 0x7fffu + (u >> 16 & 1)) >> 16);
}

uint16_t to_float16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t sign = u >> 16 & 0x8000u, a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return uint16_t(sign | 0x7e00u);   // NaN
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds past 65504: infinity
  if (a < 0x38800000u) {  // a subnormal half (or zero): round a * 2^24 to an integer
    const float scaled = std::fabs(f) * 16777216.f;            // exact: a power-of-two scale
    return uint16_t(sign | uint32_t(std::nearbyint(scaled)));  // default mode: to nearest even
  }
  const uint32_t m = a + 0xfffu + (a >> 13 & 1);  // round the 13 dropped bits to nearest even
  return uint16_t(sign | ((m - 0x38000000u) >> 13));
}

uint8_t to_fp8_e4m3(float f) {
  return to_minifloat(f, 4, 3, false);
}
uint8_t to_fp8_e5m2(float f) {
  return to_minifloat(f, 5, 2, true);
}

void append_encoded(std::string& out, std::span<const float> values, EmbedDType dtype,
                    bool big_endian) {
  const size_t w = embed_dtype_bytes(dtype);
  const size_t at = out.size();
  out.resize(at + values.size() * w);
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t u = 0;
    switch (dtype) {
      case EmbedDType::float32:
        std::memcpy(&u, &values[i], 4);
        break;
      case EmbedDType::float16:
        u = to_float16(values[i]);
        break;
      case EmbedDType::bfloat16:
        u = to_bfloat16(values[i]);
        break;
      case EmbedDType::fp8_e4m3:
        u = to_fp8_e4m3(values[i]);
        break;
      case EmbedDType::fp8_e5m2:
        u = to_fp8_e5m2(values[i]);
        break;
    }
    for (size_t b = 0; b < w; ++b)
      out[at + i * w + (big_endian ? w - 1 - b : b)] = char(uint8_t(u >> (8 * b)));
  }
}

std::string base64_encode(std::string_view bytes) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const size_t n = bytes.size();
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = uint32_t(p[i]) << 16 | uint32_t(p[i + 1]) << 8 | p[i + 2];
    out += tbl[v >> 18 & 63], out += tbl[v >> 12 & 63], out += tbl[v >> 6 & 63], out += tbl[v & 63];
  }
  if (i + 1 == n) {
    uint32_t v = uint32_t(p[i]) << 16;
    out += tbl[v >> 18 & 63], out += tbl[v >> 12 & 63], out += "==";
  } else if (i + 2 == n) {
    uint32_t v = uint32_t(p[i]) << 16 | uint32_t(p[i + 1]) << 8;
    out += tbl[v >> 18 & 63], out += tbl[v >> 12 & 63], out += tbl[v >> 6 & 63], out += '=';
  }
  return out;
}

}  // namespace vkcls::server
