// Added tokens (special or not): found in the text before the model runs and
// turned into single tokens. Tokens with normalized=false are matched on the
// raw text; normalized ones on each normalized remaining piece.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "tokenizer/components.h"

namespace vkcls::tok {

struct AddedToken {
  std::string content;
  // What id_to_token / decode give back: the content run through the
  // normalizer when the token is normalized (as tokenizers 0.2x reports it).
  std::string decoded;
  int32_t id = -1;
  bool single_word = false, lstrip = false, rstrip = false, normalized = true, special = false;
};

class AddedVocabulary {
 public:
  // Registers tokens in order, assigning ids as tokenizers' add_tokens does
  // (existing id if the content is known, else the next free id), then builds
  // the matchers; normalized patterns are run through `normalizer`.
  void add(const std::vector<AddedToken>& tokens, const Model& model, const Normalizer* normalizer);

  // Splits `text` on added tokens and normalizes the other pieces.
  void extract_and_normalize(const Normalizer* normalizer, std::string_view text,
                             PreTokenizedString& out) const;

  std::optional<int32_t> token_to_id(std::string_view t) const;
  const AddedToken* by_id(int32_t id) const;
  bool is_special(std::string_view content) const { return special_set_.count(std::string(content)) > 0; }
  size_t size() const { return by_content_.size(); }
  size_t size_not_in_model(const Model& m) const {
    size_t n = 0;
    for (const AddedToken& t : tokens_) n += !m.id_to_token(t.id).has_value();
    return n;
  }

 private:
  // Leftmost-longest multi-pattern matcher over bytes.
  struct Matcher {
    std::vector<std::string> patterns;
    std::vector<int32_t> ids;
    bool first_byte[256] = {};
    size_t max_len = 0;
    void build();
    // Longest pattern starting at `pos`, or -1.
    int longest_at(std::string_view s, size_t pos, size_t& len) const;
  };

  void split_with(const Matcher& m, NormalizedString&& ns, std::vector<Split>& out) const;

  std::vector<AddedToken> tokens_;  // registration order, one per content
  std::unordered_map<std::string, size_t> by_content_;
  std::unordered_map<int32_t, size_t> by_id_;
  std::unordered_set<std::string> special_set_;
  Matcher raw_, normalized_;
};

}  // namespace vkcls::tok
