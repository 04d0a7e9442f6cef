// Pre-tokenizers: cut each not-yet-tokenized split into words. They only
// slice (and for ByteLevel / Metaspace, rewrite) NormalizedStrings, so every
// word keeps its alignment to the original text.
#include <array>
#include <memory>

#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace vkcls::tok {

// GPT-2's reversible byte -> printable char table: printable Latin-1 bytes map
// to themselves, the others to U+0100 + n in byte order.
static const std::array<char32_t, 256>& byte_table() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    char32_t n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      t[b] = printable ? static_cast<char32_t>(b) : 256 + n++;
    }
    return t;
  }();
  return table;
}

char32_t byte_level_char(uint8_t b) { return byte_table()[b]; }

int byte_level_byte(char32_t c) {
  static const std::array<int16_t, 324> rev = [] {
    std::array<int16_t, 324> r;
    r.fill(-1);
    for (int b = 0; b < 256; ++b) r[byte_table()[b]] = static_cast<int16_t>(b);
    return r;
  }();
  return c < rev.size() ? rev[c] : -1;
}

namespace {

using Pieces = std::vector<NormalizedString>;

void split_by_char(PreTokenizedString& pts, bool (*pred)(char32_t), SplitBehavior behavior) {
  std::vector<PatternMatch> m;
  pts.split([&](NormalizedString&& ns, Pieces& out) {
    m.clear();
    find_matches_char(pred, ns.get(), m);
    ns.split(m, behavior, out);
  });
}

void split_by_regex(PreTokenizedString& pts, const Regex& re, bool invert, SplitBehavior behavior) {
  std::vector<PatternMatch> m;
  pts.split([&](NormalizedString&& ns, Pieces& out) {
    m.clear();
    find_matches_regex(re, ns.get(), invert, m);
    ns.split(m, behavior, out);
  });
}

bool is_ws(char32_t c) { return is_whitespace(c); }
bool is_punc(char32_t c) { return is_ascii_punctuation(c) || is_punctuation(c); }
bool is_num(char32_t c) { return is_numeric(c); }

class BertPreTokenizer final : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedString& pts) const override {
    split_by_char(pts, is_ws, SplitBehavior::Removed);
    split_by_char(pts, is_punc, SplitBehavior::Isolated);
  }
};

// tokenizers matches `\w+|[^\w\s]+` with the Rust regex crate (not Oniguruma:
// its `\w` includes joiners such as U+200D). Leftmost-first, that is exactly
// "maximal runs of word chars, maximal runs of other non-space chars", which
// a scan over char classes computes without a regex.
class WhitespacePreTokenizer final : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedString& pts) const override {
    std::vector<PatternMatch> m;
    pts.split([&](NormalizedString&& ns, Pieces& out) {
      m.clear();
      const std::string& s = ns.get();
      enum { kSpace, kWord, kOther };
      size_t i = 0, run_start = 0;
      int run = kSpace;
      auto close = [&](size_t end) {
        if (run != kSpace && end > run_start)
          m.push_back({static_cast<uint32_t>(run_start), static_cast<uint32_t>(end), true});
      };
      while (i < s.size()) {
        size_t at = i;
        char32_t c = utf8_next(s, i);
        int cls = is_word(c) ? kWord : is_whitespace(c) ? kSpace : kOther;
        if (cls != run) {
          close(at);
          run = cls;
          run_start = at;
        }
      }
      close(s.size());
      ns.split(m, SplitBehavior::Isolated, out);  // only the kept runs are listed
    });
  }
};

class WhitespaceSplitPreTokenizer final : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedString& pts) const override {
    split_by_char(pts, is_ws, SplitBehavior::Removed);
  }
};

class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space), use_regex_(use_regex),
        re_(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)",
            "ByteLevel") {}

  void pre_tokenize(PreTokenizedString& pts) const override {
    std::vector<PatternMatch> m;
    pts.split([&](NormalizedString&& ns, Pieces& out) {
      if (add_prefix_space_ && (ns.get().empty() || ns.get()[0] != ' ')) ns.prepend(" ");
      if (use_regex_) {
        m.clear();
        find_matches_regex(re_, ns.get(), false, m);
        ns.split(m, SplitBehavior::Isolated, out);
      } else {
        out.push_back(std::move(ns));
      }
    });
    // Every byte becomes one char of the byte-level alphabet; the extra
    // bytes of a multi-byte char are insertions aligned with that char.
    std::vector<CharChange> changes;
    for (Split& s : pts.splits) {
      if (s.has_tokens) continue;
      const std::string& t = s.ns.get();
      changes.clear();
      size_t i = 0;
      while (i < t.size()) {
        size_t n = utf8_seq_len(static_cast<unsigned char>(t[i]));
        for (size_t k = 0; k < n; ++k)
          changes.push_back({byte_level_char(static_cast<uint8_t>(t[i + k])), k > 0 ? 1 : 0});
        i += n;
      }
      s.ns.transform(changes, 0);
    }
  }

 private:
  bool add_prefix_space_, use_regex_;
  Regex re_;
};

class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(const std::string& pattern, SplitBehavior b, bool invert, const std::string& path)
      : re_(pattern, path + ".pattern"), behavior_(b), invert_(invert) {}
  void pre_tokenize(PreTokenizedString& pts) const override {
    split_by_regex(pts, re_, invert_, behavior_);
  }

 private:
  Regex re_;
  SplitBehavior behavior_;
  bool invert_;
};

