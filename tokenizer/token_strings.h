// What token classification needs from the tokenizer beyond ids and offsets: whether it marks
// subwords with a prefix ("##"), its unknown token, and convert_tokens_to_string (the decoder
// run on token strings, which Hugging Face uses for the "word" of an entity). Read from the
// model folder's tokenizer.json / tokenizer_config.json / special_tokens_map.json.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace vkcls {

class TokenStrings {
 public:
  // `tok` must outlive this object.
  TokenStrings(const Tokenizer& tok, const std::string& model_dir);

  // The tokenizer model has a continuing_subword_prefix (WordPiece "##"); else subwords are
  // found from offsets (byte-level BPE, Unigram), as the HF pipeline's fallback does.
  bool subword_prefix() const { return subword_prefix_; }
  std::optional<int32_t> unk_id() const { return unk_id_; }
  // tokenizer.convert_tokens_to_string: the WordPiece and ByteLevel decoders exactly as
  // tokenizers runs them; other decoders through Tokenizer::decode of the tokens' ids.
  std::string tokens_to_string(const std::vector<std::string>& tokens) const;

 private:
  const Tokenizer& tok_;
  bool subword_prefix_ = false;
  std::optional<int32_t> unk_id_;
  std::string decoder_;  // "WordPiece" | "ByteLevel" | "" (none) | other type
  std::string wordpiece_prefix_ = "##";
  bool wordpiece_cleanup_ = true;
};

}  // namespace vkcls
