// common/json_bounded.h: the same values as nlohmann's own parser (key order and repeated keys
// included), every limit a typed error naming it and the path, and ordered objects with many
// keys built in linear time.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "common/json_bounded.h"

namespace vkcls {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

template <class J>
JsonParseError error_of(const std::string& text, const JsonLimits& limits = {}) {
  try {
    json_parse_bounded<J>(text, limits);
  } catch (const JsonParseError& e) {
    return e;
  }
  ADD_FAILURE() << "no error for " << text.substr(0, 80);
  return JsonParseError(JsonParseError::Kind::syntax, "", "");
}

TEST(JsonBounded, SameValuesAsNlohmannIncludingOrderAndRepeatedKeys) {
  const char* docs[] = {
      "null",
      "true",
      "-12",
      "18446744073709551615",
      "2.5e-3",
      R"("a\u00e9\n")",
      "[]",
      "{}",
      R"({"z": 1, "a": [1, {"y": 2, "b": [true, null]}], "z": 5, "m": {}})",
      R"([{"role": "user", "content": [{"type": "text", "text": "hi"}]}, [], [[]]])",
  };
  for (const char* d : docs) {
    SCOPED_TRACE(d);
    EXPECT_EQ(json_parse_bounded<ojson>(d).dump(), ojson::parse(d).dump());
    EXPECT_EQ(json_parse_bounded<json>(d).dump(), json::parse(d).dump());
  }
  // more keys than the linear search covers, repeated ones among them
  std::string many = "{";
  for (int i = 0; i < 300; ++i)
    many +=
        (i ? "," : "") + std::string("\"k") + std::to_string(i % 200) + "\":" + std::to_string(i);
  many += "}";
  EXPECT_EQ(json_parse_bounded<ojson>(many).dump(), ojson::parse(many).dump());
  EXPECT_EQ(json_parse_bounded<json>(many), json::parse(many));
}

TEST(JsonBounded, NestingStopsAtTheLimit) {
  const JsonLimits limits{.max_depth = 4};
  EXPECT_NO_THROW(json_parse_bounded<json>("[[[[1]]]]", limits));
  JsonParseError e = error_of<json>("[[[[[1]]]]]", limits);
  EXPECT_EQ(e.kind(), JsonParseError::Kind::too_deep);
  EXPECT_NE(std::string(e.what()).find("limit of 4 levels"), std::string::npos) << e.what();
  // the case of issue 14: 200,000 levels, with the default limit
  e = error_of<ojson>("{\"a\": " + std::string(200000, '[') + std::string(200000, ']') + "}");
  EXPECT_EQ(e.kind(), JsonParseError::Kind::too_deep);
  EXPECT_NE(std::string(e.what()).find("limit of 128 levels"), std::string::npos) << e.what();
}

TEST(JsonBounded, ValueCountStopsAtTheLimit) {
  const JsonLimits limits{.max_values = 4};
  EXPECT_NO_THROW(json_parse_bounded<json>("[1, 2, 3]", limits));  // the array is a value too
  JsonParseError e = error_of<json>("[1, 2, 3, 4]", limits);
  EXPECT_EQ(e.kind(), JsonParseError::Kind::too_many_values);
  EXPECT_NE(std::string(e.what()).find("limit of 4"), std::string::npos) << e.what();
}

TEST(JsonBounded, AnOutOfRangeNumberNamesItsPath) {
  JsonParseError e = error_of<ojson>(R"({"truncate_prompt_tokens": 1e400})");
  EXPECT_EQ(e.kind(), JsonParseError::Kind::number_out_of_range);
  EXPECT_EQ(e.path(), "truncate_prompt_tokens");
  EXPECT_NE(std::string(e.what()).find("1e400"), std::string::npos) << e.what();
  e = error_of<json>(R"({"input": [1, [2, -1e999]]})");
  EXPECT_EQ(e.path(), "input[1][1]");
}

TEST(JsonBounded, SyntaxErrorsKeepNlohmannsMessage) {
  JsonParseError e = error_of<json>("{\"a\": ");
  EXPECT_EQ(e.kind(), JsonParseError::Kind::syntax);
  EXPECT_NE(std::string(e.what()).find("parse error"), std::string::npos) << e.what();
  EXPECT_EQ(error_of<json>("[1] 2").kind(), JsonParseError::Kind::syntax);  // trailing garbage
}

// nlohmann's own ordered_json parse searches the keys for each insert: 40,000 keys took 8.4 s and
// 100,000 keys 87 s (issue 14). Linear here: 200,000 keys well within seconds.
TEST(JsonBounded, AnOrderedObjectWithManyKeysIsLinear) {
  std::string text = "{";
  for (int i = 0; i < 200000; ++i)
    text += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":" + std::to_string(i);
  text += "}";
  auto t0 = std::chrono::steady_clock::now();
  ojson j = json_parse_bounded<ojson>(text);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(j.size(), 200000u);
  EXPECT_EQ(j.begin().key(), "k0");
  EXPECT_EQ(j["k199999"], 199999);
  EXPECT_LT(s, 20.0) << "quadratic key insertion (nlohmann's parse takes minutes here)";
}

}  // namespace
}  // namespace vkcls
