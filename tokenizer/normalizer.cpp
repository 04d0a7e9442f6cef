// Normalizers: each rewrites a NormalizedString in place through its
// alignment-keeping operations, so offsets still point into the original.
#include <memory>

#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace vkcls::tok {
namespace {

// BERT's "Chinese character": the CJK Unified Ideographs blocks only (not
// Hangul, Hiragana or Katakana, which are space-separated scripts).
bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

class BertNormalizer final : public Normalizer {
 public:
  BertNormalizer(bool clean_text, bool chinese, std::optional<bool> strip_accents, bool lowercase)
      : clean_text_(clean_text), chinese_(chinese),
        // strip_accents null follows lowercase (BERT uncased strips, cased keeps).
        strip_accents_(strip_accents.value_or(lowercase)), lowercase_(lowercase) {}

  void normalize(NormalizedString& s) const override {
    if (clean_text_) {
      // Drop NUL, U+FFFD and control chars (\t \n \r count as whitespace),
      // then turn every whitespace into a plain space.
      s.filter([](char32_t c) {
        bool control = !(c == '\t' || c == '\n' || c == '\r') && is_other(c);
        return !(c == 0 || c == 0xFFFD || control);
      });
      s.map([](char32_t c) {
        return (c == '\t' || c == '\n' || c == '\r' || is_whitespace(c)) ? U' ' : c;
      });
    }
    if (chinese_) {
      const std::string& t = s.get();
      size_t i = 0;
      bool any = false;
      while (i < t.size() && !any) any = is_chinese_char(utf8_next(t, i));
      if (any) {
        std::vector<CharChange> changes;
        changes.reserve(t.size() + 16);
        i = 0;
        while (i < t.size()) {
          char32_t c = utf8_next(t, i);
          if (is_chinese_char(c)) {
            changes.push_back({U' ', 1});
            changes.push_back({c, 0});
            changes.push_back({U' ', 1});
          } else {
            changes.push_back({c, 0});
          }
        }
        s.transform(changes, 0);
      }
    }
    if (strip_accents_) {
      s.nfd();
      s.filter([](char32_t c) { return !is_mark_nonspacing(c); });
    }
    if (lowercase_) s.lowercase();
  }

 private:
  bool clean_text_, chinese_, strip_accents_, lowercase_;
};

class UnicodeNormalizer final : public Normalizer {
 public:
  enum Form { NFC, NFD, NFKC, NFKD };
  explicit UnicodeNormalizer(Form f) : form_(f) {}
  void normalize(NormalizedString& s) const override {
    switch (form_) {
      case NFC: s.nfc(); break;
      case NFD: s.nfd(); break;
      case NFKC: s.nfkc(); break;
      case NFKD: s.nfkd(); break;
    }
  }

 private:
  Form form_;
};

class LowercaseNormalizer final : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override { s.lowercase(); }
};

// Removes combining marks (all of Mn, Mc, Me: unlike BertNormalizer's
// strip_accents, which keeps spacing marks); tokenizer.json pairs it with an
// NFD/NFKD before.
class StripAccentsNormalizer final : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override {
    s.filter([](char32_t c) { return !is_mark(c); });
  }
};

class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(NormalizedString& s) const override { s.strip(left_, right_); }

 private:
  bool left_, right_;
};

class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(const std::string& pattern, std::string content, const std::string& path)
      : re_(pattern, path + ".pattern"), content_(std::move(content)) {}
  void normalize(NormalizedString& s) const override { s.replace(re_, content_); }

 private:
  Regex re_;
  std::string content_;
};

class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string p) : prepend_(std::move(p)) {}
  void normalize(NormalizedString& s) const override { s.prepend(prepend_); }

 private:
  std::string prepend_;
};

