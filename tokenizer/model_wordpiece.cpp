// WordPiece (BERT): greedy longest-match-first over the word, continuation
// pieces carry "##"; a word with any unmatched part becomes a single [UNK].
// Also WordLevel, the whole-word lookup model, which shares the vocab loader.
#include <memory>

#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace vkcls::tok {

Vocab vocab_from_json(const json& j, const std::string& path) {
  if (!j.is_object()) json_fail(path, "expected an object {token: id}");
  // every text would fail at its first word: a broken folder, refused when it loads
  if (j.empty()) json_fail(path, "the vocabulary is empty");
  Vocab v;
  v.to_id.reserve(j.size());
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() > INT32_MAX)
      json_fail(path + "[\"" + it.key() + "\"]", "expected a non-negative integer id");
    const int64_t id = it.value().get<int64_t>();
    // the id -> token table is dense: an id far past the entries would size it (a fuzzed
    // {"a": 2000000000} asked for 14 GB); real vocabularies number their tokens 0..n-1
    if (uint64_t(id) >= 2 * j.size() + 65536)
      json_fail(path + "[\"" + it.key() + "\"]",
                "id " + std::to_string(id) + " is far past the vocabulary's " +
                    std::to_string(j.size()) + " entries");
    v.to_id[it.key()] = static_cast<int32_t>(id);
  }
  v.build_reverse();
  return v;
}

namespace {

class WordPiece final : public Model {
 public:
  WordPiece(Vocab v, std::string unk, std::string prefix, size_t max_chars)
      : vocab_(std::move(v)), unk_(std::move(unk)), prefix_(std::move(prefix)), max_chars_(max_chars) {}

  void tokenize(std::string_view word, std::vector<Token>& out) const override {
    if (utf8_count(word) > max_chars_) {
      push_unk(word, out);
      return;
    }
    size_t first = out.size();
    std::string buf;
    size_t start = 0;
    while (start < word.size()) {
      size_t end = word.size();
      bool found = false;
      while (start < end) {
        buf.clear();
        if (start > 0) buf += prefix_;
        buf.append(word.substr(start, end - start));
        auto it = vocab_.to_id.find(buf);
        if (it != vocab_.to_id.end()) {
          out.push_back({it->second, buf, static_cast<uint32_t>(start), static_cast<uint32_t>(end)});
          found = true;
          break;
        }
        // Drop the last char of the candidate.
        do --end;
        while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80);
      }
      if (!found) {
        out.resize(first);
        push_unk(word, out);
        return;
      }
      start = end;
    }
  }

  std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.id(t); }
  std::optional<std::string> id_to_token(int32_t id) const override { return vocab_.token(id); }
  size_t vocab_size() const override { return vocab_.to_id.size(); }

 private:
  void push_unk(std::string_view word, std::vector<Token>& out) const {
    auto it = vocab_.to_id.find(unk_);
    if (it == vocab_.to_id.end())
      throw TokenizerError("WordPiece: unk token '" + unk_ + "' is not in the vocabulary");
    out.push_back({it->second, unk_, 0, static_cast<uint32_t>(word.size())});
  }

  Vocab vocab_;
  std::string unk_, prefix_;
  size_t max_chars_;
};

class WordLevel final : public Model {
 public:
  WordLevel(Vocab v, std::string unk) : vocab_(std::move(v)), unk_(std::move(unk)) {}
  void tokenize(std::string_view word, std::vector<Token>& out) const override {
    auto it = vocab_.to_id.find(word);
    if (it != vocab_.to_id.end()) {
      out.push_back({it->second, std::string(word), 0, static_cast<uint32_t>(word.size())});
      return;
    }
    auto u = vocab_.to_id.find(unk_);
    if (u == vocab_.to_id.end())
      throw TokenizerError("WordLevel: unk token '" + unk_ + "' is not in the vocabulary");
    out.push_back({u->second, unk_, 0, static_cast<uint32_t>(word.size())});
  }
  std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.id(t); }
  std::optional<std::string> id_to_token(int32_t id) const override { return vocab_.token(id); }
  size_t vocab_size() const override { return vocab_.to_id.size(); }

 private:
  Vocab vocab_;
  std::string unk_;
};

}  // namespace

std::unique_ptr<Model> make_wordpiece(StrMap vocab,
                                      std::string unk_token, std::string prefix,
                                      size_t max_input_chars_per_word) {
  Vocab v;
  v.to_id = std::move(vocab);
  v.build_reverse();
  return std::make_unique<WordPiece>(std::move(v), std::move(unk_token), std::move(prefix),
                                     max_input_chars_per_word);
}

std::unique_ptr<Model> make_wordpiece_from_json(const json& j, const std::string& path) {
  Vocab v = vocab_from_json(json_at(j, "vocab", path), path + ".vocab");
  int64_t max_chars = json_int(j, "max_input_chars_per_word", path, 100);
  if (max_chars < 0) json_fail(path + ".max_input_chars_per_word", "must be >= 0");
  return std::make_unique<WordPiece>(std::move(v), json_string(j, "unk_token", path, "[UNK]"),
                                     json_string(j, "continuing_subword_prefix", path, "##"),
                                     static_cast<size_t>(max_chars));
}

std::unique_ptr<Model> make_wordlevel_from_json(const json& j, const std::string& path) {
  Vocab v = vocab_from_json(json_at(j, "vocab", path), path + ".vocab");
  return std::make_unique<WordLevel>(std::move(v), json_string(j, "unk_token", path, "<unk>"));
}

}  // namespace vkcls::tok
