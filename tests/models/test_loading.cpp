// Loading layer: safetensors (built here byte by byte, valid and malformed),
// sharded indexes, config.json of real-world shapes, sentence-transformers
// folders, and every fixture folder under tests/data/models/ when present.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "models/config.h"
#include "models/safetensors.h"
#include "runtime/half.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace vkcls;

namespace {

// ---------------------------------------------------------------------------
// Building safetensors images
// ---------------------------------------------------------------------------

struct RawTensor {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

template <typename T>
std::vector<uint8_t> as_bytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::vector<uint8_t> u64le(uint64_t n) {
  std::vector<uint8_t> b(8);
  for (int i = 0; i < 8; i++) b[i] = uint8_t(n >> (8 * i));
  return b;
}

// [u64 N][header JSON padded with spaces to 8 bytes][data], tensors back to back.
std::vector<uint8_t> image_from_header(const std::string& header_json,
                                       const std::vector<uint8_t>& data) {
  std::string h = header_json;
  while (h.size() % 8) h += ' ';
  std::vector<uint8_t> out = u64le(h.size());
  out.insert(out.end(), h.begin(), h.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<uint8_t> build_image(const std::vector<RawTensor>& tensors, bool with_metadata = true) {
  json header = json::object();
  if (with_metadata) header["__metadata__"] = {{"format", "pt"}};
  std::vector<uint8_t> data;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", t.dtype},
                      {"shape", t.shape},
                      {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data.insert(data.end(), t.bytes.begin(), t.bytes.end());
  }
  return image_from_header(header.dump(), data);
}

void write_file(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}
void write_text(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << s;
}

// A fresh directory per test, removed afterwards.
class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / (std::string("vkcls_models_") + info->test_suite_name() +
                                        "_" + info->name() + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// Expects `f` to throw E whose message contains every one of `parts`.
template <typename E = SafetensorsError, typename F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one containing \"" << *parts.begin() << "\"";
  } catch (const E& e) {
    std::string msg = e.what();
    for (const auto& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "message: " << msg << "\nmissing: " << p;
  }
}

std::vector<uint16_t> bf16_of(
    const std::vector<float>& v) {  // truncation: these values are exact in bf16
  std::vector<uint16_t> out;
  for (float f : v) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    out.push_back(uint16_t(x >> 16));
  }
  return out;
}

// ---------------------------------------------------------------------------
// safetensors: valid files
// ---------------------------------------------------------------------------

using Safetensors = TempDir;

TEST_F(Safetensors, F32ReadBackAndConvert) {
  std::vector<float> w = {1.0f, -2.5f, 0.1f, 3.0e-5f, 65504.0f, 1e6f};
  write_file(dir_ / "model.safetensors", build_image({{"encoder.w", "F32", {2, 3}, as_bytes(w)}}));
  WeightStore s = WeightStore::open_dir(dir_.string());
  ASSERT_TRUE(s.has("encoder.w"));
  EXPECT_FALSE(s.has("__metadata__"));
  const WeightView& v = s.get("encoder.w", {2, 3});
  EXPECT_EQ(v.dtype, WeightDType::f32);
  EXPECT_EQ(v.dtype_name, "F32");
  EXPECT_EQ(v.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(v.bytes, 24u);
  EXPECT_EQ(v.numel(), 6);
  EXPECT_EQ(s.to_f32("encoder.w"), w);
  std::vector<uint16_t> h = s.to_f16("encoder.w");
  ASSERT_EQ(h.size(), 6u);
  for (size_t i = 0; i < 6; i++) EXPECT_EQ(h[i], float_to_half(w[i])) << i;
  EXPECT_EQ(h[5], 0x7c00u);                           // 1e6 overflows half -> +inf
  EXPECT_EQ(s.get("encoder.w", {-1, 3}).numel(), 6);  // -1 matches any extent
}

TEST_F(Safetensors, F16AndBF16) {
  std::vector<float> vals = {0.5f, -1.0f, 2.0f, 1024.0f};
  std::vector<uint16_t> h;
  for (float f : vals) h.push_back(float_to_half(f));
  write_file(dir_ / "m.safetensors", build_image({{"a", "F16", {4}, as_bytes(h)},
                                                  {"b", "BF16", {2, 2}, as_bytes(bf16_of(vals))}}));
  WeightStore s = WeightStore::open_file((dir_ / "m.safetensors").string());
  EXPECT_EQ(s.get("a").dtype, WeightDType::f16);
  EXPECT_EQ(s.get("b").dtype, WeightDType::bf16);
  EXPECT_EQ(s.to_f32("a"), vals);
  EXPECT_EQ(s.to_f32("b"), vals);
  EXPECT_EQ(s.to_f16("a"), h);
  EXPECT_EQ(s.to_f16("b"), h);
}

// A NaN or inf in a weight is refused when it is read, naming the tensor and the first element.
TEST_F(Safetensors, NonFiniteWeightsRefusedNamingTheTensor) {
  std::vector<float> vals = {0.5f, -1.0f, std::nanf(""), 2.0f};
  std::vector<float> big = {1.0f, std::numeric_limits<float>::infinity()};
  write_file(dir_ / "m.safetensors",
             build_image({{"ok", "F32", {2}, as_bytes(std::vector<float>{1, 2})},
                          {"layer.nan", "F32", {4}, as_bytes(vals)},
                          {"layer.inf", "BF16", {2}, as_bytes(bf16_of(big))}}));
  WeightStore s = WeightStore::open_file((dir_ / "m.safetensors").string());
  EXPECT_EQ(s.to_f32("ok"), (std::vector<float>{1, 2}));
  expect_error([&] { s.to_f32("layer.nan"); }, {"layer.nan", "1 non-finite value", "element 2"});
  expect_error([&] { s.to_f32("layer.inf"); }, {"layer.inf", "NaN or inf", "element 1"});
}

// bf16 -> f16 must round once (bf16 -> float is exact): ties go to even in half's subnormals.
TEST_F(Safetensors, BF16ToF16RoundsCorrectly) {
  const float ulp = std::ldexp(1.0f, -24);  // smallest half subnormal
  // All exact in bf16; 69632 is beyond half's range (65504).
  std::vector<float> vals = {1.5f * ulp,  2.5f * ulp, 3.5f * ulp, 1.25f * ulp,
                             0.25f * ulp, 69632.0f,   -69632.0f,  std::ldexp(1.0f, -14)};
  std::vector<uint16_t> expect = {0x0002, 0x0002, 0x0004, 0x0001, 0x0000, 0x7c00, 0xfc00, 0x0400};
  write_file(dir_ / "m.safetensors", build_image({{"x", "BF16", {8}, as_bytes(bf16_of(vals))}}));
  WeightStore s = WeightStore::open_file((dir_ / "m.safetensors").string());
  EXPECT_EQ(s.to_f16("x"), expect);
  EXPECT_EQ(s.to_f32("x"), vals);
}

TEST_F(Safetensors, IntegerAndOtherDtypes) {
  std::vector<int64_t> ids = {0, 1, 2};
  std::vector<int32_t> i32 = {7, -7};
  write_file(dir_ / "m.safetensors", build_image({{"position_ids", "I64", {1, 3}, as_bytes(ids)},
                                                  {"i", "I32", {2}, as_bytes(i32)},
                                                  {"q", "I8", {3}, {1, 2, 3}},
                                                  {"empty", "F32", {0, 4}, {}}},
                                                 /*with_metadata=*/false));
  WeightStore s = WeightStore::open_file((dir_ / "m.safetensors").string());
  EXPECT_EQ(s.get("position_ids").dtype, WeightDType::i64);
  EXPECT_EQ(s.get("i").dtype, WeightDType::i32);
  EXPECT_EQ(s.get("q").dtype, WeightDType::other);
  EXPECT_EQ(s.get("q").dtype_name, "I8");
  EXPECT_EQ(s.get("empty").bytes, 0u);
  EXPECT_TRUE(s.to_f32("empty").empty());
  int64_t back[3];
  std::memcpy(back, s.get("position_ids").data, sizeof back);
  EXPECT_EQ(back[2], 2);
  expect_error([&] { s.to_f32("position_ids"); },
               {"position_ids", "I64", "expected F32, F16 or BF16"});
  expect_error([&] { s.to_f16("q"); }, {"q", "I8"});
  EXPECT_EQ(s.names(), (std::vector<std::string>{"empty", "i", "position_ids", "q"}));
}

TEST_F(Safetensors, ShapeMismatchAndMissingNames) {
  std::vector<float> w(6, 1.0f);
  write_file(
      dir_ / "model.safetensors",
      build_image({{"encoder.layer.0.attention.self.query.weight", "F32", {2, 3}, as_bytes(w)},
                   {"encoder.layer.1.attention.self.query.weight", "F32", {2, 3}, as_bytes(w)},
                   {"classifier.weight", "F32", {2, 3}, as_bytes(w)}}));
  WeightStore s = WeightStore::open_dir(dir_.string());
  expect_error(
      [&] {
        s.get("classifier.weight", {3, 2});
      },
      {"tensor classifier.weight has shape [2, 3], expected [3, 2]"});
  expect_error([&] { s.get("classifier.weight", {6}); }, {"has shape [2, 3], expected [6]"});
  // The "bert." prefix is missing in the file: the suggestion shows the real name.
  expect_error([&] { s.get("bert.encoder.layer.0.attention.self.query.weight"); },
               {"tensor 'bert.encoder.layer.0.attention.self.query.weight' not found",
                "similar names: encoder.layer.0.attention.self.query.weight"});
  expect_error([&] { s.get("encoder.layer.7.attention.self.query.weight"); },
               {"not found", "encoder.layer.0.attention.self.query.weight",
                "encoder.layer.1.attention.self.query.weight"});
  expect_error([&] { s.get("nothing_like_it"); }, {"'nothing_like_it' not found", "3 tensors"});
}

TEST_F(Safetensors, StoreIsMovable) {
  std::vector<float> w = {1, 2, 3, 4};
  write_file(dir_ / "model.safetensors", build_image({{"w", "F32", {4}, as_bytes(w)}}));
  WeightStore a = WeightStore::open_dir(dir_.string());
  const uint8_t* p = a.get("w").data;
  WeightStore b = std::move(a);
  EXPECT_EQ(b.get("w").data, p);  // the mapping did not move
  EXPECT_EQ(b.to_f32("w"), w);
  WeightStore c = WeightStore::open_file((dir_ / "model.safetensors").string());
  c = std::move(b);
  EXPECT_EQ(c.to_f32("w"), w);
}

// ---------------------------------------------------------------------------
// safetensors: malformed files
// ---------------------------------------------------------------------------

TEST_F(Safetensors, MalformedFilesGiveClearErrors) {
  std::vector<float> w(6, 1.0f);
  const std::vector<uint8_t> data = as_bytes(w);  // 24 bytes
  struct Case {
    const char* what;
    std::vector<uint8_t> bytes;
    std::string expect;
  };
  std::vector<uint8_t> huge = u64le(UINT64_MAX);
  huge.resize(64, '{');
  std::vector<uint8_t> long_len = u64le(1000);
  for (char ch : std::string("{\"a\":1}")) long_len.push_back(uint8_t(ch));
  std::vector<uint8_t> valid = build_image({{"w", "F32", {2, 3}, data}});
  std::vector<uint8_t> truncated_data(valid.begin(), valid.end() - 4);
  std::vector<uint8_t> truncated_header(valid.begin(), valid.begin() + 20);

  const Case cases[] = {
      {"empty", {}, "too short for the 8-byte header length"},
      {"5 bytes", {1, 2, 3, 4, 5}, "too short"},
      {"header length huge", huge, "header length 18446744073709551615 exceeds"},
      {"header length past end", long_len, "header length 1000 exceeds"},
      {"truncated header", truncated_header, "exceeds"},
      {"truncated data", truncated_data, "run past the end of the data section"},
      {"non-JSON header", image_from_header("this is not json", data), "header is not valid JSON"},
      {"header is a list", image_from_header("[1, 2, 3]", data), "header is not a JSON object"},
      {"zero-length header", u64le(0), "too small"},
      {"offsets past end",
       image_from_header(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,48]}})", data),
       "tensor 'w': data_offsets [0, 48] run past the end of the data section (24 bytes)"},
      {"dtype x shape mismatch",
       image_from_header(R"({"w":{"dtype":"F16","shape":[2,3],"data_offsets":[0,24]}})", data),
       "hold 24 bytes, but dtype F16 x shape [2, 3] needs 12"},
      {"shape mismatch",
       image_from_header(R"({"w":{"dtype":"F32","shape":[4,3],"data_offsets":[0,24]}})", data),
       "needs 48"},
      {"begin after end",
       image_from_header(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", data),
       "begin after end"},
      {"unknown dtype",
       image_from_header(R"({"w":{"dtype":"F33","shape":[6],"data_offsets":[0,24]}})", data),
       "unknown dtype \"F33\""},
      {"missing dtype", image_from_header(R"({"w":{"shape":[6],"data_offsets":[0,24]}})", data),
       "\"dtype\""},
      {"negative dim",
       image_from_header(R"({"w":{"dtype":"F32","shape":[-6],"data_offsets":[0,24]}})", data),
       "shape entry -6 is not a non-negative integer"},
      {"float dim",
       image_from_header(R"({"w":{"dtype":"F32","shape":[6.0],"data_offsets":[0,24]}})", data),
       "not a non-negative integer"},
      {"shape overflow",
       image_from_header(
           R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,24]}})", data),
       "overflows"},
      {"bytes overflow",
       image_from_header(
           R"({"w":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,24]}})", data),
       "overflows"},
      {"offsets not a pair",
       image_from_header(R"({"w":{"dtype":"F32","shape":[6],"data_offsets":[0]}})", data),
       "data_offsets"},
      {"negative offset",
       image_from_header(R"({"w":{"dtype":"F32","shape":[6],"data_offsets":[-4,20]}})", data),
       "data_offsets"},
      {"entry not an object", image_from_header(R"({"w":[1,2]})", data), "entry is not an object"},
      {"overlap",
       image_from_header(
           R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
           data),
       "tensors 'a' [0, 16] and 'b' [8, 24] overlap"},
      {"overlap past an empty tensor",
       image_from_header(R"({"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]},)"
                         R"("b":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                         R"("c":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                         data),
       "overlap"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    fs::path p = dir_ / "bad.safetensors";
    write_file(p, c.bytes);
    expect_error([&] { WeightStore::open_file(p.string()); }, {c.expect, p.string()});
  }
}

