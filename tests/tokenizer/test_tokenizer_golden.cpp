// Golden test: every config directory under tests/data/tokenizer/ holds a
// tokenizer.json plus what Python `tokenizers` produced for each corpus line
// (expected.jsonl) and for truncation cases (truncation.jsonl). Everything
// must match exactly; the first mismatches are printed in full.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const fs::path kDir = fs::path(VKCLS_TEST_DATA) / "tokenizer";

std::vector<json> read_jsonl(const fs::path& p) {
  std::vector<json> rows;
  std::ifstream f(p);
  std::string line;
  while (std::getline(f, line)) rows.push_back(line.empty() ? json() : json::parse(line));
  return rows;
}

std::vector<std::string> config_dirs() {
  std::vector<std::string> out;
  if (!fs::exists(kDir)) return out;
  for (auto& e : fs::directory_iterator(kDir))
    if (e.is_directory() && fs::exists(e.path() / "tokenizer.json") && fs::exists(e.path() / "expected.jsonl"))
      out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

json offsets_json(const std::vector<vkcls::Offset>& o) {
  json a = json::array();
  for (auto& x : o) a.push_back({x.start, x.end});
  return a;
}

std::string shorten(const std::string& s, size_t n = 300) { return s.size() <= n ? s : s.substr(0, n) + "..."; }

// Collects mismatches; prints the first few in full.
struct Report {
  std::string config;
  size_t checked = 0, failed = 0;
  std::ostringstream first;
  int shown = 0;
  void fail(size_t line, const json& input, const std::string& field, const json& expected, const json& got) {
    ++failed;
    if (shown++ >= 5) return;
    first << "\n[" << config << "] line " << line << " field '" << field << "'\n  input:    "
          << shorten(input.dump()) << "\n  expected: " << shorten(expected.dump()) << "\n  got:      "
          << shorten(got.dump()) << "\n";
  }
};

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, Expected) {
  const std::string cfg = GetParam();
  auto tok = vkcls::Tokenizer::from_file((kDir / cfg / "tokenizer.json").string());
  auto corpus = read_jsonl(kDir / "corpus.jsonl");
  auto expected = read_jsonl(kDir / cfg / "expected.jsonl");
  ASSERT_EQ(corpus.size(), expected.size());
  vkcls::TruncationParams no_trunc;  // the goldens were made with truncation off
  Report r{cfg};
  for (size_t i = 0; i < corpus.size(); ++i) {
    const json& in = corpus[i];
    const json& ex = expected[i];
    const std::string text = in["text"];
    const bool pair = in.contains("text_pair") && !in["text_pair"].is_null();
    const std::string text_pair = pair ? in["text_pair"].get<std::string>() : "";
    ++r.checked;
    auto run = [&](bool special) {
      return pair ? tok.encode_pair(text, text_pair, special, &no_trunc) : tok.encode(text, special, &no_trunc);
    };
    if (ex.contains("error")) {
      try {
        run(true);
        r.fail(i, in, "error", ex["error"], "no error");
      } catch (const vkcls::TokenizerError&) {
      }
      continue;
    }
    vkcls::Encoding e, ns;
    try {
      e = run(true);
      ns = run(false);
    } catch (const std::exception& err) {
      r.fail(i, in, "exception", ex, err.what());
      continue;
    }
    size_t before = r.failed;
    if (json(e.ids) != ex["ids"]) r.fail(i, in, "ids", ex["ids"], e.ids);
    else if (json(e.tokens) != ex["tokens"]) r.fail(i, in, "tokens", ex["tokens"], e.tokens);
    else if (json(e.type_ids) != ex["type_ids"]) r.fail(i, in, "type_ids", ex["type_ids"], e.type_ids);
    else if (offsets_json(e.char_offsets) != ex["offsets"])
      r.fail(i, in, "offsets", ex["offsets"], offsets_json(e.char_offsets));
    else if (json(e.special_tokens_mask) != ex["special_tokens_mask"])
      r.fail(i, in, "special_tokens_mask", ex["special_tokens_mask"], e.special_tokens_mask);
    else if (json(ns.ids) != ex["no_special"]["ids"])
      r.fail(i, in, "no_special.ids", ex["no_special"]["ids"], ns.ids);
    else if (json(ns.tokens) != ex["no_special"]["tokens"])
      r.fail(i, in, "no_special.tokens", ex["no_special"]["tokens"], ns.tokens);
    else if (offsets_json(ns.char_offsets) != ex["no_special"]["offsets"])
      r.fail(i, in, "no_special.offsets", ex["no_special"]["offsets"], offsets_json(ns.char_offsets));
    if (r.failed == before && ex.contains("decoded")) {
      std::string d = tok.decode(e.ids, true);
      if (d != ex["decoded"].get<std::string>()) r.fail(i, in, "decoded", ex["decoded"], d);
    }
  }
  std::printf("[golden] %-28s expected: %zu/%zu lines match\n", cfg.c_str(), r.checked - r.failed, r.checked);
  EXPECT_EQ(r.failed, 0u) << r.first.str();
}

