// embed_dtype conversions (server/embed_encoding.h) against a reference decoder: every code of
// every format round-trips, every midpoint between neighbours rounds to the even one (and a
// hair off it to the nearer one), overflow saturates as torch's c10 does (e4m3fn: NaN; e5m2,
// float16, bfloat16: infinity), and the byte order / base64 framing is vLLM's.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "server/embed_encoding.h"

namespace vkcls::server {
namespace {

// A sign, `ebits` exponent and `mbits` mantissa bits; ieee: the top exponent is inf / NaN,
// else (e4m3fn) only the all-ones mantissa there is NaN.
struct Format {
  const char* name;
  int ebits, mbits;
  bool ieee;
  uint32_t (*encode)(float);
  int bits() const { return 1 + ebits + mbits; }
};

const Format kFormats[] = {
    {"fp8_e4m3", 4, 3, false, [](float f) { return uint32_t(to_fp8_e4m3(f)); }},
    {"fp8_e5m2", 5, 2, true, [](float f) { return uint32_t(to_fp8_e5m2(f)); }},
    {"float16", 5, 10, true, [](float f) { return uint32_t(to_float16(f)); }},
    {"bfloat16", 8, 7, true, [](float f) { return uint32_t(to_bfloat16(f)); }},
};

// The reference: a code's value, straight from the format's definition.
double decode(const Format& f, uint32_t code) {
  const uint32_t mant_mask = (1u << f.mbits) - 1, max_field = (1u << f.ebits) - 1;
  const uint32_t field = code >> f.mbits & max_field, mant = code & mant_mask;
  const double sign = code >> (f.bits() - 1) ? -1.0 : 1.0;
  const int bias = (1 << (f.ebits - 1)) - 1;
  if (f.ieee && field == max_field)
    return mant ? std::numeric_limits<double>::quiet_NaN()
                : sign * std::numeric_limits<double>::infinity();
  if (!f.ieee && field == max_field && mant == mant_mask)
    return std::numeric_limits<double>::quiet_NaN();
  if (field == 0) return sign * std::ldexp(double(mant), 1 - bias - f.mbits);
  return sign * std::ldexp(1.0 + double(mant) / double(1u << f.mbits), int(field) - bias);
}

bool is_nan_code(const Format& f, uint32_t code) {
  return std::isnan(decode(f, code));
}

TEST(EmbedEncoding, EveryCodeRoundTrips) {
  for (const Format& f : kFormats) {
    for (uint32_t code = 0; code < (1u << f.bits()); ++code) {
      if (is_nan_code(f, code)) {
        const uint32_t got = f.encode(float(decode(f, code)));
        EXPECT_TRUE(is_nan_code(f, got)) << f.name << " NaN encodes as " << got;
        continue;
      }
      ASSERT_EQ(f.encode(float(decode(f, code))), code) << f.name << " code " << code;
    }
  }
}

TEST(EmbedEncoding, MidpointsRoundToEvenAndNeighboursToTheNearer) {
  for (const Format& f : kFormats) {
    // positive codes in value order are consecutive integers up to the largest finite
    for (uint32_t lo = 0; lo + 1 < (1u << (f.bits() - 1)); ++lo) {
      const uint32_t hi = lo + 1;
      if (is_nan_code(f, hi)) break;
      const double a = decode(f, lo), b = decode(f, hi);
      if (std::isinf(b) && f.ebits == 8) break;  // bfloat16's last midpoint is past float's range
      // the tie with infinity is at the next binade's step: max + half an ulp
      const double mid = std::isinf(b) ? a + (a - decode(f, lo - 1)) / 2 : (a + b) / 2;
      const float m = float(mid);
      ASSERT_EQ(double(m), mid) << f.name << ": midpoint not exact in float";
      const uint32_t even = lo % 2 == 0 ? lo : hi;
      EXPECT_EQ(f.encode(m), even) << f.name << " tie " << mid;
      EXPECT_EQ(f.encode(std::nextafter(m, std::numeric_limits<float>::infinity())), hi)
          << f.name << " above " << mid;
      EXPECT_EQ(f.encode(std::nextafter(m, 0.f)), lo) << f.name << " below " << mid;
      const uint32_t sign = 1u << (f.bits() - 1);
      EXPECT_EQ(f.encode(-m), even | sign) << f.name << " -tie " << mid;
    }
  }
}

TEST(EmbedEncoding, OverflowAndSpecialsAsTorch) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // e4m3fn: 448 is the largest; 464 ties back to it; past it everything is NaN (0x7f)
  EXPECT_EQ(to_fp8_e4m3(448.f), 0x7e);
  EXPECT_EQ(to_fp8_e4m3(464.f), 0x7e);
  EXPECT_EQ(to_fp8_e4m3(std::nextafter(464.f, inf)), 0x7f);
  EXPECT_EQ(to_fp8_e4m3(1e30f), 0x7f);
  EXPECT_EQ(to_fp8_e4m3(inf), 0x7f);
  EXPECT_EQ(to_fp8_e4m3(-inf), 0xff);
  EXPECT_EQ(to_fp8_e4m3(nan) & 0x7f, 0x7f);
  EXPECT_EQ(to_fp8_e4m3(1.f), 0x38);
  EXPECT_EQ(to_fp8_e4m3(-2.f), 0xc0);
  EXPECT_EQ(to_fp8_e4m3(std::ldexp(1.f, -9)), 0x01);   // the smallest subnormal
  EXPECT_EQ(to_fp8_e4m3(std::ldexp(1.f, -10)), 0x00);  // half of it: ties to zero (even)
  EXPECT_EQ(to_fp8_e4m3(-0.f), 0x80);
  // e5m2: 57344 the largest; 61440 ties up into infinity (57344's mantissa is odd)
  EXPECT_EQ(to_fp8_e5m2(57344.f), 0x7b);
  EXPECT_EQ(to_fp8_e5m2(std::nextafter(61440.f, 0.f)), 0x7b);
  EXPECT_EQ(to_fp8_e5m2(61440.f), 0x7c);
  EXPECT_EQ(to_fp8_e5m2(-inf), 0xfc);
  EXPECT_EQ(to_fp8_e5m2(nan) & 0x7f, 0x7f);
  EXPECT_EQ(to_fp8_e5m2(1.f), 0x3c);
  EXPECT_EQ(to_fp8_e5m2(std::ldexp(1.f, -16)), 0x01);
  EXPECT_EQ(to_float16(65504.f), 0x7bff);
  EXPECT_EQ(to_float16(65520.f), 0x7c00);
  EXPECT_EQ(to_bfloat16(1.f), 0x3f80);
}

TEST(EmbedEncoding, ByteOrderAndWidths) {
  const std::vector<float> v = {1.f, -2.f};
  std::string out;
  append_encoded(out, v, EmbedDType::float16, false);
  EXPECT_EQ(out, std::string("\x00\x3c\x00\xc0", 4));
  out.clear();
  append_encoded(out, v, EmbedDType::float16, true);
  EXPECT_EQ(out, std::string("\x3c\x00\xc0\x00", 4));
  out.clear();
  append_encoded(out, v, EmbedDType::float32, true);
  EXPECT_EQ(out, std::string("\x3f\x80\x00\x00\xc0\x00\x00\x00", 8));
  out.clear();
  append_encoded(out, v, EmbedDType::bfloat16, false);
  EXPECT_EQ(out, std::string("\x80\x3f\x00\xc0", 4));
  for (bool big : {false, true}) {  // one byte a value: the order changes nothing
    out.clear();
    append_encoded(out, v, EmbedDType::fp8_e4m3, big);
    EXPECT_EQ(out, "\x38\xc0");
    out.clear();
    append_encoded(out, v, EmbedDType::fp8_e5m2, big);
    EXPECT_EQ(out, "\x3c\xc0");
  }
  for (auto [name, d, w] : {std::tuple{"float32", EmbedDType::float32, 4},
                            {"float16", EmbedDType::float16, 2},
                            {"bfloat16", EmbedDType::bfloat16, 2},
                            {"fp8_e4m3", EmbedDType::fp8_e4m3, 1},
                            {"fp8_e5m2", EmbedDType::fp8_e5m2, 1}}) {
    ASSERT_EQ(embed_dtype_from_name(name), d);
    EXPECT_STREQ(embed_dtype_name(d), name);
    EXPECT_EQ(embed_dtype_bytes(d), size_t(w));
  }
  EXPECT_FALSE(embed_dtype_from_name("fp8"));
  EXPECT_FALSE(embed_dtype_from_name("Float32"));
}

TEST(EmbedEncoding, Base64AsRfc4648) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode(std::string("\xff\xfe\x00", 3)), "//4A");
}

}  // namespace
}  // namespace vkcls::server