TEST_F(Safetensors, DirectoryErrors) {
  expect_error([&] { WeightStore::open_dir((dir_ / "nope").string()); }, {"does not exist"});
  expect_error([&] { WeightStore::open_dir(dir_.string()); },
               {"has no weights", "model.safetensors.index.json", "pytorch_model.bin.index.json"});
  // pytorch_model.bin is read now (tests/models/test_torch_bin.cpp); three bytes are no checkpoint.
  write_file(dir_ / "pytorch_model.bin", {1, 2, 3});
  expect_error([&] { WeightStore::open_dir(dir_.string()); },
               {"pytorch_model.bin", "not a PyTorch checkpoint"});
  expect_error([&] { WeightStore::open_file((dir_ / "missing.safetensors").string()); },
               {"cannot open"});
}

// ---------------------------------------------------------------------------
// Sharded index
// ---------------------------------------------------------------------------

TEST_F(Safetensors, ShardedIndex) {
  std::vector<float> a = {1, 2}, b = {3, 4, 5};
  write_file(dir_ / "model-00001-of-00002.safetensors",
             build_image({{"embed.weight", "F32", {2}, as_bytes(a)}}));
  write_file(dir_ / "model-00002-of-00002.safetensors",
             build_image({{"head.weight", "BF16", {3}, as_bytes(bf16_of(b))},
                          {"head.bias", "F32", {1}, std::vector<uint8_t>(4, 0)}}));
  json index = {{"metadata", {{"total_size", 18}}},
                {"weight_map",
                 {{"embed.weight", "model-00001-of-00002.safetensors"},
                  {"head.weight", "model-00002-of-00002.safetensors"},
                  {"head.bias", "model-00002-of-00002.safetensors"}}}};
  write_text(dir_ / "model.safetensors.index.json", index.dump(2));
  WeightStore s = WeightStore::open_dir(dir_.string());
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.to_f32("embed.weight"), a);
  EXPECT_EQ(s.to_f32("head.weight"), b);
  EXPECT_NE(s.get("head.weight").file.find("model-00002-of-00002"), std::string::npos);

  // The index places a tensor in the wrong shard.
  index["weight_map"]["head.bias"] = "model-00001-of-00002.safetensors";
  write_text(dir_ / "model.safetensors.index.json", index.dump());
  expect_error([&] { WeightStore::open_dir(dir_.string()); },
               {"places tensor 'head.bias'", "does not hold it"});
  // A shard that is missing.
  index["weight_map"]["head.bias"] = "model-00003-of-00002.safetensors";
  write_text(dir_ / "model.safetensors.index.json", index.dump());
  expect_error([&] { WeightStore::open_dir(dir_.string()); },
               {"model-00003-of-00002.safetensors", "missing"});
  // A shard name that leaves the directory.
  index["weight_map"]["head.bias"] = "../model-00002-of-00002.safetensors";
  write_text(dir_ / "model.safetensors.index.json", index.dump());
  expect_error([&] { WeightStore::open_dir(dir_.string()); }, {"must be a plain file name"});
  // Not JSON / no weight_map.
  write_text(dir_ / "model.safetensors.index.json", "{\"weight_map\": ");
  expect_error([&] { WeightStore::open_dir(dir_.string()); }, {"index.json is not valid JSON"});
  write_text(dir_ / "model.safetensors.index.json", "{}");
  expect_error([&] { WeightStore::open_dir(dir_.string()); }, {"no \"weight_map\""});
  // The same tensor in two shards.
  write_file(dir_ / "model-00001-of-00002.safetensors",
             build_image({{"head.weight", "F32", {2}, as_bytes(a)}}));
  index["weight_map"] = {{"head.weight", "model-00002-of-00002.safetensors"},
                         {"x", "model-00001-of-00002.safetensors"}};
  write_text(dir_ / "model.safetensors.index.json", index.dump());
  expect_error([&] { WeightStore::open_dir(dir_.string()); }, {"'head.weight' appears in both"});
}

