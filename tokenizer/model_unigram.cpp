// Unigram (SentencePiece): Viterbi over all vocabulary pieces that start at
// each char, best total log-probability wins; chars no piece covers become
// unk with score (min score - 10), and consecutive unks fuse, as in
// tokenizers' Unigram::encode_optimized.
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>

#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace vkcls::tok {
namespace {

constexpr double kUnkPenalty = 10.0;

// Byte trie over the pieces: one hash lookup per (node, byte) edge.
class PieceTrie {
 public:
  PieceTrie() { value_.push_back(-1); }
  void insert(std::string_view key, int32_t id) {
    uint32_t node = 0;
    for (unsigned char c : key) {
      uint64_t k = (static_cast<uint64_t>(node) << 8) | c;
      auto it = edges_.find(k);
      if (it == edges_.end()) {
        uint32_t n = static_cast<uint32_t>(value_.size());
        value_.push_back(-1);
        edges_.emplace(k, n);
        node = n;
      } else {
        node = it->second;
      }
    }
    value_[node] = id;
  }
  // Calls f(id, length) for every piece that is a prefix of `s`, shortest first.
  template <typename F>
  void prefixes(std::string_view s, F&& f) const {
    uint32_t node = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      auto it = edges_.find((static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(s[i]));
      if (it == edges_.end()) return;
      node = it->second;
      if (value_[node] >= 0) f(value_[node], i + 1);
    }
  }

 private:
  std::unordered_map<uint64_t, uint32_t> edges_;
  std::vector<int32_t> value_;
};

class Unigram final : public Model {
 public:
  Unigram(std::vector<std::pair<std::string, double>> vocab, std::optional<int32_t> unk_id,
          bool byte_fallback)
      : pieces_(std::move(vocab)), unk_id_(unk_id), byte_fallback_(byte_fallback) {
    min_score_ = std::numeric_limits<double>::infinity();
    for (size_t id = 0; id < pieces_.size(); ++id) {
      to_id_[pieces_[id].first] = static_cast<int32_t>(id);
      trie_.insert(pieces_[id].first, static_cast<int32_t>(id));
      min_score_ = std::min(min_score_, pieces_[id].second);
    }
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      auto it = to_id_.find(std::string_view(name));
      byte_ids_[b] = it == to_id_.end() ? -1 : it->second;
    }
  }

  void tokenize(std::string_view s, std::vector<Token>& out) const override {
    if (s.empty()) return;
    struct Node {
      int32_t id = 0;
      double score = 0;
      int64_t starts_at = -1;  // -1: not reached yet
    };
    const size_t n = s.size();
    thread_local std::vector<Node> best;
    best.assign(n + 1, Node{});
    const double unk_score = min_score_ - kUnkPenalty;
    size_t pos = 0;
    while (pos < n) {
      const double here = best[pos].score;
      const size_t mblen = std::min(utf8_seq_len(static_cast<unsigned char>(s[pos])), n - pos);
      bool has_single_char = false;
      trie_.prefixes(s.substr(pos), [&](int32_t id, size_t len) {
        Node& t = best[pos + len];
        double cand = here + pieces_[id].second;
        if (t.starts_at < 0 || cand > t.score) t = {id, cand, static_cast<int64_t>(pos)};
        if (len == mblen) has_single_char = true;
      });
      if (!has_single_char) {
        if (!unk_id_) throw TokenizerError("Unigram: text needs the unk token but unk_id is null");
        Node& t = best[pos + mblen];
        double cand = here + unk_score;
        if (t.starts_at < 0 || cand > t.score) t = {*unk_id_, cand, static_cast<int64_t>(pos)};
      }
      pos += mblen;
    }

    // Backtrack; runs of unk are fused into one piece.
    thread_local std::vector<std::pair<size_t, size_t>> pieces;  // reversed [start, end)
    pieces.clear();
    size_t end = n;
    size_t unk_run_end = 0;
    bool in_unk = false;
    while (end > 0) {
      const Node& node = best[end];
      size_t start = static_cast<size_t>(node.starts_at);
      if (unk_id_ && node.id == *unk_id_) {
        if (!in_unk) unk_run_end = end;
        in_unk = true;
      } else {
        if (in_unk) pieces.push_back({end, unk_run_end});
        in_unk = false;
        pieces.push_back({start, end});
      }
      end = start;
    }
    if (in_unk) pieces.push_back({0, unk_run_end});

    for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
      std::string_view piece = s.substr(it->first, it->second - it->first);
      uint32_t b = static_cast<uint32_t>(it->first), e = static_cast<uint32_t>(it->second);
      auto found = to_id_.find(piece);
      if (found != to_id_.end()) {
        out.push_back({found->second, std::string(piece), b, e});
        continue;
      }
      if (byte_fallback_) {
        bool all = true;
        for (unsigned char c : piece) all &= byte_ids_[c] >= 0;
        if (all) {
          // Every byte token spans the whole piece, as in tokenizers.
          for (unsigned char c : piece) out.push_back({byte_ids_[c], pieces_[byte_ids_[c]].first, b, e});
          continue;
        }
      }
      if (!unk_id_) throw TokenizerError("Unigram: unk_id is null");
      // The unk token keeps the text it stands for as its value.
      out.push_back({*unk_id_, std::string(piece), b, e});
    }
  }

  std::optional<int32_t> token_to_id(std::string_view t) const override {
    auto it = to_id_.find(t);
    if (it == to_id_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<std::string> id_to_token(int32_t id) const override {
    if (id < 0 || static_cast<size_t>(id) >= pieces_.size()) return std::nullopt;
    return pieces_[id].first;
  }
  size_t vocab_size() const override { return pieces_.size(); }

 private:
  std::vector<std::pair<std::string, double>> pieces_;
  StrMap to_id_;
  PieceTrie trie_;
  std::optional<int32_t> unk_id_;
  bool byte_fallback_;
  double min_score_;
  int32_t byte_ids_[256];
};

}  // namespace

std::unique_ptr<Model> make_unigram_from_json(const json& j, const std::string& path) {
  const json& jv = json_at(j, "vocab", path);
  if (!jv.is_array()) json_fail(path + ".vocab", "expected an array of [piece, score]");
  if (jv.empty()) json_fail(path + ".vocab", "the vocabulary is empty");
  std::vector<std::pair<std::string, double>> vocab;
  vocab.reserve(jv.size());
  for (size_t i = 0; i < jv.size(); ++i) {
    const json& e = jv[i];
    if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number())
      json_fail(path + ".vocab[" + std::to_string(i) + "]", "expected [piece, score]");
    vocab.emplace_back(e[0].get<std::string>(), e[1].get<double>());
  }
  std::optional<int32_t> unk;
  if (j.contains("unk_id") && !j["unk_id"].is_null()) {
    int64_t u = json_int(j, "unk_id", path);
    if (u < 0 || static_cast<size_t>(u) >= vocab.size())
      json_fail(path + ".unk_id", "unk_id is not in the vocabulary");
    unk = static_cast<int32_t>(u);
  }
  return std::make_unique<Unigram>(std::move(vocab), unk, json_bool(j, "byte_fallback", path, false));
}

}  // namespace vkcls::tok
