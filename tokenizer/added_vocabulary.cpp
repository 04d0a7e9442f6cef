// Added-token extraction, following tokenizers' AddedVocabulary:
// leftmost-longest matching, single_word / lstrip / rstrip handling, and the
// matched slice (stripped spaces included) becoming the token's text.
#include "tokenizer/added_vocabulary.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace vkcls::tok {

namespace {

// single_word tests `\w` with the Rust regex crate.
bool is_word_char(char32_t c) { return is_word(c); }

char32_t last_char(std::string_view s) {
  size_t i = s.size();
  while (i > 0 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) --i;
  if (i > 0) --i;
  return utf8_next(s, i);
}

}  // namespace

void AddedVocabulary::Matcher::build() {
  std::fill(std::begin(first_byte), std::end(first_byte), false);
  max_len = 0;
  for (const std::string& p : patterns) {
    if (p.empty()) continue;
    first_byte[static_cast<unsigned char>(p[0])] = true;
    max_len = std::max(max_len, p.size());
  }
}

int AddedVocabulary::Matcher::longest_at(std::string_view s, size_t pos, size_t& len) const {
  if (!first_byte[static_cast<unsigned char>(s[pos])]) return -1;
  int best = -1;
  len = 0;
  for (size_t k = 0; k < patterns.size(); ++k) {
    const std::string& p = patterns[k];
    // Strictly longer wins; equal length keeps the earlier pattern.
    if (p.empty() || p.size() <= len || p.size() > s.size() - pos) continue;
    if (s.compare(pos, p.size(), p) == 0) {
      best = static_cast<int>(k);
      len = p.size();
    }
  }
  return best;
}

void AddedVocabulary::add(const std::vector<AddedToken>& tokens, const Model& model,
                          const Normalizer* normalizer) {
  for (AddedToken t : tokens) {
    if (t.content.empty()) continue;
    if (t.special) special_set_.insert(t.content);
    int32_t id;
    if (auto it = by_content_.find(t.content); it != by_content_.end()) {
      id = tokens_[it->second].id;
    } else if (auto mid = model.token_to_id(t.content)) {
      id = *mid;
    } else {
      // Next id after the model vocabulary, or after the largest added id.
      int32_t vsize = static_cast<int32_t>(model.vocab_size());
      int32_t max_added = -1;
      for (auto& a : tokens_) max_added = std::max(max_added, a.id);
      if (max_added < 0) id = vsize;
      else id = (max_added >= vsize || vsize == 0) ? max_added + 1 : vsize;
    }
    t.id = id;
    t.decoded = t.content;
    if (t.normalized && normalizer) {
      NormalizedString ns(t.content);
      normalizer->normalize(ns);
      t.decoded = ns.get();
    }
    if (auto it = by_content_.find(t.content); it != by_content_.end()) {
      tokens_[it->second] = t;
    } else {
      by_content_[t.content] = tokens_.size();
      tokens_.push_back(t);
    }
    by_id_[id] = by_content_[t.content];
  }
  // Special tokens are matched before classic ones, in registration order.
  raw_ = Matcher{};
  normalized_ = Matcher{};
  for (int pass = 0; pass < 2; ++pass) {
    for (const AddedToken& t : tokens_) {
      if (t.special != (pass == 0)) continue;
      if (!t.normalized) {
        raw_.patterns.push_back(t.content);
        raw_.ids.push_back(t.id);
      } else {
        normalized_.patterns.push_back(t.decoded);
        normalized_.ids.push_back(t.id);
      }
    }
  }
  raw_.build();
  normalized_.build();
}

std::optional<int32_t> AddedVocabulary::token_to_id(std::string_view t) const {
  auto it = by_content_.find(std::string(t));
  if (it == by_content_.end()) return std::nullopt;
  return tokens_[it->second].id;
}

const AddedToken* AddedVocabulary::by_id(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

void AddedVocabulary::split_with(const Matcher& m, NormalizedString&& ns, std::vector<Split>& out) const {
  const std::string& s = ns.get();
  if (s.empty()) return;
  if (m.patterns.empty()) {
    out.push_back(Split{std::move(ns), false, {}});
    return;
  }
  struct Piece {
    size_t start, stop;
    int32_t id;  // -1: plain text
  };
  std::vector<Piece> pieces;
  size_t start_offset = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t len;
    int k = m.longest_at(s, pos, len);
    if (k < 0) {
      ++pos;
      continue;
    }
    size_t start = pos, stop = pos + len;
    pos = stop;  // the matcher resumes after the raw match
    const AddedToken& tok = tokens_[by_id_.at(m.ids[k])];
    if (tok.single_word) {
      bool start_space = start == 0 || !is_word_char(last_char(std::string_view(s).substr(0, start)));
      bool stop_space = stop == s.size() || [&] {
        size_t i = stop;
        return !is_word_char(utf8_next(s, i));
      }();
      if (!start_space || !stop_space) continue;
    }
    if (tok.lstrip) {
      // Swallow the whitespace run before the token, but not past the previous split.
      size_t ns_start = start;
      while (ns_start > 0) {
        size_t p = ns_start - 1;
        while (p > 0 && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80) --p;
        size_t q = p;
        if (!is_whitespace(utf8_next(s, q))) break;
        ns_start = p;
      }
      start = std::max(ns_start, start_offset);
    }
    if (tok.rstrip) {
      size_t q = stop;
      while (q < s.size()) {
        size_t r = q;
        if (!is_whitespace(utf8_next(s, r))) break;
        q = r;
      }
      stop = q;
    }
    if (start_offset < start) pieces.push_back({start_offset, start, -1});
    pieces.push_back({start, stop, m.ids[k]});
    start_offset = stop;
  }
  if (start_offset != s.size()) pieces.push_back({start_offset, s.size(), -1});

  for (const Piece& p : pieces) {
    if (p.stop <= p.start) continue;
    NormalizedString slice = ns.slice(static_cast<uint32_t>(p.start), static_cast<uint32_t>(p.stop));
    if (slice.empty()) continue;
    Split sp{std::move(slice), false, {}};
    if (p.id >= 0) {
      sp.has_tokens = true;
      sp.tokens.push_back({p.id, sp.ns.get(), 0, static_cast<uint32_t>(sp.ns.size())});
    }
    out.push_back(std::move(sp));
  }
}

void AddedVocabulary::extract_and_normalize(const Normalizer* normalizer, std::string_view text,
                                            PreTokenizedString& out) const {
  out.splits.clear();
  std::vector<Split> first;
  split_with(raw_, NormalizedString(text), first);
  for (Split& sp : first) {
    if (sp.has_tokens) {
      out.splits.push_back(std::move(sp));
      continue;
    }
    if (normalizer) normalizer->normalize(sp.ns);
    split_with(normalized_, std::move(sp.ns), out.splits);
  }
}

}  // namespace vkcls::tok
