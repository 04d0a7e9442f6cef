// NormalizedString transformations. Every operation is written as a list of
// CharChange and applied by transform_range, the single place that updates
// the alignments, mirroring tokenizers' NormalizedString::transform_range so
// that offsets come out identical.
#include "tokenizer/normalized_string.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace vkcls::tok {

NormalizedString::NormalizedString(std::string_view original, uint32_t shift)
    : normalized_(original), orig_start_(shift), orig_end_(shift + static_cast<uint32_t>(original.size())) {
  // Each byte of a char is aligned with the whole char.
  align_.resize(original.size());
  size_t i = 0;
  while (i < original.size()) {
    size_t n = utf8_seq_len(static_cast<unsigned char>(original[i]));
    Offset o{static_cast<uint32_t>(shift + i), static_cast<uint32_t>(shift + i + n)};
    for (size_t k = 0; k < n && i + k < original.size(); ++k) align_[i + k] = o;
    i += n;
  }
}

bool NormalizedString::to_original(uint32_t start, uint32_t end, Offset& out) const {
  if (start > end || end > normalized_.size()) return false;
  if (start == end) {
    out = {orig_start_ + start, orig_start_ + end};
    return true;
  }
  out = {align_[start].start, align_[end - 1].end};
  return true;
}

NormalizedString NormalizedString::slice(uint32_t start, uint32_t end) const {
  NormalizedString s;
  Offset o;
  if (!to_original(start, end, o)) return s;
  s.normalized_.assign(normalized_, start, end - start);
  s.align_.assign(align_.begin() + start, align_.begin() + end);
  s.orig_start_ = o.start;
  s.orig_end_ = o.end;
  return s;
}

void NormalizedString::transform_range(uint32_t start, uint32_t end,
                                       const std::vector<CharChange>& changes,
                                       size_t initial_offset) {
  const std::string& cur = normalized_;
  size_t rp = start;  // cursor over the replaced chars; equals tokenizers' `offset`
  auto consume_char = [&]() {
    if (rp < end) rp += utf8_seq_len(static_cast<unsigned char>(cur[rp]));
  };
  for (size_t k = 0; k < initial_offset && rp < end; ++k) consume_char();

  std::string out;
  std::vector<Offset> out_align;
  out.reserve(end - start + changes.size());
  out_align.reserve(end - start + changes.size());
  const Offset empty_at_start{orig_start_, orig_start_};
  for (const CharChange& ch : changes) {
    size_t idx = rp;
    Offset a;
    if (ch.change > 0) {
      // Inserted char: shares the alignment of the byte before it.
      a = idx < 1 ? empty_at_start : align_[std::min(idx, align_.size()) - 1];
    } else {
      a = idx < align_.size() ? align_[idx] : (align_.empty() ? empty_at_start : align_.back());
      consume_char();
      for (int32_t k = 0; k < -ch.change; ++k) consume_char();
    }
    size_t before = out.size();
    utf8_append(out, ch.c);
    out_align.insert(out_align.end(), out.size() - before, a);
  }
  normalized_.replace(start, end - start, out);
  align_.erase(align_.begin() + start, align_.begin() + end);
  align_.insert(align_.begin() + start, out_align.begin(), out_align.end());
}

// Decomposition then (optionally) canonical composition, yielding the
// CharChange stream of the unicode-normalization-alignments crate: the first
// char of a decomposition replaces the source char, the others are inserted;
// a composition folds the change of the absorbed char into the composite.
void NormalizedString::unicode_normalize(bool compat, bool compose) {
  const std::string& s = normalized_;
  // Fast path: ASCII is invariant under every normalization form.
  bool ascii = std::all_of(s.begin(), s.end(), [](char c) { return (c & 0x80) == 0; });
  if (ascii) return;

  struct Item {
    char32_t c;
    int32_t change;
    int ccc;
  };
  std::vector<Item> decomposed;
  decomposed.reserve(s.size());
  size_t pending_start = 0;  // first item of the run of non-starters to reorder
  auto sort_pending = [&]() {
    std::stable_sort(decomposed.begin() + pending_start, decomposed.end(),
                     [](const Item& a, const Item& b) { return a.ccc < b.ccc; });
  };
  char32_t buf[32];
  size_t i = 0;
  while (i < s.size()) {
    char32_t c = utf8_next(s, i);
    int n = decompose_char(c, compat, buf);
    for (int k = 0; k < n; ++k) {
      int ccc = combining_class(buf[k]);
      if (ccc == 0) {
        sort_pending();
        decomposed.push_back({buf[k], k > 0 ? 1 : 0, 0});
        pending_start = decomposed.size();
      } else {
        decomposed.push_back({buf[k], k > 0 ? 1 : 0, ccc});
      }
    }
  }
  sort_pending();

  std::vector<CharChange> changes;
  changes.reserve(decomposed.size());
  if (!compose) {
    for (const Item& it : decomposed) changes.push_back({it.c, it.change});
    transform(changes, 0);
    return;
  }

  // Canonical composition, following unicode-normalization's Recompositions.
  bool has_composee = false;
  CharChange composee{0, 0};
  int last_ccc = -1;  // -1: none
  std::vector<CharChange> buffer;
  for (const Item& it : decomposed) {
    CharChange ch{it.c, it.change};
    if (!has_composee) {
      if (it.ccc != 0) {
        changes.push_back(ch);
        continue;
      }
      composee = ch;
      has_composee = true;
      continue;
    }
    if (last_ccc < 0) {
      if (char32_t r = compose_pair(composee.c, ch.c)) {
        composee = {r, composee.change + ch.change - 1};
        continue;
      }
      if (it.ccc == 0) {
        changes.push_back(composee);
        composee = ch;
        continue;
      }
      buffer.push_back(ch);
      last_ccc = it.ccc;
      continue;
    }
    if (last_ccc >= it.ccc) {
      // Blocked from the composee.
      if (it.ccc == 0) {
        changes.push_back(composee);
        changes.insert(changes.end(), buffer.begin(), buffer.end());
        buffer.clear();
        composee = ch;
        last_ccc = -1;
        continue;
      }
      buffer.push_back(ch);
      last_ccc = it.ccc;
      continue;
    }
    if (char32_t r = compose_pair(composee.c, ch.c)) {
      composee = {r, composee.change + ch.change - 1};
      continue;
    }
    buffer.push_back(ch);
    last_ccc = it.ccc;
  }
  if (has_composee) changes.push_back(composee);
  changes.insert(changes.end(), buffer.begin(), buffer.end());
  transform(changes, 0);
}