// ---------------------------------------------------------------------------
// Fuzz: byte flips and truncations of a valid file never crash
// ---------------------------------------------------------------------------

TEST_F(Safetensors, FuzzNeverCrashes) {
  std::vector<float> w(12);
  for (size_t i = 0; i < w.size(); i++) w[i] = float(i) * 0.5f;
  std::vector<uint16_t> h(8, 0x3c00);
  const std::vector<uint8_t> valid = build_image({{"a.weight", "F32", {3, 4}, as_bytes(w)},
                                                  {"a.bias", "F16", {8}, as_bytes(h)},
                                                  {"b", "BF16", {2, 4}, as_bytes(h)}});
  std::mt19937 rng(1234);
  int parsed = 0, rejected = 0;
  for (int iter = 0; iter < 20000; iter++) {
    std::vector<uint8_t> m = valid;
    int kind = int(rng() % 4);
    if (kind == 0) {  // truncate anywhere
      m.resize(rng() % m.size());
    } else if (kind == 1) {  // flip a few bytes, mostly in the header
      for (int k = 0, n = 1 + int(rng() % 4); k < n; k++)
        m[rng() % std::min<size_t>(m.size(), 200)] ^= uint8_t(1 + rng() % 255);
    } else if (kind == 2) {  // replace a header byte with a JSON-significant character
      const char sig[] = "{}[]\",:0123456789-e.";
      m[8 + rng() % (m.size() - 8 - 56)] = uint8_t(sig[rng() % (sizeof sig - 1)]);
    } else {  // garble the length field
      for (int k = 0; k < 8; k++) m[k] = uint8_t(rng() % 4 == 0 ? rng() : m[k]);
    }
    try {
      auto views = safetensors_parse(m.data(), m.size(), "fuzz.safetensors");
      // Whatever parsed must lie inside the buffer: touch every byte.
      unsigned sum = 0;
      for (const auto& v : views) {
        ASSERT_GE(v.data, m.data());
        ASSERT_LE(v.data + v.bytes, m.data() + m.size());
        for (size_t i = 0; i < v.bytes; i++) sum += v.data[i];
      }
      (void)sum;
      parsed++;
    } catch (const SafetensorsError&) {
      rejected++;
    }
  }
  EXPECT_GT(parsed, 0);
  EXPECT_GT(rejected, 0);

  // A few through the file path too (mmap, empty file).
  for (size_t cut : {size_t(0), size_t(3), size_t(8), size_t(40), valid.size() - 1}) {
    write_file(dir_ / "model.safetensors",
               std::vector<uint8_t>(valid.begin(), valid.begin() + cut));
    EXPECT_THROW(WeightStore::open_dir(dir_.string()), SafetensorsError) << cut;
  }
}