TEST_P(Golden, Truncation) {
  const std::string cfg = GetParam();
  if (!fs::exists(kDir / cfg / "truncation.jsonl")) GTEST_SKIP() << "no truncation.jsonl";
  auto tok = vkcls::Tokenizer::from_file((kDir / cfg / "tokenizer.json").string());
  auto corpus = read_jsonl(kDir / "corpus.jsonl");
  auto cases = read_jsonl(kDir / cfg / "truncation.jsonl");
  Report r{cfg};
  for (size_t k = 0; k < cases.size(); ++k) {
    const json& c = cases[k];
    const json& in = corpus.at(c["index"].get<size_t>());
    vkcls::TruncationParams p;
    p.max_length = c["max_length"];
    p.stride = c["stride"];
    std::string s = c["strategy"];
    p.strategy = s == "only_first"    ? vkcls::TruncationStrategy::OnlyFirst
                 : s == "only_second" ? vkcls::TruncationStrategy::OnlySecond
                                      : vkcls::TruncationStrategy::LongestFirst;
    p.side = c["side"] == "left" ? vkcls::TruncationSide::Left : vkcls::TruncationSide::Right;
    const bool pair = in.contains("text_pair") && !in["text_pair"].is_null();
    json label = in;
    label["case"] = {{"max_length", p.max_length}, {"strategy", s}, {"side", c["side"]}, {"stride", p.stride}};
    ++r.checked;
    vkcls::Encoding e;
    try {
      e = pair ? tok.encode_pair(in["text"].get<std::string>(), in["text_pair"].get<std::string>(), true, &p)
               : tok.encode(in["text"].get<std::string>(), true, &p);
    } catch (const vkcls::TokenizerError& err) {
      if (!c.contains("error")) r.fail(k, label, "exception", "no error", err.what());
      continue;
    }
    if (c.contains("error")) {
      r.fail(k, label, "error", c["error"], "no error");
      continue;
    }
    auto check = [&](const std::string& what, const vkcls::Encoding& got, const json& ex) {
      if (json(got.ids) != ex["ids"]) return r.fail(k, label, what + "ids", ex["ids"], got.ids), false;
      if (json(got.type_ids) != ex["type_ids"])
        return r.fail(k, label, what + "type_ids", ex["type_ids"], got.type_ids), false;
      if (offsets_json(got.char_offsets) != ex["offsets"])
        return r.fail(k, label, what + "offsets", ex["offsets"], offsets_json(got.char_offsets)), false;
      return true;
    };
    if (!check("", e, c)) continue;
    const json& exo = c["overflowing"];
    if (exo.size() != e.overflowing.size()) {
      r.fail(k, label, "overflowing.size", exo.size(), e.overflowing.size());
      continue;
    }
    for (size_t o = 0; o < exo.size(); ++o)
      if (!check("overflowing[" + std::to_string(o) + "].", e.overflowing[o], exo[o])) break;
  }
  std::printf("[golden] %-28s truncation: %zu/%zu cases match\n", cfg.c_str(), r.checked - r.failed, r.checked);
  EXPECT_EQ(r.failed, 0u) << r.first.str();
}

INSTANTIATE_TEST_SUITE_P(Configs, Golden, ::testing::ValuesIn(config_dirs()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Golden);

}  // namespace
