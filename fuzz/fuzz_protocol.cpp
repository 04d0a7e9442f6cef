// libFuzzer target for the server's JSON protocol layer (server/protocol.cpp): the bytes as a
// request body, parsed with the server's bounded JSON, then through every route's request
// parser, as `vkcls serve` does before anything reaches the engine. Every failure must be an
// ApiError, an engine Error or a bounded-JSON error (each answered as a 4xx); anything else
// (a crash, a leak, another exception, which the server would answer 500) is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/json_bounded.h"
#include "server/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vkcls::server;
  const std::string text(reinterpret_cast<const char*>(data), size);
  json body;
  try {
    body = vkcls::json_parse_bounded<json>(text);
  } catch (const vkcls::JsonParseError&) {
    return 0;
  }
  if (!body.is_object()) return 0;
  Limits limits;
  limits.max_inputs_per_request = 64;
  auto each = [&](auto&& parse) {
    try {
      parse();
    } catch (const ApiError&) {
    } catch (const vkcls::Error&) {
    }
  };
  each([&] { (void)parse_classify(body, limits); });
  each([&] { (void)parse_pooling(body, limits); });
  each([&] { (void)parse_embedding(body, limits); });
  each([&] { (void)parse_score(body, limits); });
  each([&] { (void)parse_rerank(body, limits); });
  each([&] { (void)parse_tokenize(body); });
  each([&] { (void)parse_detokenize(body); });
  each([&] { (void)dump(body); });
  return 0;
}
