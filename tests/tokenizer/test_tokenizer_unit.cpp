// Unit tests: error reporting on malformed tokenizer.json, invalid input,
// thread safety, the old-BERT-folder loader, and small API behaviours.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const fs::path kDir = fs::path(VKCLS_TEST_DATA) / "tokenizer";

// A tiny WordPiece tokenizer.json built in the test.
json tiny_bert() {
  json vocab = json::object();
  const char* toks[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world", "##s", "!", "un", "##aff", "##able"};
  for (int i = 0; i < 11; ++i) vocab[toks[i]] = i;
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens",
       {{{"id", 0}, {"content", "[PAD]"}, {"special", true}, {"normalized", false}},
        {{"id", 2}, {"content", "[CLS]"}, {"special", true}, {"normalized", false}},
        {{"id", 3}, {"content", "[SEP]"}, {"special", true}, {"normalized", false}}}},
      {"normalizer", {{"type", "BertNormalizer"}, {"lowercase", true}, {"strip_accents", nullptr}}},
      {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
      {"model", {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"vocab", vocab}}},
      {"post_processor", {{"type", "BertProcessing"}, {"sep", {"[SEP]", 3}}, {"cls", {"[CLS]", 2}}}},
      {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}}},
  };
}

std::string error_of(const std::string& text) {
  try {
    vkcls::Tokenizer::from_json(text);
  } catch (const vkcls::TokenizerError& e) {
    return e.what();
  }
  return "";
}

TEST(Tokenizer, EncodesTinyBert) {
  auto tok = vkcls::Tokenizer::from_json(tiny_bert().dump());
  auto e = tok.encode("Hello WORLDS! unaffable");
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 4, 5, 6, 7, 8, 9, 10, 3}));
  EXPECT_EQ(e.tokens[3], "##s");
  EXPECT_EQ(e.offsets[2], (vkcls::Offset{6, 11}));
  EXPECT_EQ(e.offsets[3], (vkcls::Offset{11, 12}));
  EXPECT_EQ(e.sequence_ids, (std::vector<int32_t>{-1, 0, 0, 0, 0, 0, 0, 0, -1}));
  EXPECT_EQ(tok.decode(e.ids), "hello worlds! unaffable");
  EXPECT_EQ(tok.num_special_tokens_to_add(false), 2u);
  EXPECT_EQ(tok.num_special_tokens_to_add(true), 3u);
  EXPECT_EQ(tok.token_to_id("world"), 5);
  EXPECT_EQ(tok.id_to_token(6), "##s");
  EXPECT_FALSE(tok.id_to_token(999).has_value());
}

TEST(Tokenizer, ByteAndCharOffsetsDiffer) {
  auto tok = vkcls::Tokenizer::from_json(tiny_bert().dump());
  auto e = tok.encode("é hello", false);  // é is 2 bytes, 1 code point
  ASSERT_EQ(e.ids.size(), 2u);
  EXPECT_EQ(e.offsets[1], (vkcls::Offset{3, 8}));
  EXPECT_EQ(e.char_offsets[1], (vkcls::Offset{2, 7}));
}

TEST(Tokenizer, InvalidUtf8Throws) {
  auto tok = vkcls::Tokenizer::from_json(tiny_bert().dump());
  try {
    tok.encode(std::string("ab\xC3(", 4));
    FAIL() << "no exception";
  } catch (const vkcls::TokenizerError& e) {
    EXPECT_STREQ(e.what(), "invalid UTF-8 at byte 2");
  }
  EXPECT_THROW(tok.encode_pair("ok", "\xED\xA0\x80"), vkcls::TokenizerError);  // surrogate
}