// ---------------------------------------------------------------------------
// config.json
// ---------------------------------------------------------------------------

ModelConfig cfg(const std::string& s) {
  return parse_model_config(json::parse(s), "config.json");
}

TEST(Config, Bert) {  // bert-base-uncased
  ModelConfig c = cfg(R"({"architectures": ["BertForMaskedLM"], "attention_probs_dropout_prob": 0.1,
    "gradient_checkpointing": false, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 768,
    "initializer_range": 0.02, "intermediate_size": 3072, "layer_norm_eps": 1e-12, "max_position_embeddings": 512,
    "model_type": "bert", "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 0,
    "position_embedding_type": "absolute", "transformers_version": "4.6.0.dev0", "type_vocab_size": 2,
    "use_cache": true, "vocab_size": 30522})");
  EXPECT_EQ(c.model_type, "bert");
  EXPECT_EQ(c.architectures, std::vector<std::string>{"BertForMaskedLM"});
  EXPECT_EQ(c.hidden_size, 768);
  EXPECT_EQ(c.num_hidden_layers, 12);
  EXPECT_EQ(c.num_attention_heads, 12);
  EXPECT_EQ(c.num_key_value_heads, 12);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.intermediate_size, 3072);
  EXPECT_EQ(c.vocab_size, 30522);
  EXPECT_EQ(c.type_vocab_size, 2);
  EXPECT_EQ(c.pad_token_id, 0);
  EXPECT_EQ(c.hidden_act, "gelu");
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-12);
  EXPECT_EQ(c.position_embedding_type, "absolute");
  EXPECT_EQ(c.num_labels, 2);  // no id2label: transformers' default two labels
  EXPECT_FALSE(c.has_id2label);
  EXPECT_EQ(c.id2label, (std::vector<std::string>{"LABEL_0", "LABEL_1"}));
  EXPECT_EQ(c.problem_type, "");
  EXPECT_EQ(c.embedding_size, 768);
  EXPECT_EQ(c.torch_dtype, "");
  EXPECT_EQ(c.raw["transformers_version"], "4.6.0.dev0");
}

TEST(Config, RobertaWithLabels) {  // cardiffnlp/twitter-roberta-base-sentiment-latest
  ModelConfig c = cfg(
      R"({"architectures": ["RobertaForSequenceClassification"], "attention_probs_dropout_prob": 0.1,
    "bos_token_id": 0, "eos_token_id": 2, "gradient_checkpointing": false, "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1, "hidden_size": 768, "id2label": {"0": "negative", "1": "neutral", "2": "positive"},
    "initializer_range": 0.02, "intermediate_size": 3072, "label2id": {"negative": 0, "neutral": 1, "positive": 2},
    "layer_norm_eps": 1e-05, "max_position_embeddings": 514, "model_type": "roberta", "num_attention_heads": 12,
    "num_hidden_layers": 12, "pad_token_id": 1, "position_embedding_type": "absolute", "torch_dtype": "float32",
    "transformers_version": "4.13.0.dev0", "type_vocab_size": 1, "use_cache": true, "vocab_size": 50265})");
  EXPECT_EQ(c.model_type, "roberta");
  EXPECT_EQ(c.num_labels, 3);
  EXPECT_TRUE(c.has_id2label);
  EXPECT_EQ(c.id2label, (std::vector<std::string>{"negative", "neutral", "positive"}));
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-5);
  EXPECT_EQ(c.pad_token_id, 1);
  EXPECT_EQ(c.type_vocab_size, 1);
  EXPECT_EQ(c.max_position_embeddings, 514);
  EXPECT_EQ(c.torch_dtype, "float32");
}