void NormalizedString::lowercase() {
  // Fast path: nothing to lowercase leaves the alignments untouched.
  {
    size_t i = 0;
    char32_t lc[3];
    bool change = false;
    while (i < normalized_.size() && !change) {
      char32_t c = utf8_next(normalized_, i);
      change = to_lowercase(c, lc) != 1 || lc[0] != c;
    }
    if (!change) return;
  }
  std::vector<CharChange> changes;
  changes.reserve(normalized_.size());
  size_t i = 0;
  char32_t lc[3];
  while (i < normalized_.size()) {
    char32_t c = utf8_next(normalized_, i);
    int n = to_lowercase(c, lc);
    for (int k = 0; k < n; ++k) changes.push_back({lc[k], k > 0 ? 1 : 0});
  }
  transform(changes, 0);
}

void NormalizedString::filter(const std::function<bool(char32_t)>& keep) {
  {
    size_t i = 0;
    bool all = true;
    while (i < normalized_.size() && all) all = keep(utf8_next(normalized_, i));
    if (all) return;  // nothing removed
  }
  // A kept char carries the count of removed chars that follow it; removed
  // chars before the first kept one become the initial offset.
  std::vector<CharChange> changes;
  changes.reserve(normalized_.size());
  int32_t removed = 0;
  size_t removed_start = 0;
  bool have_last = false;
  char32_t last = 0;
  size_t i = 0;
  while (i < normalized_.size()) {
    char32_t c = utf8_next(normalized_, i);
    if (keep(c)) {
      if (have_last) {
        changes.push_back({last, -removed});
      } else {
        removed_start = static_cast<size_t>(removed);
      }
      last = c;
      have_last = true;
      removed = 0;
    } else {
      ++removed;
    }
  }
  if (have_last) changes.push_back({last, -removed});
  transform(changes, removed_start);
}

void NormalizedString::map(const std::function<char32_t(char32_t)>& f) {
  {
    size_t i = 0;
    bool same = true;
    while (i < normalized_.size() && same) {
      char32_t c = utf8_next(normalized_, i);
      same = f(c) == c;
    }
    if (same) return;  // identity on this string
  }
  std::vector<CharChange> changes;
  changes.reserve(normalized_.size());
  size_t i = 0;
  while (i < normalized_.size()) changes.push_back({f(utf8_next(normalized_, i)), 0});
  transform(changes, 0);
}

void NormalizedString::prepend(std::string_view s) {
  if (normalized_.empty() || s.empty()) return;
  // The first prepended char replaces the current first char, which is then
  // re-inserted: everything stays aligned with that first char.
  size_t i = 0;
  char32_t next = utf8_next(normalized_, i);
  std::vector<CharChange> changes;
  size_t j = 0;
  bool first = true;
  while (j < s.size()) {
    changes.push_back({utf8_next(s, j), first ? 0 : 1});
    first = false;
  }
  changes.push_back({next, 1});
  transform_range(0, static_cast<uint32_t>(i), changes, 0);
}