class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  enum class Prepend { Always, First, Never };
  MetaspacePreTokenizer(char32_t replacement, Prepend scheme, bool split)
      : replacement_(replacement), scheme_(scheme), split_(split) {
    utf8_append(rep_, replacement);
  }

  void pre_tokenize(PreTokenizedString& pts) const override {
    std::vector<PatternMatch> m;
    pts.split([&](NormalizedString&& ns, Pieces& out) {
      m.clear();
      find_matches_char([](char32_t c) { return c == U' '; }, ns.get(), m);
      ns.replace(m, rep_);
      bool starts_with_rep = ns.get().compare(0, rep_.size(), rep_) == 0;
      if (scheme_ == Prepend::Always && !starts_with_rep) ns.prepend(rep_);
      // "first": only the split that starts the input gets the prefix.
      if (scheme_ == Prepend::First && !starts_with_rep && ns.original_range().start == 0)
        ns.prepend(rep_);
      if (split_) {
        m.clear();
        char32_t r = replacement_;
        find_matches_char([r](char32_t c) { return c == r; }, ns.get(), m);
        ns.split(m, SplitBehavior::MergedWithNext, out);
      } else {
        out.push_back(std::move(ns));
      }
    });
  }

 private:
  char32_t replacement_;
  std::string rep_;
  Prepend scheme_;
  bool split_;
};

class DigitsPreTokenizer final : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual) : individual_(individual) {}
  void pre_tokenize(PreTokenizedString& pts) const override {
    split_by_char(pts, is_num, individual_ ? SplitBehavior::Isolated : SplitBehavior::Contiguous);
  }

 private:
  bool individual_;
};

class PunctuationPreTokenizer final : public PreTokenizer {
 public:
  explicit PunctuationPreTokenizer(SplitBehavior b) : behavior_(b) {}
  void pre_tokenize(PreTokenizedString& pts) const override {
    split_by_char(pts, is_punc, behavior_);
  }

 private:
  SplitBehavior behavior_;
};

class CharDelimiterPreTokenizer final : public PreTokenizer {
 public:
  explicit CharDelimiterPreTokenizer(char32_t d) : delim_(d) {}
  void pre_tokenize(PreTokenizedString& pts) const override {
    std::vector<PatternMatch> m;
    char32_t d = delim_;
    pts.split([&](NormalizedString&& ns, Pieces& out) {
      m.clear();
      find_matches_char([d](char32_t c) { return c == d; }, ns.get(), m);
      ns.split(m, SplitBehavior::Removed, out);
    });
  }

 private:
  char32_t delim_;
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> s) : seq_(std::move(s)) {}
  void pre_tokenize(PreTokenizedString& pts) const override {
    for (auto& p : seq_) p->pre_tokenize(pts);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> seq_;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_bert_pre_tokenizer() {
  return std::make_unique<BertPreTokenizer>();
}

std::unique_ptr<PreTokenizer> pre_tokenizer_from_json(const json& j, const std::string& path) {
  if (j.is_null()) return nullptr;
  std::string type = json_type(j, path);
  if (type == "BertPreTokenizer") return make_bert_pre_tokenizer();
  if (type == "Whitespace") return std::make_unique<WhitespacePreTokenizer>();
  if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplitPreTokenizer>();
  if (type == "ByteLevel")
    return std::make_unique<ByteLevelPreTokenizer>(json_bool(j, "add_prefix_space", path, true),
                                                   json_bool(j, "use_regex", path, true));
  if (type == "Split")
    return std::make_unique<SplitPreTokenizer>(json_pattern(j, "pattern", path),
                                               json_behavior(j, "behavior", path),
                                               json_bool(j, "invert", path, false), path);
  if (type == "Metaspace") {
    char32_t rep = json_char(j, "replacement", path, U'\u2581');
    using P = MetaspacePreTokenizer::Prepend;
    P scheme;
    if (j.contains("prepend_scheme") && !j["prepend_scheme"].is_null()) {
      std::string s = json_string(j, "prepend_scheme", path);
      if (s == "always") scheme = P::Always;
      else if (s == "first") scheme = P::First;
      else if (s == "never") scheme = P::Never;
      else json_fail(path + ".prepend_scheme", "unknown prepend scheme '" + s + "'");
    } else {
      // Legacy files: add_prefix_space true means "always".
      scheme = json_bool(j, "add_prefix_space", path, true) ? P::Always : P::Never;
    }
    return std::make_unique<MetaspacePreTokenizer>(rep, scheme, json_bool(j, "split", path, true));
  }
  if (type == "Digits")
    return std::make_unique<DigitsPreTokenizer>(json_bool(j, "individual_digits", path, false));
  if (type == "Punctuation") {
    SplitBehavior b = SplitBehavior::Isolated;
    if (j.contains("behavior")) b = json_behavior(j, "behavior", path);
    return std::make_unique<PunctuationPreTokenizer>(b);
  }
  if (type == "CharDelimiterSplit")
    return std::make_unique<CharDelimiterPreTokenizer>(json_char(j, "delimiter", path));
  if (type == "Sequence") {
    const json& arr = json_at(j, "pretokenizers", path);
    if (!arr.is_array()) json_fail(path + ".pretokenizers", "expected an array");
    std::vector<std::unique_ptr<PreTokenizer>> seq;
    for (size_t i = 0; i < arr.size(); ++i) {
      auto p = pre_tokenizer_from_json(arr[i], path + ".pretokenizers[" + std::to_string(i) + "]");
      if (p) seq.push_back(std::move(p));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(seq));
  }
  json_fail(path + ".type", "unknown pre-tokenizer type '" + type + "'");
}

}  // namespace vkcls::tok