// Issue 14: tokenizer.json nested 200,000 deep overflowed the stack; now a TokenizerError naming
// the limit. The same for tokenizer_config.json read beside it.
TEST(Tokenizer, DeeplyNestedJsonIsRefusedNamingTheLimit) {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  std::string e = error_of("{\"normalizer\": " + deep + "}");
  EXPECT_NE(e.find("tokenizer.json"), std::string::npos) << e;
  EXPECT_NE(e.find("nested deeper than the limit of 128"), std::string::npos) << e;
  fs::path dir = fs::temp_directory_path() / ("vkcls_tok_deep_" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "tokenizer.json") << tiny_bert().dump();
  std::ofstream(dir / "tokenizer_config.json") << "{\"x\": " + deep + "}";
  try {
    vkcls::Tokenizer::from_model_dir(dir.string());
    ADD_FAILURE() << "no error for a deep tokenizer_config.json";
  } catch (const vkcls::TokenizerError& err) {
    EXPECT_NE(std::string(err.what()).find("tokenizer_config.json"), std::string::npos) << err.what();
    EXPECT_NE(std::string(err.what()).find("nested deeper"), std::string::npos) << err.what();
  }
  fs::remove_all(dir);
}

TEST(Tokenizer, MalformedJsonNamesTheField) {
  EXPECT_NE(error_of("{not json").find("invalid JSON"), std::string::npos);
  json j = tiny_bert();
  j["normalizer"]["type"] = "Nope";
  EXPECT_NE(error_of(j.dump()).find("normalizer.type"), std::string::npos) << error_of(j.dump());
  j = tiny_bert();
  j.erase("model");
  EXPECT_NE(error_of(j.dump()).find("model"), std::string::npos);
  j = tiny_bert();
  j["model"]["vocab"]["hello"] = "four";
  EXPECT_NE(error_of(j.dump()).find("model.vocab[\"hello\"]"), std::string::npos) << error_of(j.dump());
  j = tiny_bert();
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  EXPECT_NE(error_of(j.dump()).find("bad regex"), std::string::npos) << error_of(j.dump());
  j = tiny_bert();
  j["normalizer"] = {{"type", "Precompiled"}, {"precompiled_charsmap", "***"}};
  EXPECT_NE(error_of(j.dump()).find("precompiled_charsmap"), std::string::npos) << error_of(j.dump());
  j = tiny_bert();
  j["post_processor"] = {{"type", "TemplateProcessing"}, {"single", json::array({{{"SpecialToken", {{"id", "[X]"}, {"type_id", 0}}}}})},
                         {"pair", json::array()}, {"special_tokens", json::object()}};
  EXPECT_NE(error_of(j.dump()).find("[X]"), std::string::npos) << error_of(j.dump());
  // an id far past the vocabulary is refused at load, not given a dense table of its size
  // (found by fuzz_tokenizer: 14 GB for one id)
  j = tiny_bert();
  j["model"]["vocab"]["hello"] = 2000000000;
  EXPECT_NE(error_of(j.dump()).find("model.vocab[\"hello\"]: id 2000000000 is far past"),
            std::string::npos)
      << error_of(j.dump());
  // an empty vocabulary is refused at load (issue 14: it failed every text one by one)
  j = tiny_bert();
  j["model"]["vocab"] = json::object();
  j["post_processor"] = nullptr;
  EXPECT_NE(error_of(j.dump()).find("model.vocab: the vocabulary is empty"), std::string::npos)
      << error_of(j.dump());
  j = tiny_bert();
  j["model"] = {{"type", "Unigram"}, {"vocab", json::array()}, {"unk_id", nullptr}};
  j["post_processor"] = nullptr;
  EXPECT_NE(error_of(j.dump()).find("model.vocab: the vocabulary is empty"), std::string::npos)
      << error_of(j.dump());
}

