// Hugging Face tokenizer.json in pure C++: reproduces the ids, type ids,
// tokens and offsets of the Python `tokenizers` library.
//
// Pipeline (same order as tokenizers' TokenizerImpl::encode):
//   added tokens split -> normalizer -> pre-tokenizer -> model -> truncation
//   -> post-processor (special tokens, type ids)
// A Tokenizer is immutable after loading; encode() is safe to call from many
// threads at once on one const Tokenizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vkcls {

struct Offset {
  uint32_t start = 0, end = 0;  // half-open
  bool operator==(const Offset&) const = default;
};

struct Encoding {
  std::vector<int32_t> ids, type_ids;
  std::vector<std::string> tokens;
  // BYTE offsets into the original text of the segment the token came from
  // ({0,0} for special tokens added by the post-processor).
  std::vector<Offset> offsets;
  // The same in Unicode code points (what Python tokenizers reports for str input).
  std::vector<Offset> char_offsets;
  std::vector<int32_t> sequence_ids;  // 0 / 1 for the first / second text, -1 for specials
  std::vector<uint8_t> special_tokens_mask;
  std::vector<Encoding> overflowing;  // windows produced by truncation with stride

  size_t size() const { return ids.size(); }
};

enum class TruncationStrategy { LongestFirst, OnlyFirst, OnlySecond };
enum class TruncationSide { Right, Left };
struct TruncationParams {
  size_t max_length = 0;  // 0 = off
  TruncationStrategy strategy = TruncationStrategy::LongestFirst;
  TruncationSide side = TruncationSide::Right;
  size_t stride = 0;
};

// Padding as declared in tokenizer.json ("padding"); parsed for callers that
// batch with padding. The tokenizer itself never pads.
struct PaddingParams {
  bool enabled = false;
  int32_t pad_id = 0;
  int32_t pad_type_id = 0;
  std::string pad_token = "[PAD]";
  bool pad_left = false;
  size_t pad_to_multiple_of = 0;  // 0 = none
  size_t fixed_length = 0;        // 0 = BatchLongest
};

class TokenizerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace tok {
struct TokenizerImpl;
}

class Tokenizer {
 public:
  // tokenizer.json; throws TokenizerError naming what is wrong.
  static Tokenizer from_file(const std::string& path);
  static Tokenizer from_json(const std::string& json_text);
  // tokenizer.json if present, else vocab.txt + tokenizer_config.json (old BERT folders).
  static Tokenizer from_model_dir(const std::string& dir);

  Encoding encode(std::string_view text, bool add_special_tokens = true,
                  const TruncationParams* trunc = nullptr) const;
  Encoding encode_pair(std::string_view a, std::string_view b, bool add_special_tokens = true,
                       const TruncationParams* trunc = nullptr) const;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = true) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(int32_t id) const;
  size_t num_special_tokens_to_add(bool pair) const;
  size_t vocab_size() const;                           // model vocabulary plus added tokens
  const TruncationParams& default_truncation() const;  // from "truncation" (max_length 0 if null)
  const PaddingParams& padding() const;                // from "padding"
  bool is_special_token(std::string_view token) const;
  // tokenizer_config.json "model_max_length" when loaded with from_model_dir
  // (0 when unknown). Informational: encode() does not truncate to it.
  size_t model_max_length() const;
  // How many tokenizer definitions this process has parsed (each one costs a full JSON parse
  // and vocabulary build): a program should load its model's tokenizer once.
  static uint64_t loads();

 private:
  explicit Tokenizer(std::shared_ptr<const tok::TokenizerImpl> impl);
  std::shared_ptr<const tok::TokenizerImpl> impl_;
};

}  // namespace vkcls