void NormalizedString::strip(bool left, bool right) {
  std::vector<char32_t> chars;
  size_t i = 0;
  while (i < normalized_.size()) chars.push_back(utf8_next(normalized_, i));
  size_t leading = 0, trailing = 0;
  if (left)
    while (leading < chars.size() && is_whitespace(chars[leading])) ++leading;
  if (right)
    while (trailing < chars.size() - leading && is_whitespace(chars[chars.size() - 1 - trailing]))
      ++trailing;
  if (leading == 0 && trailing == 0) return;
  std::vector<CharChange> changes;
  // tokenizers compares a char index with a byte length here; the trailing
  // removal it records only matters for ASCII-only strings, and removing
  // chars at the very end never changes the kept alignments.
  size_t byte_len = normalized_.size();
  for (size_t k = leading; k < chars.size() - trailing; ++k) {
    bool last = (k + trailing + 1 == byte_len);
    changes.push_back({chars[k], last ? -static_cast<int32_t>(trailing) : 0});
  }
  transform(changes, leading);
}

void NormalizedString::replace(const Regex& re, std::string_view content) {
  std::vector<PatternMatch> matches;
  find_matches_regex(re, normalized_, false, matches);
  replace(matches, content);
}

void NormalizedString::replace(const std::vector<PatternMatch>& matches,
                               std::string_view content) {
  bool any = false;
  for (const PatternMatch& m : matches) any |= m.is_match;
  if (!any) return;
  std::string out;
  std::vector<Offset> out_align;
  out.reserve(normalized_.size());
  out_align.reserve(normalized_.size());
  size_t last_end = 0;
  for (const PatternMatch& m : matches) {
    if (!m.is_match) continue;
    out.append(normalized_, last_end, m.start - last_end);
    out_align.insert(out_align.end(), align_.begin() + last_end, align_.begin() + m.start);
    // The match is removed and `content` inserted after it: every new char is
    // aligned with the last byte of the match.
    Offset a = m.end < 1 ? Offset{orig_start_, orig_start_} : align_[m.end - 1];
    out.append(content);
    out_align.insert(out_align.end(), content.size(), a);
    last_end = m.end;
  }
  out.append(normalized_, last_end, std::string::npos);
  out_align.insert(out_align.end(), align_.begin() + last_end, align_.end());
  normalized_ = std::move(out);
  align_ = std::move(out_align);
}

void NormalizedString::split(const std::vector<PatternMatch>& matches, SplitBehavior behavior,
                             std::vector<NormalizedString>& out) const {
  struct Piece {
    uint32_t start, end;
    bool remove;
  };
  std::vector<Piece> pieces;
  pieces.reserve(matches.size());
  switch (behavior) {
    case SplitBehavior::Isolated:
      for (auto& m : matches) pieces.push_back({m.start, m.end, false});
      break;
    case SplitBehavior::Removed:
      for (auto& m : matches) pieces.push_back({m.start, m.end, m.is_match});
      break;
    case SplitBehavior::Contiguous: {
      bool prev_match = false;
      for (auto& m : matches) {
        if (m.is_match == prev_match && !pieces.empty()) {
          pieces.back().end = m.end;
        } else {
          pieces.push_back({m.start, m.end, false});
        }
        prev_match = m.is_match;
      }
      break;
    }
    case SplitBehavior::MergedWithPrevious: {
      bool prev_match = false;
      for (auto& m : matches) {
        if (m.is_match && !prev_match && !pieces.empty()) {
          pieces.back().end = m.end;
        } else {
          pieces.push_back({m.start, m.end, false});
        }
        prev_match = m.is_match;
      }
      break;
    }
    case SplitBehavior::MergedWithNext: {
      bool prev_match = false;
      for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
        if (it->is_match && !prev_match && !pieces.empty()) {
          pieces.back().start = it->start;
        } else {
          pieces.push_back({it->start, it->end, false});
        }
        prev_match = it->is_match;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
    }
  }
  for (const Piece& p : pieces) {
    if (p.remove || p.start == p.end) continue;
    out.push_back(slice(p.start, p.end));
  }
}

void find_matches_regex(const Regex& re, std::string_view s, bool invert,
                        std::vector<PatternMatch>& out) {
  if (s.empty()) {
    out.push_back({0, 0, invert});
    return;
  }
  std::vector<Span> spans;
  re.find_all(s, spans);
  uint32_t prev = 0;
  for (const Span& m : spans) {
    if (prev != m.start) out.push_back({prev, m.start, invert});
    out.push_back({m.start, m.end, !invert});
    prev = m.end;
  }
  if (prev != s.size()) out.push_back({prev, static_cast<uint32_t>(s.size()), invert});
}

void find_matches_char(const std::function<bool(char32_t)>& pred, std::string_view s,
                       std::vector<PatternMatch>& out) {
  if (s.empty()) {
    out.push_back({0, 0, false});
    return;
  }
  uint32_t last_offset = 0;
  size_t i = 0;
  while (i < s.size()) {
    uint32_t b = static_cast<uint32_t>(i);
    char32_t c = utf8_next(s, i);
    if (pred(c)) {
      if (last_offset < b) out.push_back({last_offset, b, false});
      out.push_back({b, static_cast<uint32_t>(i), true});
      last_offset = static_cast<uint32_t>(i);
    }
  }
  if (s.size() > last_offset) out.push_back({last_offset, static_cast<uint32_t>(s.size()), false});
}

}  // namespace vkcls::tok
