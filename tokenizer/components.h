// Internal interfaces of the tokenizer pipeline stages and the JSON loaders
// that build them. One implementation file per stage:
//   normalizer.cpp (+ normalizer_precompiled.cpp), pre_tokenizer.cpp,
//   model_wordpiece.cpp, model_bpe.cpp, model_unigram.cpp, post_processor.cpp,
//   decoder.cpp, added_vocabulary.cpp, truncation.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/normalized_string.h"
#include "tokenizer/tokenizer.h"

namespace vkcls::tok {

using json = nlohmann::json;

// A token produced by a model: offsets are normalized byte offsets inside the
// string the model was given.
struct Token {
  int32_t id;
  std::string value;
  uint32_t start, end;
};

// A piece of the input: still to be tokenized, or already tokens (added tokens).
struct Split {
  NormalizedString ns;
  bool has_tokens = false;
  std::vector<Token> tokens;
};

struct PreTokenizedString {
  std::vector<Split> splits;

  // Replaces every split that has no tokens yet by the pieces `fn` makes of
  // it; empty pieces are dropped (tokenizers' PreTokenizedString::split).
  template <typename F>
  void split(F&& fn) {
    std::vector<Split> out;
    out.reserve(splits.size());
    std::vector<NormalizedString> pieces;
    for (Split& s : splits) {
      if (s.has_tokens) {
        out.push_back(std::move(s));
        continue;
      }
      pieces.clear();
      fn(std::move(s.ns), pieces);
      for (NormalizedString& p : pieces)
        if (!p.empty()) out.push_back(Split{std::move(p), false, {}});
    }
    splits = std::move(out);
  }
};

// ---- stages ------------------------------------------------------------------

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(NormalizedString& s) const = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void pre_tokenize(PreTokenizedString& pts) const = 0;
};

class Model {
 public:
  virtual ~Model() = default;
  // Appends the tokens of one pre-tokenized word (offsets relative to `word`).
  virtual void tokenize(std::string_view word, std::vector<Token>& out) const = 0;
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  virtual std::optional<std::string> id_to_token(int32_t id) const = 0;
  virtual size_t vocab_size() const = 0;
};

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual size_t added_tokens(bool pair) const = 0;
  // Works on the list [first] or [first, second]; the caller merges the
  // result (tokenizers' PostProcessor::process_encodings).
  virtual void process(std::vector<Encoding>& encodings, bool add_special_tokens) const = 0;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// Shared by the vocab-based models: token -> id map and its reverse.
// Hash that accepts string_view, so lookups do not allocate.
struct StrHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StrMap = std::unordered_map<std::string, int32_t, StrHash, std::equal_to<>>;

struct Vocab {
  StrMap to_id;
  std::vector<std::string> to_token;  // indexed by id ("" where unused)
  std::vector<uint8_t> present;

  void build_reverse() {
    int32_t max_id = -1;
    for (auto& [t, id] : to_id) max_id = std::max(max_id, id);
    to_token.assign(static_cast<size_t>(max_id + 1), {});
    present.assign(static_cast<size_t>(max_id + 1), 0);
    for (auto& [t, id] : to_id) {
      to_token[id] = t;
      present[id] = 1;
    }
  }
  std::optional<int32_t> id(std::string_view t) const {
    auto it = to_id.find(t);
    if (it == to_id.end()) return std::nullopt;
    return it->second;
  }
  std::optional<std::string> token(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= to_token.size() || !present[id]) return std::nullopt;
    return to_token[id];
  }
};

Vocab vocab_from_json(const json& j, const std::string& path);

// ---- loaders (throw TokenizerError naming the JSON path) ----------------------

std::unique_ptr<Normalizer> normalizer_from_json(const json& j, const std::string& path);
std::unique_ptr<Normalizer> make_precompiled_normalizer(const json& j, const std::string& path);
std::unique_ptr<Normalizer> make_bert_normalizer(bool clean_text, bool handle_chinese_chars,
                                                 std::optional<bool> strip_accents, bool lowercase);
std::unique_ptr<PreTokenizer> pre_tokenizer_from_json(const json& j, const std::string& path);
std::unique_ptr<PreTokenizer> make_bert_pre_tokenizer();
std::unique_ptr<Model> model_from_json(const json& j, const std::string& path);
std::unique_ptr<Model> make_wordpiece_from_json(const json& j, const std::string& path);
std::unique_ptr<Model> make_wordlevel_from_json(const json& j, const std::string& path);
std::unique_ptr<Model> make_bpe_from_json(const json& j, const std::string& path);
std::unique_ptr<Model> make_unigram_from_json(const json& j, const std::string& path);
std::unique_ptr<Model> make_wordpiece(StrMap vocab,
                                      std::string unk_token, std::string prefix,
                                      size_t max_input_chars_per_word);
std::unique_ptr<PostProcessor> post_processor_from_json(const json& j, const std::string& path);
std::unique_ptr<PostProcessor> make_bert_processing(std::string sep, int32_t sep_id,
                                                    std::string cls, int32_t cls_id);
std::unique_ptr<Decoder> decoder_from_json(const json& j, const std::string& path);
std::unique_ptr<Decoder> make_wordpiece_decoder(std::string prefix, bool cleanup);

// ---- JSON helpers --------------------------------------------------------------

[[noreturn]] void json_fail(const std::string& path, const std::string& what);
const json& json_at(const json& j, const std::string& key, const std::string& path);
bool json_bool(const json& j, const std::string& key, const std::string& path,
               std::optional<bool> dflt = std::nullopt);
std::string json_string(const json& j, const std::string& key, const std::string& path,
                        std::optional<std::string> dflt = std::nullopt);
int64_t json_int(const json& j, const std::string& key, const std::string& path,
                 std::optional<int64_t> dflt = std::nullopt);
double json_number(const json& j, const std::string& key, const std::string& path,
                   std::optional<double> dflt = std::nullopt);
// A single Unicode scalar given as a JSON string (e.g. Metaspace "replacement").
char32_t json_char(const json& j, const std::string& key, const std::string& path,
                   std::optional<char32_t> dflt = std::nullopt);
std::string json_type(const json& j, const std::string& path);
// Split / Replace "pattern": {"String": s} or {"Regex": r}; returns the regex
// source (strings escaped).
std::string json_pattern(const json& j, const std::string& key, const std::string& path);
SplitBehavior json_behavior(const json& j, const std::string& key, const std::string& path);

// Encoding helpers shared by truncation and post-processors.
Encoding encoding_slice(const Encoding& e, size_t start, size_t stop);
void encoding_merge(Encoding& self, Encoding pair);  // tokenizers' Encoding::merge_with
// Makes an encoding of special tokens (type id, offsets {0,0}, mask 1).
Encoding special_encoding(const std::vector<int32_t>& ids, const std::vector<std::string>& tokens,
                          int32_t type_id);
void truncate_encoding(Encoding& e, size_t max_len, size_t stride, TruncationSide side);
void truncate_encodings(Encoding& a, Encoding* b, const TruncationParams& p);
// ByteLevel offset trimming (also used by RobertaProcessing).
void byte_level_process_offsets(Encoding& e, bool add_prefix_space);

}  // namespace vkcls::tok