TEST(Config, XlmRobertaRerankerRegression) {  // BAAI/bge-reranker-base shape
  ModelConfig c =
      cfg(R"({"architectures": ["XLMRobertaForSequenceClassification"], "hidden_size": 768,
    "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}, "intermediate_size": 3072, "layer_norm_eps": 1e-05,
    "max_position_embeddings": 514, "model_type": "xlm-roberta", "num_attention_heads": 12, "num_hidden_layers": 12,
    "pad_token_id": 1, "type_vocab_size": 1, "vocab_size": 250002, "torch_dtype": "float32"})");
  EXPECT_EQ(c.model_type, "xlm-roberta");
  EXPECT_EQ(c.num_labels, 1);
  EXPECT_TRUE(c.has_id2label);
  EXPECT_EQ(c.id2label, std::vector<std::string>{"LABEL_0"});  // as written by transformers
}

TEST(Config, DistilBertNamesAreNormalised) {  // distilbert-base-uncased-finetuned-sst-2-english
  ModelConfig c =
      cfg(R"({"activation": "gelu", "architectures": ["DistilBertForSequenceClassification"],
    "attention_dropout": 0.1, "dim": 768, "dropout": 0.1, "finetuning_task": "sst-2", "hidden_dim": 3072,
    "id2label": {"0": "NEGATIVE", "1": "POSITIVE"}, "initializer_range": 0.02,
    "label2id": {"NEGATIVE": 0, "POSITIVE": 1}, "max_position_embeddings": 512, "model_type": "distilbert",
    "n_heads": 12, "n_layers": 6, "output_past": true, "pad_token_id": 0, "qa_dropout": 0.1,
    "seq_classif_dropout": 0.2, "sinusoidal_pos_embds": false, "tie_weights_": true, "vocab_size": 30522})");
  EXPECT_EQ(c.hidden_size, 768);
  EXPECT_EQ(c.num_hidden_layers, 6);
  EXPECT_EQ(c.num_attention_heads, 12);
  EXPECT_EQ(c.intermediate_size, 3072);
  EXPECT_EQ(c.hidden_act, "gelu");
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-12);
  EXPECT_EQ(c.type_vocab_size, 0);  // DistilBERT has no token types
  EXPECT_EQ(c.id2label, (std::vector<std::string>{"NEGATIVE", "POSITIVE"}));
  EXPECT_FALSE(c.raw["sinusoidal_pos_embds"].get<bool>());
  // A DistilBERT config missing "dim" names DistilBERT's field.
  expect_error<ConfigError>(
      [] {
        cfg(R"({"model_type": "distilbert", "n_layers": 6, "n_heads": 12, "hidden_dim": 3072, "vocab_size": 10})");
      },
      {"config.json", "missing field \"dim\""});
}

TEST(Config, ElectraEmbeddingSize) {  // google/electra-small-discriminator
  ModelConfig c =
      cfg(R"({"architectures": ["ElectraForPreTraining"], "attention_probs_dropout_prob": 0.1,
    "embedding_size": 128, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 256,
    "initializer_range": 0.02, "intermediate_size": 1024, "layer_norm_eps": 1e-12, "max_position_embeddings": 512,
    "model_type": "electra", "num_attention_heads": 4, "num_hidden_layers": 12, "pad_token_id": 0,
    "type_vocab_size": 2, "vocab_size": 30522})");
  EXPECT_EQ(c.embedding_size, 128);
  EXPECT_EQ(c.hidden_size, 256);
  EXPECT_EQ(c.head_dim, 64);
  // Without the field ELECTRA's default is 128 (transformers' ElectraConfig).
  ModelConfig d = cfg(
      R"({"model_type": "electra", "hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 1024, "vocab_size": 100})");
  EXPECT_EQ(d.embedding_size, 128);
}

TEST(Config, ErnieTaskId) {  // nghuyong/ernie-3.0-base-zh
  ModelConfig c =
      cfg(R"({"attention_probs_dropout_prob": 0.1, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
    "hidden_size": 768, "initializer_range": 0.02, "max_position_embeddings": 2048, "num_attention_heads": 12,
    "num_hidden_layers": 12, "task_type_vocab_size": 3, "type_vocab_size": 4, "use_task_id": true,
    "vocab_size": 40000, "layer_norm_eps": 1e-05, "model_type": "ernie", "architectures": ["ErnieForMaskedLM"],
    "intermediate_size": 3072})");
  EXPECT_TRUE(c.use_task_id);
  EXPECT_EQ(c.task_type_vocab_size, 3);
  EXPECT_EQ(c.type_vocab_size, 4);
  EXPECT_EQ(c.max_position_embeddings, 2048);
  ModelConfig d = cfg(
      R"({"model_type": "ernie", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 128, "vocab_size": 100})");
  EXPECT_FALSE(d.use_task_id);
  EXPECT_EQ(d.task_type_vocab_size, 3);
}

