// pytorch_model.bin folders against the committed fixtures (tests/data/torch_bin/, made by
// make_fixtures.py with real torch.save): bit-identical to their safetensors twins, views
// into the mapping where possible, malicious pickles refused without running anything,
// truncated and corrupted files rejected with typed errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "models/safetensors.h"
#include "models/torch_checkpoint.h"
#include "torch_test_util.h"

namespace fs = std::filesystem;
using namespace vkcls;
using namespace vkcls::test;
using Kind = TorchCheckpointError::Kind;

namespace {

const fs::path kData = fs::path(VKCLS_TEST_DATA);
const fs::path kBin = kData / "torch_bin";
const char* kMarker =
    "/tmp/vkcls_malicious_pickle_ran";  // what the malicious fixtures would create

class TorchBin : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("vkcls_torch_bin_") + info->name() + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

template <typename F>
void expect_torch_error(F&& f, Kind kind, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected kind " << torch_error_kind_name(kind);
  } catch (const TorchCheckpointError& e) {
    EXPECT_EQ(e.kind(), kind) << "got " << torch_error_kind_name(e.kind()) << ": " << e.what();
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << "\nmissing: " << p;
  }
}

// Every tensor of `want` is in `got` with the same dtype, shape and bytes; and no others.
void expect_same_tensors(const WeightStore& got, const WeightStore& want) {
  EXPECT_EQ(got.names(), want.names());
  for (const auto& name : want.names()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(got.has(name));
    const WeightView &a = got.get(name), &b = want.get(name);
    EXPECT_EQ(a.dtype, b.dtype);
    EXPECT_EQ(a.dtype_name, b.dtype_name);
    EXPECT_EQ(a.shape, b.shape);
    ASSERT_EQ(a.bytes, b.bytes);
    EXPECT_TRUE(a.bytes == 0 || std::memcmp(a.data, b.data, a.bytes) == 0) << "bytes differ";
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// A real model's state dict, against its safetensors twin
// ---------------------------------------------------------------------------

TEST(TorchBinFixtures, BertSeqClsIsBitIdenticalToSafetensors) {
  WeightStore twin = WeightStore::open_dir((kData / "models" / "bert-seqcls").string());
  WeightStore bin = WeightStore::open_dir((kBin / "bert-seqcls").string());
  EXPECT_GT(bin.size(), 30u);
  expect_same_tensors(bin, twin);
  EXPECT_NE(bin.get("classifier.weight").file.find("pytorch_model.bin"), std::string::npos);
  // The float conversions agree too (same bytes, same code; guards the views' dtype fields).
  EXPECT_EQ(bin.to_f32("bert.embeddings.word_embeddings.weight"),
            twin.to_f32("bert.embeddings.word_embeddings.weight"));
}

TEST(TorchBinFixtures, ShardedIndexIsBitIdenticalToSafetensors) {
  WeightStore twin = WeightStore::open_dir((kData / "models" / "bert-seqcls").string());
  WeightStore bin = WeightStore::open_dir((kBin / "bert-seqcls-sharded").string());
  expect_same_tensors(bin, twin);
  std::set<std::string> files;
  for (const auto& n : bin.names()) files.insert(fs::path(bin.get(n).file).filename().string());
  EXPECT_EQ(files, (std::set<std::string>{"pytorch_model-00001-of-00002.bin",
                                          "pytorch_model-00002-of-00002.bin"}));
}

TEST_F(TorchBin, SafetensorsIsPreferredOverBin) {
  fs::copy_file(kBin / "tensors.safetensors", dir_ / "model.safetensors");
  fs::copy_file(kBin / "bert-seqcls" / "pytorch_model.bin", dir_ / "pytorch_model.bin");
  WeightStore s = WeightStore::open_dir(dir_.string());
  EXPECT_TRUE(s.has("transposed"));
  EXPECT_FALSE(s.has("classifier.weight"));
  // pytorch_model.bin is preferred over its sharded index, as transformers does.
  fs::remove(dir_ / "model.safetensors");
  for (const auto& e : fs::directory_iterator(kBin / "bert-seqcls-sharded"))
    fs::copy_file(e.path(), dir_ / e.path().filename());
  fs::remove(dir_ / "pytorch_model.bin");
  fs::copy_file(kBin / "tensors.bin", dir_ / "pytorch_model.bin");
  EXPECT_TRUE(WeightStore::open_dir(dir_.string()).has("transposed"));
  fs::remove(dir_ / "pytorch_model.bin");
  EXPECT_TRUE(WeightStore::open_dir(dir_.string()).has("classifier.weight"));
}

// ---------------------------------------------------------------------------
// Odd tensors: dtypes, views, the legacy format, pickle protocol 4
// ---------------------------------------------------------------------------

class TorchBinFormats : public ::testing::TestWithParam<const char*> {};

TEST_P(TorchBinFormats, EveryTensorMatchesItsContiguousCopy) {
  WeightStore want = WeightStore::open_file((kBin / "tensors.safetensors").string());
  WeightStore got = WeightStore::open_file((kBin / GetParam()).string());
  expect_same_tensors(got, want);
  EXPECT_EQ(got.get("transposed").shape, (std::vector<int64_t>{6, 4}));
  EXPECT_EQ(got.get("f16").dtype, WeightDType::f16);
  EXPECT_EQ(got.get("bf16_every_other").dtype, WeightDType::bf16);
  EXPECT_EQ(got.get("i64").dtype, WeightDType::i64);
  EXPECT_EQ(got.get("i32").dtype, WeightDType::i32);
  EXPECT_EQ(got.get("u8").dtype, WeightDType::other);
  EXPECT_EQ(got.get("u8").dtype_name, "U8");
  EXPECT_TRUE(got.get("scalar").shape.empty());
  EXPECT_EQ(got.get("empty").bytes, 0u);
  EXPECT_EQ(got.to_f32("f16_transposed"), want.to_f32("f16_transposed"));
  EXPECT_EQ(got.to_f16("bf16"), want.to_f16("bf16"));
  try {
    got.to_f32("u8");
    ADD_FAILURE() << "to_f32 of U8";
  } catch (const SafetensorsError& e) {
    EXPECT_NE(std::string(e.what()).find("U8"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Files, TorchBinFormats,
                         ::testing::Values("tensors.bin", "tensors_legacy.bin",
                                           "tensors_protocol4.bin"));

TEST(TorchBinFixtures, ContiguousTensorsPointIntoTheFileOthersAreCopied) {
  for (const char* file : {"tensors.bin", "tensors_legacy.bin"}) {
    SCOPED_TRACE(file);
    std::vector<uint8_t> bytes = read_bytes(kBin / file);
    TorchCheckpoint c = torch_checkpoint_parse(bytes.data(), bytes.size(), file);
    EXPECT_EQ(c.legacy_format, std::string(file) == "tensors_legacy.bin");
    const std::set<std::string> strided = {"transposed", "sliced",         "permuted",
                                           "expanded",   "f16_transposed", "bf16_every_other"};
    EXPECT_EQ(c.owned.size(), strided.size());
    std::map<std::string, const WeightView*> by_name;
    for (const auto& v : c.views) {
      by_name[v.name] = &v;
      if (v.bytes == 0) continue;
      bool in_file = v.data >= bytes.data() && v.data + v.bytes <= bytes.data() + bytes.size();
      EXPECT_EQ(in_file, !strided.count(v.name)) << v.name;
    }
    // "row" is base[2]: the same bytes, 2 rows of 6 floats in.
    EXPECT_EQ(by_name.at("row")->data, by_name.at("base")->data + 2 * 6 * 4);
    EXPECT_EQ(by_name.at("tied_a")->data, by_name.at("tied_b")->data);  // one storage, two names
  }
}

// ---------------------------------------------------------------------------
// Malicious pickles: refused by name, nothing runs
// ---------------------------------------------------------------------------

TEST_F(TorchBin, MaliciousPicklesAreRefusedAndRunNothing) {
  for (auto [file, global] : {std::pair{"malicious_posix_system.bin", "posix.system"},
                              std::pair{"malicious_os_system.bin", "os.system"}}) {
    SCOPED_TRACE(file);
    fs::remove(kMarker);
    fs::copy_file(kBin / file, dir_ / "pytorch_model.bin", fs::copy_options::overwrite_existing);
    expect_torch_error([&] { WeightStore::open_dir(dir_.string()); }, Kind::forbidden_global,
                       {"refused to load global", global, "nothing in the file was executed",
                        "pytorch_model.bin"});
    EXPECT_FALSE(fs::exists(kMarker)) << "the payload ran";
    // Caught as the base class too, as the engine does.
    EXPECT_THROW(WeightStore::open_file((kBin / file).string()), SafetensorsError);
    EXPECT_FALSE(fs::exists(kMarker)) << "the payload ran";
  }
}

// ---------------------------------------------------------------------------
// Truncated and corrupted files
// ---------------------------------------------------------------------------

TEST_F(TorchBin, EveryTruncationIsATypedError) {
  for (const char* file : {"tensors.bin", "tensors_legacy.bin", "tensors_protocol4.bin"}) {
    SCOPED_TRACE(file);
    const std::vector<uint8_t> full = read_bytes(kBin / file);
    for (size_t cut = 0; cut < full.size(); cut++) {
      std::vector<uint8_t> b(full.begin(), full.begin() + std::ptrdiff_t(cut));
      try {
        torch_checkpoint_parse(b.data(), b.size(), file);
        ADD_FAILURE() << "a " << cut << "-byte prefix parsed";
      } catch (const TorchCheckpointError&) {
      }
    }
  }
  // Through the mapped-file path too (an empty file cannot be mapped: the parser reports it).
  const std::vector<uint8_t> full = read_bytes(kBin / "bert-seqcls" / "pytorch_model.bin");
  for (size_t cut : {size_t(0), size_t(3), size_t(100), full.size() / 2, full.size() - 1}) {
    write_bytes(dir_ / "pytorch_model.bin",
                std::vector<uint8_t>(full.begin(), full.begin() + std::ptrdiff_t(cut)));
    EXPECT_THROW(WeightStore::open_dir(dir_.string()), SafetensorsError) << cut;
  }
}

TEST(TorchBinFixtures, ByteFlipsNeverCrash) {
  int parsed = 0, rejected = 0;
  std::mt19937 rng(99);
  for (const char* file : {"tensors.bin", "tensors_legacy.bin", "tensors_protocol4.bin"}) {
    const std::vector<uint8_t> valid = read_bytes(kBin / file);
    for (int iter = 0; iter < 3000; iter++) {
      std::vector<uint8_t> m = valid;
      for (int k = 0, n = 1 + int(rng() % 3); k < n; k++)
        m[rng() % m.size()] ^= uint8_t(1 + rng() % 255);
      try {
        TorchCheckpoint c = torch_checkpoint_parse(m.data(), m.size(), file);
        unsigned sum = 0;  // every view lies inside the buffer or a copy: touch every byte
        for (const auto& v : c.views)
          for (size_t i = 0; i < v.bytes; i++) sum += v.data[i];
        (void)sum;
        parsed++;
      } catch (const TorchCheckpointError&) {
        rejected++;
      }
    }
  }
  EXPECT_GT(parsed, 0);
  EXPECT_GT(rejected, 0);
}
