// The front end: everything that happens to an input before it is queued. Validation of the
// per-request parameters, chat inputs rendered with the model's chat template (loaded once per
// engine, see frontend_chat.cpp), tokenization (tokenizer.json, loaded once), truncation,
// windows of long texts (token_classify stride), token-id inputs taken as given, and the
// limits (the model's length, its vocabulary, its token types). The result is tokenized
// sequences, or an error naming the field and the limit. Runs in the caller's thread, so
// tokenizing one request never holds up another.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/token_strings.h"
#include "tokenizer/tokenizer.h"
#include "vkcls/types.h"

namespace vkcls::templates {
class ChatTemplates;
}

namespace vkcls {

struct FrontEndLimits {
  int64_t max_model_len = 0;    // tokens per sequence
  int64_t vocab_size = 0;       // ids must be below this (the embedding table's rows)
  int64_t type_vocab_size = 0;  // 0: the model has no token types (pairs give type 0 everywhere)
  // vLLM's use_pad_token false (a *ForCausalLM converted by classifier_from_token): a pair is
  // scored as one text, query + document with no separator, tokenized with the specials
  bool pair_as_one_text = false;
  size_t max_input_bytes = 0;  // bytes of one text before tokenizing; 0: no limit
};

// One tokenized unit of work: a whole input, or one window of a strided text.
struct Sequence {
  std::vector<int32_t> ids, type_ids;
  std::vector<std::string> tokens;  // token strings (token_classify output)
  std::vector<std::pair<int64_t, int64_t>>
      offsets;  // code points into the text; {0, 0} for specials
  std::vector<uint8_t> special;
};

struct PreparedInput {
  std::vector<Sequence> windows;  // one, or the windows of a strided text; empty on error
  std::string rendered;           // a chat input: the text its template rendered (offsets index it)
  std::string error;
  ErrorKind kind = ErrorKind::none;
  bool ok() const { return kind == ErrorKind::none; }
};

class FrontEnd {
 public:
  // Loads the model folder's tokenizer (tokenizer.json, or vocab.txt for old BERT folders) and
  // its chat templates (tokenizer_config.json, chat_template.jinja), or `chat_template` (a
  // template's source) instead. Throws Error(model) for a broken tokenizer, Error(invalid_input,
  // "chat_template") for a `chat_template` that does not parse. A folder template that does
  // not load fails only the chat inputs, with its error.
  FrontEnd(const std::string& model_dir, const FrontEndLimits& limits,
           const std::optional<std::string>& chat_template = std::nullopt);
  ~FrontEnd();

  PreparedInput prepare(Task task, const TextInput& input, const RequestParams& params) const;
  // Request-level checks of truncation and score-template parameters (throws
  // Error(invalid_input) naming the field).
  void check_params(Task task, const RequestParams& params) const;

  // A chat input as its template renders it (transformers' apply_chat_template with
  // tokenize=False). Throws Error(invalid_input) naming the cause: no template, a malformed
  // message, both add_generation_prompt and continue_final_message, the template's
  // raise_exception (its message verbatim), a render error or limit.
  std::string render_chat(const ChatInput& chat) const;
  bool has_chat_template() const;
  // A (query, document) pair as the score template renders it: vLLM applies a template to
  // score pairs only when one was given (--chat-template), never the folder's own, which many
  // rerankers inherit unchanged from their base LLM.
  std::string render_score(const std::string& query, const std::string& document,
                           const RequestParams& params) const;
  bool has_score_template() const { return score_template_; }

  TokenizeResult tokenize(const std::string& text, bool add_special_tokens) const;
  std::string detokenize(const std::vector<int32_t>& ids, bool skip_special_tokens) const;
  const Tokenizer& tokenizer() const { return *tok_; }
  const TokenStrings& token_strings() const { return *strings_; }
  const FrontEndLimits& limits() const { return limits_; }

 private:
  Sequence from_encoding(Encoding&& e) const;
  // text up to the end of its k-th token (k <= 0, or k at least its tokens: all of it)
  std::string token_prefix(const std::string& text, int64_t k) const;
  void check_sequence(const Sequence& s, const char* field) const;  // throws Error

  FrontEndLimits limits_;
  std::unique_ptr<Tokenizer> tok_;
  std::unique_ptr<TokenStrings> strings_;
  std::unique_ptr<templates::ChatTemplates> chat_;
  std::string chat_load_error_;  // why the folder's chat template did not load
  bool score_template_ = false;  // chat_template was given: score pairs are rendered with it
};

}  // namespace vkcls