TEST(Config, Qwen3) {  // Qwen/Qwen3-0.6B: head_dim is not hidden / heads
  ModelConfig c = cfg(
      R"({"architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 1024,
    "initializer_range": 0.02, "intermediate_size": 3072, "max_position_embeddings": 40960, "max_window_layers": 28,
    "model_type": "qwen3", "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000, "sliding_window": null,
    "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.51.0", "use_cache": true,
    "use_sliding_window": false, "vocab_size": 151936})");
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.hidden_act, "silu");
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_EQ(c.type_vocab_size, 0);
  EXPECT_EQ(c.pad_token_id, -1);
  EXPECT_EQ(c.position_embedding_type, "rope");
  // transformers >= 5 nests rope_theta and writes "dtype".
  ModelConfig d = cfg(
      R"({"model_type": "qwen3", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
    "num_key_value_heads": 2, "head_dim": 16, "intermediate_size": 128, "vocab_size": 100, "dtype": "float16",
    "rope_parameters": {"rope_theta": 5000.0, "rope_type": "default"}})");
  EXPECT_DOUBLE_EQ(d.rope_theta, 5000.0);
  EXPECT_EQ(d.torch_dtype, "float16");
}

TEST(Config, Gpt2ModernBertGemmaNames) {
  ModelConfig g = cfg(
      R"({"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "layer_norm_epsilon": 1e-05,
    "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_inner": null, "n_layer": 12,
    "n_positions": 1024, "vocab_size": 50257})");
  EXPECT_EQ(g.hidden_size, 768);
  EXPECT_EQ(g.intermediate_size, 3072);
  EXPECT_EQ(g.hidden_act, "gelu_new");
  EXPECT_DOUBLE_EQ(g.layer_norm_eps, 1e-5);
  EXPECT_EQ(g.max_position_embeddings, 1024);
  ModelConfig m = cfg(R"({"architectures": ["ModernBertForMaskedLM"], "global_rope_theta": 160000.0,
    "hidden_activation": "gelu", "hidden_size": 768, "intermediate_size": 1152, "local_rope_theta": 10000.0,
    "max_position_embeddings": 8192, "model_type": "modernbert", "norm_eps": 1e-05, "num_attention_heads": 12,
    "num_hidden_layers": 22, "pad_token_id": 50283, "vocab_size": 50368})");
  EXPECT_EQ(m.hidden_act, "gelu");
  EXPECT_DOUBLE_EQ(m.layer_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(m.rope_theta, 160000.0);
  EXPECT_DOUBLE_EQ(m.raw["local_rope_theta"].get<double>(), 10000.0);
  ModelConfig ge = cfg(
      R"({"model_type": "gemma", "hidden_act": "gelu", "hidden_size": 2048, "num_hidden_layers": 18,
    "num_attention_heads": 8, "num_key_value_heads": 1, "head_dim": 256, "intermediate_size": 16384, "vocab_size": 256000})");
  EXPECT_EQ(ge.hidden_act, "gelu_pytorch_tanh");  // transformers' Gemma uses the tanh approximation
  EXPECT_EQ(ge.num_key_value_heads, 1);
}

TEST(Config, ProblemTypesAndLabels) {
  const std::string base =
      R"("model_type": "bert", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 128, "vocab_size": 100)";
  for (const char* pt :
       {"single_label_classification", "multi_label_classification", "regression"}) {
    ModelConfig c = cfg("{" + base + ", \"problem_type\": \"" + pt + "\"}");
    EXPECT_EQ(c.problem_type, pt);
  }
  EXPECT_EQ(cfg("{" + base + ", \"problem_type\": null}").problem_type, "");
  expect_error<ConfigError>([&] { cfg("{" + base + ", \"problem_type\": \"ranking\"}"); },
                            {"config.json", "problem_type", "ranking"});
  // num_labels without id2label.
  ModelConfig n = cfg("{" + base + ", \"num_labels\": 5}");
  EXPECT_EQ(n.num_labels, 5);
  EXPECT_FALSE(n.has_id2label);
  EXPECT_EQ(n.id2label.size(), 5u);
  EXPECT_EQ(n.id2label[4], "LABEL_4");
  // id2label wins over num_labels; gaps stay empty.
  ModelConfig g = cfg("{" + base + R"(, "num_labels": 2, "id2label": {"0": "O", "3": "B-PER"}})");
  EXPECT_EQ(g.num_labels, 4);
  EXPECT_EQ(g.id2label, (std::vector<std::string>{"O", "", "", "B-PER"}));
  expect_error<ConfigError>([&] { cfg("{" + base + R"(, "id2label": {"zero": "O"}})"); },
                            {"id2label key \"zero\""});
  expect_error<ConfigError>([&] { cfg("{" + base + R"(, "id2label": {"0": 5}})"); },
                            {"id2label[\"0\"] must be a string"});
}

TEST(Config, ErrorsNameFieldAndFile) {
  expect_error<ConfigError>([] { cfg(R"({"model_type": "bert", "num_hidden_layers": 2})"); },
                            {"config.json", "missing field \"hidden_size\""});
  expect_error<ConfigError>(
      [] { cfg(R"({"model_type": "bert", "hidden_size": "768", "num_hidden_layers": 2})"); },
      {"field \"hidden_size\" must be an integer (got \"768\")"});
  expect_error<ConfigError>([] { cfg(R"({"hidden_size": 768})"); },
                            {"missing field \"model_type\""});
  expect_error<ConfigError>(
      [] {
        cfg(R"({"model_type": "bert", "hidden_size": 100, "num_hidden_layers": 2, "num_attention_heads": 3,
      "intermediate_size": 10, "vocab_size": 10})");
      },
      {"hidden_size 100 is not a multiple of num_attention_heads 3"});
  expect_error<ConfigError>(
      [] {
        cfg(R"({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
      "num_key_value_heads": 3, "intermediate_size": 10, "vocab_size": 10})");
      },
      {"not a multiple of num_key_value_heads 3"});
  expect_error<ConfigError>(
      [] {
        cfg(R"({"model_type": "bert", "hidden_size": 0, "num_hidden_layers": 2,
      "num_attention_heads": 4, "intermediate_size": 10, "vocab_size": 10})");
      },
      {"hidden_size must be positive"});
  expect_error<ConfigError>([] { cfg("[1]"); }, {"not a JSON object"});
  // model_type inferred from architectures in very old files.
  EXPECT_EQ(
      cfg(R"({"architectures": ["XLMRobertaForSequenceClassification"], "hidden_size": 64, "num_hidden_layers": 2,
      "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100})")
          .model_type,
      "xlm-roberta");
}

