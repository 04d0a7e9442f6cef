// Fuzz test, bounded to a few seconds: random bytes, random valid Unicode
// (combining marks, CJK, emoji ZWJ sequences, controls) and random mutations
// of real tokenizer.json files. Nothing may crash or hang; every failure must
// be a TokenizerError.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const fs::path kDir = fs::path(VKCLS_TEST_DATA) / "tokenizer";

std::vector<fs::path> tokenizer_files() {
  std::vector<fs::path> out;
  if (!fs::exists(kDir)) return out;
  for (auto& e : fs::directory_iterator(kDir))
    if (fs::exists(e.path() / "tokenizer.json")) out.push_back(e.path() / "tokenizer.json");
  std::sort(out.begin(), out.end());
  return out;
}

void append_utf8(std::string& s, char32_t c) {
  if (c < 0x80) s += char(c);
  else if (c < 0x800) s += char(0xC0 | (c >> 6)), s += char(0x80 | (c & 0x3F));
  else if (c < 0x10000)
    s += char(0xE0 | (c >> 12)), s += char(0x80 | ((c >> 6) & 0x3F)), s += char(0x80 | (c & 0x3F));
  else
    s += char(0xF0 | (c >> 18)), s += char(0x80 | ((c >> 12) & 0x3F)), s += char(0x80 | ((c >> 6) & 0x3F)),
        s += char(0x80 | (c & 0x3F));
}

std::string random_unicode(std::mt19937& rng, size_t n) {
  static const char32_t pool[] = {'a', 'Z', ' ', ' ', '\n', '\t', '.', '\'', '0', '9', 0x301, 0x308, 0x93F, 0x94D,
                                  0x4E2D, 0x6587, 0xAC00, 0x1100, 0x1161, 0x200D, 0x1F469, 0x1F4BB, 0x1F3FF,
                                  0xFE0F, 0x2581, 0x120, 0x0, 0x7, 0xFFFD, 0xFB01, 0x130, 0x3C3, 0xE9, 0x2028,
                                  0x3000, 0x10FFFF, 0xE000};
  std::string s;
  std::uniform_int_distribution<int> pick(0, int(std::size(pool)) - 1), any(0, 0x10FFFF);
  for (size_t i = 0; i < n; ++i) {
    char32_t c = (rng() % 4 == 0) ? char32_t(any(rng)) : pool[pick(rng)];
    if (c >= 0xD800 && c <= 0xDFFF) c = 'x';
    append_utf8(s, c);
  }
  return s;
}

void mutate(json& j, std::mt19937& rng, int depth = 0) {
  if (j.is_object() && !j.empty()) {
    auto it = j.begin();
    std::advance(it, rng() % j.size());
    switch (rng() % 5) {
      case 0: j.erase(it); return;
      case 1: *it = nullptr; return;
      case 2: *it = 42; return;
      case 3: *it = "??"; return;
      default: if (depth < 6) mutate(*it, rng, depth + 1); return;
    }
  }
  if (j.is_array() && !j.empty()) {
    size_t k = rng() % j.size();
    if (j[k].is_structured() && depth < 6 && rng() % 2) return mutate(j[k], rng, depth + 1);
    if (rng() % 2) j.erase(k);
    else j[k] = json::array({"x", -1});
    return;
  }
  j = (rng() % 2) ? json(-7) : json("(");
}

TEST(TokenizerFuzz, RandomInputsNeverCrash) {
  std::mt19937 rng(1234);
  auto files = tokenizer_files();
  if (files.empty()) GTEST_SKIP() << "no golden tokenizers";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  size_t runs = 0;
  std::vector<vkcls::Tokenizer> toks;
  for (auto& f : files) toks.push_back(vkcls::Tokenizer::from_file(f.string()));
  while (std::chrono::steady_clock::now() < deadline) {
    auto& tok = toks[runs % toks.size()];
    std::string text;
    if (runs % 3 == 0) {
      size_t n = rng() % 64;
      for (size_t i = 0; i < n; ++i) text += char(rng() & 0xFF);
    } else {
      text = random_unicode(rng, rng() % 80);
    }
    vkcls::TruncationParams p;
    p.max_length = rng() % 3 ? 0 : rng() % 20;
    p.stride = rng() % 4;
    p.strategy = vkcls::TruncationStrategy(rng() % 3);
    p.side = vkcls::TruncationSide(rng() % 2);
    try {
      auto e = (runs % 2) ? tok.encode(text, rng() % 2, &p) : tok.encode_pair(text, random_unicode(rng, 10), true, &p);
      ASSERT_EQ(e.ids.size(), e.offsets.size());
      ASSERT_EQ(e.ids.size(), e.char_offsets.size());
      (void)tok.decode(e.ids, rng() % 2);
    } catch (const vkcls::TokenizerError&) {
    }
    ++runs;
  }
  std::printf("[fuzz] %zu random encodes\n", runs);
}

TEST(TokenizerFuzz, MutatedTokenizerJsonNeverCrashes) {
  std::mt19937 rng(99);
  auto files = tokenizer_files();
  if (files.empty()) GTEST_SKIP() << "no golden tokenizers";
  // Mutate the smaller files: each load parses the whole JSON.
  std::vector<json> docs;
  for (auto& f : files)
    if (fs::file_size(f) < 400000) docs.push_back(json::parse(std::ifstream(f)));
  ASSERT_FALSE(docs.empty());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  size_t runs = 0, loaded = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    json j = docs[runs % docs.size()];
    for (int k = 0, n = 1 + rng() % 3; k < n; ++k) mutate(j, rng);
    std::string text = j.dump();
    if (rng() % 5 == 0) text.resize(rng() % (text.size() + 1));  // truncated file
    try {
      auto tok = vkcls::Tokenizer::from_json(text);
      ++loaded;
      try {
        auto e = tok.encode_pair(random_unicode(rng, 30), "pair <s> [SEP] text");
        (void)tok.decode(e.ids, false);
      } catch (const vkcls::TokenizerError&) {
      }
    } catch (const vkcls::TokenizerError&) {
    }
    ++runs;
  }
  std::printf("[fuzz] %zu mutated tokenizer.json (%zu still loaded)\n", runs, loaded);
}

}  // namespace
