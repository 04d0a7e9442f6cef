// How pooled vectors leave the server, as vLLM's serial_utils: JSON floats, base64 of their
// bytes, or the bytes themselves (encoding_format), each value as embed_dtype in the byte order
// of endianness. The conversions round to nearest even, as torch's Tensor.to() does.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace vkcls::server {

// vLLM's EmbedDType; fp8_e4m3 is torch's float8_e4m3fn (no infinity: 0x7f is NaN, 448 the
// largest), fp8_e5m2 is float8_e5m2 (infinities, 57344 the largest)
enum class EmbedDType { float32, float16, bfloat16, fp8_e4m3, fp8_e5m2 };

std::optional<EmbedDType> embed_dtype_from_name(std::string_view name);
const char* embed_dtype_name(EmbedDType d);
size_t embed_dtype_bytes(EmbedDType d);

// encoding_format: float (JSON lists), base64 (a string per vector), bytes (the response body
// is every vector's bytes; a `metadata` header says where each starts), bytes_only (no header)
struct EncodingFormat {
  enum class Kind { float_list, base64, bytes, bytes_only } kind = Kind::float_list;
  EmbedDType dtype = EmbedDType::float32;
  bool big_endian = false;
  std::string endianness = "native";  // as asked: bytes' metadata repeats it
  bool binary() const { return kind == Kind::bytes || kind == Kind::bytes_only; }
};

uint16_t to_bfloat16(float f);
uint16_t to_float16(float f);
uint8_t to_fp8_e4m3(float f);
uint8_t to_fp8_e5m2(float f);

// Appends the values as `dtype`, each value's bytes little-endian unless big_endian.
void append_encoded(std::string& out, std::span<const float> values, EmbedDType dtype,
                    bool big_endian);
std::string base64_encode(std::string_view bytes);

}  // namespace vkcls::server
