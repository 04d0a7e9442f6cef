// What token-classify needs from the tokenizer beyond the Engine API: how it marks
// subwords, its unknown token, and convert_tokens_to_string (the decoder run on token
// strings, which Hugging Face uses for the "word" of an entity). Read from the model
// folder's tokenizer.json / tokenizer_config.json.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "poolers/token_aggregation.h"
#include "tokenizer/tokenizer.h"

namespace vkcls::cli {

class TokenizerView {
 public:
  explicit TokenizerView(const std::string& model_dir);

  const Tokenizer& tokenizer() const { return tok_; }
  SubwordMarking subword_marking() const { return marking_; }
  std::optional<int32_t> unk_id() const { return unk_id_; }
  // tokenizer.convert_tokens_to_string: the WordPiece and ByteLevel decoders exactly as
  // tokenizers runs them; other decoders through Tokenizer::decode of the tokens' ids.
  std::string tokens_to_string(const std::vector<std::string>& tokens) const;

 private:
  Tokenizer tok_;
  SubwordMarking marking_ = SubwordMarking::Offsets;
  std::optional<int32_t> unk_id_;
  std::string decoder_;  // "WordPiece" | "ByteLevel" | "" (none) | other type
  std::string wordpiece_prefix_ = "##";
  bool wordpiece_cleanup_ = true;
};

}  // namespace vkcls::cli
