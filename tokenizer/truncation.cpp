// Encoding slicing, merging and truncation, following tokenizers'
// Encoding::truncate / merge_with and utils/truncation.rs: a truncated
// encoding keeps its first window and lists the others (stepping by
// max_len - stride) as overflowing; merging two encodings crosses their
// overflowing windows.
#include <algorithm>

#include "tokenizer/components.h"

namespace vkcls::tok {

Encoding encoding_slice(const Encoding& e, size_t start, size_t stop) {
  Encoding r;
  auto cut = [&](const auto& v, auto& out) { out.assign(v.begin() + start, v.begin() + stop); };
  cut(e.ids, r.ids);
  cut(e.type_ids, r.type_ids);
  cut(e.tokens, r.tokens);
  cut(e.offsets, r.offsets);
  cut(e.char_offsets, r.char_offsets);
  cut(e.sequence_ids, r.sequence_ids);
  cut(e.special_tokens_mask, r.special_tokens_mask);
  return r;
}

static void append_fields(Encoding& self, const Encoding& pair) {
  auto cat = [](auto& a, const auto& b) { a.insert(a.end(), b.begin(), b.end()); };
  cat(self.ids, pair.ids);
  cat(self.type_ids, pair.type_ids);
  cat(self.tokens, pair.tokens);
  cat(self.offsets, pair.offsets);
  cat(self.char_offsets, pair.char_offsets);
  cat(self.sequence_ids, pair.sequence_ids);
  cat(self.special_tokens_mask, pair.special_tokens_mask);
}

void encoding_merge(Encoding& self, Encoding pair) {
  if (self.ids.empty() && self.overflowing.empty()) {
    // Merging into nothing (the start of every post-process): just take it.
    self = std::move(pair);
    return;
  }
  // Every overflowing window of ours with the pair and each of its windows,
  // then ourself with each window of the pair: (a + 1) * (b + 1) encodings. When both sides
  // overflow, a tokenizer.json's own tiny max_length makes that quadratic in the texts'
  // lengths (a fuzzed file asked for 2 GB); tokenizers builds them all, vkcls refuses past a
  // bound. One side's windows alone (a long text truncated) stay linear and are not bounded.
  constexpr size_t kMaxWindows = 1024;
  const size_t windows = (self.overflowing.size() + 1) * (pair.overflowing.size() + 1);
  if (!self.overflowing.empty() && !pair.overflowing.empty() && windows > kMaxWindows)
    throw TokenizerError("truncation: a pair cut into " +
                         std::to_string(self.overflowing.size() + 1) + " and " +
                         std::to_string(pair.overflowing.size() + 1) + " windows crosses into " +
                         std::to_string(windows) + " encodings, over the limit of " +
                         std::to_string(kMaxWindows));
  std::vector<Encoding> overflowing;
  for (const Encoding& self_o : self.overflowing) {
    Encoding n = self_o;
    encoding_merge(n, pair);
    overflowing.push_back(std::move(n));
    for (const Encoding& other_o : pair.overflowing) {
      Encoding n2 = self_o;
      encoding_merge(n2, other_o);
      overflowing.push_back(std::move(n2));
    }
  }
  for (const Encoding& other_o : pair.overflowing) {
    Encoding n = self;
    encoding_merge(n, other_o);
    overflowing.push_back(std::move(n));
  }
  append_fields(self, pair);
  self.overflowing = std::move(overflowing);
}

Encoding special_encoding(const std::vector<int32_t>& ids, const std::vector<std::string>& tokens,
                          int32_t type_id) {
  Encoding e;
  size_t n = ids.size();
  e.ids = ids;
  e.tokens = tokens;
  e.type_ids.assign(n, type_id);
  e.offsets.assign(n, Offset{0, 0});
  e.char_offsets.assign(n, Offset{0, 0});
  e.sequence_ids.assign(n, -1);
  e.special_tokens_mask.assign(n, 1);
  return e;
}

void truncate_encoding(Encoding& e, size_t max_len, size_t stride, TruncationSide side) {
  const size_t len = e.ids.size();
  if (max_len >= len) return;
  if (max_len == 0) {
    Encoding whole = std::move(e);
    e = Encoding{};
    e.overflowing.push_back(std::move(whole));
    return;
  }
  if (stride >= max_len)
    throw TokenizerError("truncation: stride (" + std::to_string(stride) +
                         ") must be strictly less than max_length (" + std::to_string(max_len) +
                         ", after removing the special tokens)");
  const size_t step = max_len - stride;
  std::vector<std::pair<size_t, size_t>> parts;
  if (side == TruncationSide::Right) {
    for (size_t start = 0; start < len; start += step) {
      size_t stop = std::min(start + max_len, len);
      parts.push_back({start, stop});
      if (stop == len) break;
    }
  } else {
    // Windows from the end: stops at len, len - step, ... (tokenizers'
    // (0..len).rev().step_by(step)), until a window reaches the start.
    for (size_t stop = len;;) {
      size_t start = stop > max_len ? stop - max_len : 0;
      parts.push_back({start, stop});
      if (start == 0 || stop - 1 < step) break;
      stop -= step;
    }
  }
  Encoding head = encoding_slice(e, parts[0].first, parts[0].second);
  for (size_t k = 1; k < parts.size(); ++k)
    head.overflowing.push_back(encoding_slice(e, parts[k].first, parts[k].second));
  e = std::move(head);
}

void truncate_encodings(Encoding& a, Encoding* b, const TruncationParams& p) {
  if (p.max_length == 0) {
    truncate_encoding(a, 0, p.stride, p.side);
    if (b) truncate_encoding(*b, 0, p.stride, p.side);
    return;
  }
  size_t total = a.ids.size() + (b ? b->ids.size() : 0);
  if (total <= p.max_length) return;
  size_t to_remove = total - p.max_length;
  switch (p.strategy) {
    case TruncationStrategy::LongestFirst:
      if (b) {
        size_t n1 = a.ids.size(), n2 = b->ids.size();
        bool swap = n1 > n2;
        if (swap) std::swap(n1, n2);
        n2 = n1 > p.max_length ? n1 : std::max(n1, p.max_length - n1);
        if (n1 + n2 > p.max_length) {
          n1 = p.max_length / 2;
          n2 = n1 + p.max_length % 2;
        }
        if (swap) std::swap(n1, n2);
        truncate_encoding(a, n1, p.stride, p.side);
        truncate_encoding(*b, n2, p.stride, p.side);
      } else {
        truncate_encoding(a, total - to_remove, p.stride, p.side);
      }
      break;
    case TruncationStrategy::OnlyFirst:
    case TruncationStrategy::OnlySecond: {
      Encoding* target = p.strategy == TruncationStrategy::OnlyFirst ? &a : b;
      if (!target) throw TokenizerError("Truncation error: Second sequence not provided");
      size_t n = target->ids.size();
      if (n <= to_remove)
        throw TokenizerError(
            "Truncation error: Sequence to truncate too short to respect the provided max_length");
      truncate_encoding(*target, n - to_remove, p.stride, p.side);
      break;
    }
  }
}

}  // namespace vkcls::tok