// Two long texts cut into small windows cross into (a + 1) * (b + 1) encodings: past 1024 the
// pair is refused, not built (found by fuzz_tokenizer: a tokenizer.json's own tiny max_length
// took 2 GB); a pair within the bound still gets every crossed window.
TEST(Tokenizer, PairWindowsAreBounded) {
  auto tok = vkcls::Tokenizer::from_json(tiny_bert().dump());
  std::string text;
  for (int i = 0; i < 200; ++i) text += "hello world ";
  vkcls::TruncationParams p;
  p.max_length = 7;  // 4 text tokens after [CLS] a [SEP] b [SEP]: 2 of each text a window
  p.stride = 1;
  try {
    tok.encode_pair(text, text, true, &p);
    FAIL() << "a pair of 400-token texts in 2-token windows was built";
  } catch (const vkcls::TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find("over the limit of 1024"), std::string::npos) << e.what();
  }
  auto e = tok.encode_pair("hello world hello", "world hello world", true, &p);
  EXPECT_EQ(e.overflowing.size() + 1, 4u);  // 2 windows of each text, crossed
  // one long text's windows are linear in its length: not bounded
  p.max_length = 5;
  auto single = tok.encode(text + text + text + text + text + text, true, &p);  // 2,400 tokens
  EXPECT_GT(single.overflowing.size(), 1024u);
}

TEST(Tokenizer, TruncationWindows) {
  auto tok = vkcls::Tokenizer::from_json(tiny_bert().dump());
  vkcls::TruncationParams p;
  p.max_length = 5;  // 3 tokens of text per window
  p.stride = 1;
  // 6 text tokens, windows of 3 stepping by 2: [0,3) [2,5) [4,6).
  auto e = tok.encode("hello world hello world hello world", true, &p);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 4, 5, 4, 3}));
  ASSERT_EQ(e.overflowing.size(), 2u);
  EXPECT_EQ(e.overflowing[0].ids, (std::vector<int32_t>{2, 4, 5, 4, 3}));
  EXPECT_EQ(e.overflowing[1].ids, (std::vector<int32_t>{2, 4, 5, 3}));
  EXPECT_EQ(e.overflowing[1].char_offsets[1], (vkcls::Offset{24, 29}));
  p.stride = 4;  // > max_length - 2 specials: rejected like tokenizers' with_truncation
  EXPECT_THROW(tok.encode("hello", true, &p), vkcls::TokenizerError);
}

TEST(Tokenizer, ConcurrentEncodeIsConsistent) {
  fs::path f = kDir / "roberta" / "tokenizer.json";
  if (!fs::exists(f)) GTEST_SKIP();
  auto tok = vkcls::Tokenizer::from_file(f.string());
  const std::string text = "Concurrency: the same café, 東京, emoji 👩‍💻 — again and again.";
  auto ref = tok.encode(text);
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 300; ++i)
        if (tok.encode(text).ids != ref.ids) ++bad;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

// An old BERT folder (vocab.txt + tokenizer_config.json) must tokenize like
// the tokenizer.json transformers makes from it.
TEST(Tokenizer, ModelDirWithVocabTxtMatchesTokenizerJson) {
  fs::path src = kDir / "bert-uncased" / "tokenizer.json";
  if (!fs::exists(src)) GTEST_SKIP();
  json j = json::parse(std::ifstream(src));
  fs::path dir = fs::temp_directory_path() / ("vkcls_vocab_dir_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::vector<std::string> by_id(j["model"]["vocab"].size());
  for (auto it = j["model"]["vocab"].begin(); it != j["model"]["vocab"].end(); ++it)
    by_id.at(it.value().get<size_t>()) = it.key();
  {
    std::ofstream v(dir / "vocab.txt");
    for (auto& t : by_id) v << t << "\n";
    std::ofstream c(dir / "tokenizer_config.json");
    c << R"({"do_lower_case": true, "model_max_length": 512})";
  }
  auto a = vkcls::Tokenizer::from_model_dir(dir.string());
  auto b = vkcls::Tokenizer::from_file(src.string());
  EXPECT_EQ(a.model_max_length(), 512u);
  std::ifstream corpus(kDir / "corpus.jsonl");
  std::string line;
  int n = 0;
  while (std::getline(corpus, line)) {
    json in = json::parse(line);
    std::string text = in["text"];
    auto ea = a.encode(text), eb = b.encode(text);
    ASSERT_EQ(ea.ids, eb.ids) << text;
    ASSERT_EQ(ea.char_offsets, eb.char_offsets) << text;
    ++n;
  }
  EXPECT_GT(n, 100);
  fs::remove_all(dir);
}

}  // namespace
