// NormalizedString: a piece of the input text being normalized, with an
// alignment from every normalized byte back to the original bytes it came
// from, exactly as tokenizers' NormalizedString keeps it. All offsets stored
// here are absolute byte offsets into the full original input, so slices and
// tokens map straight back to the user's text.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/regex.h"
#include "tokenizer/tokenizer.h"

namespace vkcls::tok {

// One char of a transformation: the new code point and how it relates to the
// current string (tokenizers' `(char, isize)`):
//    0  replaces the next current char,
//    1  is inserted (aligned with the previous byte),
//   -N  replaces the next current char and removes the N chars after it.
struct CharChange {
  char32_t c;
  int32_t change;
};

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// One piece produced by a pattern: byte range in the normalized string and
// whether it is a match of the pattern.
struct PatternMatch {
  uint32_t start, end;
  bool is_match;
};

class NormalizedString {
 public:
  NormalizedString() = default;
  // The whole input (or a segment of it starting at absolute byte `shift`).
  explicit NormalizedString(std::string_view original, uint32_t shift = 0);

  const std::string& get() const { return normalized_; }
  bool empty() const { return normalized_.empty(); }
  size_t size() const { return normalized_.size(); }
  // Absolute original byte range this string covers.
  Offset original_range() const { return {orig_start_, orig_end_}; }

  // Maps a normalized byte range to the absolute original range
  // (tokenizers' convert_offsets(Range::Normalized)). An empty range maps to
  // itself shifted, as tokenizers does. Returns false when out of range.
  bool to_original(uint32_t start, uint32_t end, Offset& out) const;

  // Sub-string by normalized byte range (must be on char boundaries).
  NormalizedString slice(uint32_t start, uint32_t end) const;

  // Replaces normalized bytes [start, end) with `changes` (see CharChange);
  // `initial_offset` chars at the start of the range are removed first.
  void transform_range(uint32_t start, uint32_t end, const std::vector<CharChange>& changes,
                       size_t initial_offset);
  void transform(const std::vector<CharChange>& changes, size_t initial_offset) {
    transform_range(0, static_cast<uint32_t>(normalized_.size()), changes, initial_offset);
  }

  // Normalizations, each keeping the alignments.
  void nfd() { unicode_normalize(false, false); }
  void nfkd() { unicode_normalize(true, false); }
  void nfc() { unicode_normalize(false, true); }
  void nfkc() { unicode_normalize(true, true); }
  void lowercase();
  void filter(const std::function<bool(char32_t)>& keep);
  void map(const std::function<char32_t(char32_t)>& f);
  void prepend(std::string_view s);
  void strip(bool left, bool right);
  // Replaces every match of `re` (or every `is_match` piece) by `content`.
  void replace(const Regex& re, std::string_view content);
  void replace(const std::vector<PatternMatch>& matches, std::string_view content);

  // Splits on pattern matches according to `behavior` (tokenizers' split);
  // empty pieces are dropped by the caller (PreTokenizedString).
  void split(const std::vector<PatternMatch>& matches, SplitBehavior behavior,
             std::vector<NormalizedString>& out) const;

 private:
  void unicode_normalize(bool compat, bool compose);

  std::string normalized_;
  std::vector<Offset> align_;  // per normalized byte: absolute original range
  uint32_t orig_start_ = 0, orig_end_ = 0;
};

// Pattern matchers producing the (offsets, is_match) list of tokenizers'
// Pattern::find_matches over `s`.
void find_matches_regex(const Regex& re, std::string_view s, bool invert,
                        std::vector<PatternMatch>& out);
void find_matches_char(const std::function<bool(char32_t)>& pred, std::string_view s,
                       std::vector<PatternMatch>& out);

}  // namespace vkcls::tok