// SentencePiece's NMT normalization: drop ASCII controls, map odd spaces to ' '.
class NmtNormalizer final : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override {
    s.filter([](char32_t c) {
      return !((c >= 0x1 && c <= 0x8) || c == 0xB || (c >= 0xE && c <= 0x1F) || c == 0x7F ||
               c == 0x8F || c == 0x9F);
    });
    s.map([](char32_t c) -> char32_t {
      switch (c) {
        case 0x9: case 0xA: case 0xC: case 0xD: case 0x1680: case 0x2028: case 0x2029:
        case 0x2581: case 0xFEFF: case 0xFFFD:
          return U' ';
        default:
          return (c >= 0x200B && c <= 0x200F) ? U' ' : c;
      }
    });
  }
};

// Maps every byte to the printable char GPT-2's byte-level alphabet uses.
class ByteLevelNormalizer final : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override;
};

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> n) : seq_(std::move(n)) {}
  void normalize(NormalizedString& s) const override {
    for (auto& n : seq_) n->normalize(s);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> seq_;
};

}  // namespace

char32_t byte_level_char(uint8_t b);  // pre_tokenizer.cpp

void ByteLevelNormalizer::normalize(NormalizedString& s) const {
  const std::string& t = s.get();
  std::vector<CharChange> changes;
  changes.reserve(t.size());
  size_t i = 0;
  while (i < t.size()) {
    size_t n = utf8_seq_len(static_cast<unsigned char>(t[i]));
    for (size_t k = 0; k < n; ++k)
      changes.push_back({byte_level_char(static_cast<uint8_t>(t[i + k])), k > 0 ? 1 : 0});
    i += n;
  }
  s.transform(changes, 0);
}

std::unique_ptr<Normalizer> make_bert_normalizer(bool clean_text, bool handle_chinese_chars,
                                                 std::optional<bool> strip_accents,
                                                 bool lowercase) {
  return std::make_unique<BertNormalizer>(clean_text, handle_chinese_chars, strip_accents,
                                          lowercase);
}

std::unique_ptr<Normalizer> normalizer_from_json(const json& j, const std::string& path) {
  if (j.is_null()) return nullptr;
  std::string type = json_type(j, path);
  if (type == "BertNormalizer") {
    std::optional<bool> strip;
    if (j.contains("strip_accents") && !j["strip_accents"].is_null())
      strip = json_bool(j, "strip_accents", path);
    return make_bert_normalizer(json_bool(j, "clean_text", path, true),
                                json_bool(j, "handle_chinese_chars", path, true), strip,
                                json_bool(j, "lowercase", path, true));
  }
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(UnicodeNormalizer::NFC);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(UnicodeNormalizer::NFD);
  if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(UnicodeNormalizer::NFKC);
  if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(UnicodeNormalizer::NFKD);
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (type == "StripAccents") return std::make_unique<StripAccentsNormalizer>();
  if (type == "Strip")
    return std::make_unique<StripNormalizer>(json_bool(j, "strip_left", path, true),
                                             json_bool(j, "strip_right", path, true));
  if (type == "Replace")
    return std::make_unique<ReplaceNormalizer>(json_pattern(j, "pattern", path),
                                               json_string(j, "content", path), path);
  if (type == "Prepend") return std::make_unique<PrependNormalizer>(json_string(j, "prepend", path));
  if (type == "Nmt") return std::make_unique<NmtNormalizer>();
  if (type == "ByteLevel") return std::make_unique<ByteLevelNormalizer>();
  if (type == "Precompiled") return make_precompiled_normalizer(j, path);
  if (type == "Sequence") {
    const json& arr = json_at(j, "normalizers", path);
    if (!arr.is_array()) json_fail(path + ".normalizers", "expected an array");
    std::vector<std::unique_ptr<Normalizer>> seq;
    for (size_t i = 0; i < arr.size(); ++i) {
      auto n = normalizer_from_json(arr[i], path + ".normalizers[" + std::to_string(i) + "]");
      if (n) seq.push_back(std::move(n));
    }
    return std::make_unique<SequenceNormalizer>(std::move(seq));
  }
  json_fail(path + ".type", "unknown normalizer type '" + type + "'");
}

}  // namespace vkcls::tok