using ConfigFiles = TempDir;

TEST_F(ConfigFiles, LoadFromDirectory) {
  expect_error<ConfigError>([&] { load_model_config(dir_.string()); }, {"has no config.json"});
  write_text(dir_ / "config.json", "{\"model_type\": ");
  expect_error<ConfigError>([&] { load_model_config(dir_.string()); },
                            {"config.json is not valid JSON"});
  write_text(dir_ / "config.json",
             R"({"model_type": "bert", "hidden_size": 64, "num_hidden_layers": 2,
    "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100, "type_vocab_size": 2.5})");
  expect_error<ConfigError>(
      [&] { load_model_config(dir_.string()); },
      {(dir_ / "config.json").string(), "\"type_vocab_size\" must be an integer"});
}

// Issue 14: a file nested 200,000 levels deep overflowed the stack (SIGSEGV) when the value
// was copied. Every JSON file the loaders read stops at the nesting limit, naming the file.
TEST_F(ConfigFiles, DeeplyNestedFilesAreRefusedNamingTheFileAndTheLimit) {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  const std::string deep_object = "{\"a\": " + deep + "}";
  write_text(dir_ / "config.json", deep_object);
  expect_error<ConfigError>([&] { load_model_config(dir_.string()); },
                            {(dir_ / "config.json").string(), "nested deeper than the limit of 128"});
  write_text(dir_ / "config.json", R"({"model_type": "bert"})");
  expect_error<ConfigError>([&] { load_model_config(dir_.string(), deep_object); },
                            {"hf_overrides", "nested deeper than the limit of 128"});
  write_text(dir_ / "modules.json", deep);
  expect_error<ConfigError>([&] { load_sentence_transformers_info(dir_.string()); },
                            {(dir_ / "modules.json").string(), "nested deeper"});
  write_text(dir_ / "modules.json",
             R"([{"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])");
  write_text(dir_ / "1_Pooling" / "config.json", deep_object);
  expect_error<ConfigError>([&] { load_sentence_transformers_info(dir_.string()); },
                            {(dir_ / "1_Pooling" / "config.json").string(), "nested deeper"});
  // safetensors: the header, and the sharded index
  fs::path st = dir_ / "deep.safetensors";
  write_file(st, image_from_header("{\"__metadata__\": " + deep + "}", {}));
  expect_error([&] { WeightStore::open_file(st.string()); }, {st.string(), "nested deeper than the limit of 128"});
  fs::remove(st);
  write_text(dir_ / "model.safetensors.index.json", deep_object);
  expect_error([&] { WeightStore::open_dir(dir_.string()); },
               {"model.safetensors.index.json", "nested deeper than the limit of 128"});
}

// A number past a double's range is named with its field, not reported as a bare overflow.
TEST_F(ConfigFiles, AnOutOfRangeNumberNamesItsField) {
  write_text(dir_ / "config.json", R"({"model_type": "bert", "layer_norm_eps": 1e400})");
  expect_error<ConfigError>([&] { load_model_config(dir_.string()); },
                            {(dir_ / "config.json").string(), "layer_norm_eps", "out of range"});
}

// sentence-transformers/all-MiniLM-L6-v2 layout.
TEST_F(ConfigFiles, SentenceTransformersEmbedder) {
  write_text(dir_ / "modules.json", R"([
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])");
  write_text(dir_ / "1_Pooling" / "config.json",
             R"({"word_embedding_dimension": 384, "pooling_mode_cls_token": false,
    "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false,
    "pooling_mode_weightedmean_tokens": false, "pooling_mode_lasttoken": false, "include_prompt": true})");
  write_text(dir_ / "sentence_bert_config.json",
             R"({"max_seq_length": 256, "do_lower_case": false})");
  SentenceTransformersInfo st = load_sentence_transformers_info(dir_.string());
  EXPECT_TRUE(st.present);
  EXPECT_EQ(st.pooling_mode, "mean");
  EXPECT_TRUE(st.normalize);
  EXPECT_FALSE(st.has_dense);
  EXPECT_EQ(st.max_seq_length, 256);
  EXPECT_FALSE(st.do_lower_case);
  EXPECT_EQ(st.activation_fn, "");

  // CLS pooling, no Normalize (e.g. BAAI/bge-*: normalize is a module there too, here left out).
  write_text(
      dir_ / "modules.json",
      R"([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])");
  write_text(dir_ / "1_Pooling" / "config.json",
             R"({"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false})");
  st = load_sentence_transformers_info(dir_.string());
  EXPECT_EQ(st.pooling_mode, "cls");
  EXPECT_FALSE(st.normalize);
  write_text(dir_ / "1_Pooling" / "config.json", R"({"pooling_mode_lasttoken": true})");
  EXPECT_EQ(load_sentence_transformers_info(dir_.string()).pooling_mode, "lasttoken");
  write_text(dir_ / "1_Pooling" / "config.json", R"({"pooling_mode_cls_token": "yes"})");
  expect_error<ConfigError>([&] { load_sentence_transformers_info(dir_.string()); },
                            {"1_Pooling", "pooling_mode_cls_token"});
  write_text(dir_ / "modules.json", R"({"not": "a list"})");
  expect_error<ConfigError>([&] { load_sentence_transformers_info(dir_.string()); },
                            {"modules.json", "list of modules"});
}

// cross-encoder/ms-marco-MiniLM-L-6-v2 layouts, old and new.
TEST_F(ConfigFiles, CrossEncoderActivation) {
  EXPECT_FALSE(load_sentence_transformers_info(dir_.string()).present);
  write_text(dir_ / "config.json", R"({"model_type": "bert", "id2label": {"0": "LABEL_0"},
    "sentence_transformers": {"activation_fn": "torch.nn.modules.activation.Sigmoid", "version": "4.0.1"}})");
  SentenceTransformersInfo st = load_sentence_transformers_info(dir_.string());
  EXPECT_FALSE(st.present);
  EXPECT_EQ(st.activation_fn, "torch.nn.modules.activation.Sigmoid");
  write_text(
      dir_ / "config.json",
      R"({"model_type": "bert", "sbert_ce_default_activation_function": "torch.nn.modules.linear.Identity"})");
  EXPECT_EQ(load_sentence_transformers_info(dir_.string()).activation_fn,
            "torch.nn.modules.linear.Identity");
  write_text(dir_ / "config.json", R"({"model_type": "bert"})");
  write_text(dir_ / "config_sentence_transformers.json",
             R"({"activation_fn": "torch.nn.modules.activation.Tanh"})");
  EXPECT_EQ(load_sentence_transformers_info(dir_.string()).activation_fn,
            "torch.nn.modules.activation.Tanh");
}

// ---------------------------------------------------------------------------
// Fixture folders (tests/data/models/<name>/), when a colleague's script has made them
// ---------------------------------------------------------------------------

TEST(Fixtures, EveryFolderLoadsAndEveryTensorReads) {
  fs::path root = fs::path(VKCLS_TEST_DATA) / "models";
  int folders = 0;
  std::error_code ec;
  if (fs::is_directory(root, ec)) {
    for (const auto& entry : fs::directory_iterator(root)) {
      if (!entry.is_directory() || !fs::exists(entry.path() / "config.json")) continue;
      bool has_weights = fs::exists(entry.path() / "model.safetensors") ||
                         fs::exists(entry.path() / "model.safetensors.index.json");
      if (!has_weights) continue;
      SCOPED_TRACE(entry.path().string());
      folders++;
      ModelConfig c;
      ASSERT_NO_THROW(c = load_model_config(entry.path().string()));
      EXPECT_FALSE(c.model_type.empty());
      EXPECT_NO_THROW(load_sentence_transformers_info(entry.path().string()));
      WeightStore s = WeightStore::open_dir(entry.path().string());
      EXPECT_GT(s.size(), 0u);
      for (const auto& name : s.names()) {
        const WeightView& v = s.get(name);
        if (v.dtype == WeightDType::f32 || v.dtype == WeightDType::f16 ||
            v.dtype == WeightDType::bf16) {
          std::vector<float> f = s.to_f32(name);
          ASSERT_EQ(int64_t(f.size()), v.numel()) << name;
          for (float x : f) ASSERT_TRUE(std::isfinite(x)) << name;
          EXPECT_EQ(int64_t(s.to_f16(name).size()), v.numel()) << name;
        } else {
          unsigned sum = 0;
          for (size_t i = 0; i < v.bytes; i++) sum += v.data[i];
          (void)sum;
        }
      }
      // Reference outputs, when present, are safetensors too.
      if (fs::exists(entry.path() / "reference.safetensors")) {
        WeightStore r = WeightStore::open_file((entry.path() / "reference.safetensors").string());
        for (const auto& name : r.names()) (void)r.get(name);
      }
    }
  }
  if (folders == 0) GTEST_SKIP() << "no fixture folders under " << root;
  std::printf("[ fixtures ] %d model folders loaded\n", folders);
}

// manifest.json (written by make_fixtures.py) says what each folder is; the loaders must agree.
TEST(Fixtures, ConfigsMatchManifest) {
  fs::path root = fs::path(VKCLS_TEST_DATA) / "models";
  if (!fs::exists(root / "manifest.json")) GTEST_SKIP() << "no " << (root / "manifest.json");
  json manifest = json::parse(std::ifstream(root / "manifest.json"));
  ASSERT_TRUE(manifest.is_array());
  for (const auto& e : manifest) {
    fs::path dir = root / e["folder"].get<std::string>();
    SCOPED_TRACE(dir.string());
    ModelConfig c = load_model_config(dir.string());
    EXPECT_EQ(c.model_type, e["model_type"].get<std::string>());
    ASSERT_FALSE(c.architectures.empty());
    EXPECT_EQ(c.architectures[0], e["architecture"].get<std::string>());
    if (!e["num_labels"].is_null()) {
      EXPECT_EQ(c.num_labels, e["num_labels"].get<int64_t>());
    }
    EXPECT_EQ(c.torch_dtype, e["weights_dtype"].get<std::string>());
    bool sharded = e["sharded"].get<bool>();
    EXPECT_EQ(
        fs::exists(dir / "model.safetensors.index.json") && !fs::exists(dir / "model.safetensors"),
        sharded);

    WeightStore s = WeightStore::open_dir(dir.string());
    if (sharded) {
      std::set<std::string> files;
      for (const auto& n : s.names()) files.insert(s.get(n).file);
      EXPECT_GT(files.size(), 1u);
    }
    const WeightDType want = c.torch_dtype == "bfloat16" ? WeightDType::bf16 : WeightDType::f32;
    // Word embeddings: [vocab_size, embedding_size] under whatever prefix the head class adds.
    int found = 0;
    for (const auto& n : s.names()) {
      if (n == "embeddings.word_embeddings.weight" ||
          n.ends_with(".embeddings.word_embeddings.weight")) {
        EXPECT_NO_THROW(s.get(n, {c.vocab_size, c.embedding_size})) << n;
        EXPECT_EQ(s.get(n).dtype, want) << n;
        found++;
      }
    }
    EXPECT_EQ(found, 1);

    SentenceTransformersInfo st = load_sentence_transformers_info(dir.string());
    std::string act = e["activation"].is_null() ? "" : e["activation"].get<std::string>();
    if (e["folder"] == "bert-crossencoder") {
      EXPECT_EQ(st.activation_fn, "torch.nn.modules.activation.Sigmoid");
    }
    if (e["head"] == "base+sentence_transformers") {
      EXPECT_TRUE(st.present);
      EXPECT_EQ(st.pooling_mode, "mean");
      EXPECT_TRUE(st.normalize);
      EXPECT_GT(st.max_seq_length, 0);
    }
    if (act == "identity") {
      EXPECT_EQ(c.problem_type, "regression");
    }
    if (act == "sigmoid" && c.num_labels > 1) {
      EXPECT_EQ(c.problem_type, "multi_label_classification");
    }
  }
}

}  // namespace
