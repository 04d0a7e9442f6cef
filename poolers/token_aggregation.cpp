// Mirrors transformers/pipelines/token_classification.py function by function:
// gather_pre_entities, aggregate, aggregate_word(s), group_sub_entities, get_tag,
// group_entities, aggregate_overlapping_entities.
#include "poolers/token_aggregation.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace vkcls {

namespace {

struct PreEntity {
  std::string word;
  const std::vector<float>* scores;
  int64_t start, end, index;
  bool is_subword;
};

// Byte position of every code point of s, plus s.size() at the end: Python str indexing.
std::vector<size_t> code_point_starts(std::string_view s) {
  std::vector<size_t> at;
  for (size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) at.push_back(i);
  at.push_back(s.size());
  return at;
}

// s[a:b] in code points, clamped like Python slicing.
std::string_view slice(std::string_view s, const std::vector<size_t>& at, int64_t a, int64_t b) {
  int64_t n = int64_t(at.size()) - 1;
  a = std::clamp<int64_t>(a, 0, n);
  b = std::clamp<int64_t>(b, a, n);
  return s.substr(at[a], at[b] - at[a]);
}

size_t code_point_count(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

size_t argmax(const std::vector<float>& v) {
  return size_t(std::max_element(v.begin(), v.end()) - v.begin());
}

const std::string& label_of(const std::vector<std::string>& labels, size_t i) {
  if (i >= labels.size())
    throw std::invalid_argument(fmt::format(
        "token scores have {} columns but the model has {} labels", i + 1, labels.size()));
  return labels[i];
}

std::vector<PreEntity> gather_pre_entities(std::string_view text,
                                           const std::vector<TokenRow>& tokens,
                                           SubwordMarking marking) {
  std::vector<size_t> at = code_point_starts(text);
  std::vector<PreEntity> out;
  for (size_t idx = 0; idx < tokens.size(); ++idx) {
    const TokenRow& t = tokens[idx];
    if (t.special) continue;
    std::string_view word_ref = slice(text, at, t.start, t.end);
    PreEntity p{t.token, &t.probs, t.start, t.end, int64_t(idx), false};
    if (marking == SubwordMarking::Prefix) {
      p.is_subword = code_point_count(t.token) != code_point_count(word_ref);
    } else {
      std::string_view around = slice(text, at, t.start - 1, t.start + 1);
      p.is_subword = t.start > 0 && around.find(' ') == std::string_view::npos;
    }
    if (t.unk) {
      p.word = std::string(word_ref);
      p.is_subword = false;
    }
    out.push_back(std::move(p));
  }
  return out;
}

// One word (a token and its subwords) -> one entity with one label.
Entity aggregate_word(const std::vector<const PreEntity*>& word, Aggregation strategy,
                      const std::vector<std::string>& labels,
                      const TokensToString& tokens_to_string) {
  std::vector<std::string> pieces;
  for (const PreEntity* p : word) pieces.push_back(p->word);
  Entity e;
  e.word = tokens_to_string(pieces);
  e.start = word.front()->start;
  e.end = word.back()->end;
  if (strategy == Aggregation::first) {
    size_t i = argmax(*word.front()->scores);
    e.entity = label_of(labels, i);
    e.score = (*word.front()->scores)[i];
  } else if (strategy == Aggregation::max) {
    const PreEntity* best = word.front();  // the first token with the highest top score
    for (const PreEntity* p : word)
      if (*std::max_element(p->scores->begin(), p->scores->end()) >
          *std::max_element(best->scores->begin(), best->scores->end()))
        best = p;
    size_t i = argmax(*best->scores);
    e.entity = label_of(labels, i);
    e.score = (*best->scores)[i];
  } else {  // Average
    std::vector<double> mean(word.front()->scores->size(), 0.0);
    for (const PreEntity* p : word)
      for (size_t c = 0; c < mean.size(); ++c) mean[c] += (*p->scores)[c];
    std::vector<float> avg(mean.size());
    for (size_t c = 0; c < mean.size(); ++c) avg[c] = float(mean[c] / double(word.size()));
    size_t i = argmax(avg);
    e.entity = label_of(labels, i);
    e.score = avg[i];
  }
  return e;
}

std::vector<Entity> aggregate_words(const std::vector<PreEntity>& pre, Aggregation strategy,
                                    const std::vector<std::string>& labels,
                                    const TokensToString& tokens_to_string) {
  std::vector<Entity> out;
  std::vector<const PreEntity*> group;
  for (const PreEntity& p : pre) {
    if (!group.empty() && !p.is_subword) {
      out.push_back(aggregate_word(group, strategy, labels, tokens_to_string));
      group.clear();
    }
    group.push_back(&p);
  }
  if (!group.empty()) out.push_back(aggregate_word(group, strategy, labels, tokens_to_string));
  return out;
}

// "B-PER" -> (B, PER); "I-PER" -> (I, PER); anything else -> (I, label).
std::pair<char, std::string> get_tag(const std::string& name) {
  if (name.rfind("B-", 0) == 0) return {'B', name.substr(2)};
  if (name.rfind("I-", 0) == 0) return {'I', name.substr(2)};
  return {'I', name};
}

Entity group_sub_entities(const std::vector<Entity>& group,
                          const TokensToString& tokens_to_string) {
  Entity g;
  const std::string& first = group.front().entity;
  size_t dash = first.find('-');  // python: entity.split("-", 1)[-1]
  g.entity = dash == std::string::npos ? first : first.substr(dash + 1);
  double sum = 0;
  std::vector<std::string> words;
  for (const Entity& e : group) {
    sum += e.score;
    words.push_back(e.word);
  }
  g.score = float(sum / double(group.size()));
  g.word = tokens_to_string(words);
  g.start = group.front().start;
  g.end = group.back().end;
  return g;
}

std::vector<Entity> group_entities(const std::vector<Entity>& entities,
                                   const TokensToString& tokens_to_string) {
  std::vector<Entity> groups, current;
  for (const Entity& e : entities) {
    if (!current.empty()) {
      auto [bi, tag] = get_tag(e.entity);
      auto [last_bi, last_tag] = get_tag(current.back().entity);
      if (!(tag == last_tag && bi != 'B')) {
        groups.push_back(group_sub_entities(current, tokens_to_string));
        current.clear();
      }
    }
    current.push_back(e);
  }
  if (!current.empty()) groups.push_back(group_sub_entities(current, tokens_to_string));
  return groups;
}

}  // namespace

Aggregation aggregation_from_string(std::string_view name) {
  if (name == "none") return Aggregation::none;
  if (name == "simple") return Aggregation::simple;
  if (name == "first") return Aggregation::first;
  if (name == "average") return Aggregation::average;
  if (name == "max") return Aggregation::max;
  throw std::invalid_argument(
      fmt::format("aggregation: '{}' is not none, simple, first, average or max", name));
}

std::vector<Entity> aggregate_tokens(std::string_view text, const std::vector<TokenRow>& tokens,
                                     const std::vector<std::string>& labels,
                                     const AggregationOptions& options,
                                     const TokensToString& tokens_to_string) {
  std::vector<PreEntity> pre = gather_pre_entities(text, tokens, options.subwords);
  std::vector<Entity> entities;
  if (options.strategy == Aggregation::none || options.strategy == Aggregation::simple) {
    for (const PreEntity& p : pre) {
      size_t i = argmax(*p.scores);
      entities.push_back({label_of(labels, i), (*p.scores)[i], p.index, p.word, p.start, p.end});
    }
  } else {
    entities = aggregate_words(pre, options.strategy, labels, tokens_to_string);
  }
  if (options.strategy != Aggregation::none) entities = group_entities(entities, tokens_to_string);
  const auto& ignore = options.ignore_labels;
  std::erase_if(entities, [&](const Entity& e) {
    return std::find(ignore.begin(), ignore.end(), e.entity) != ignore.end();
  });
  return entities;
}

std::vector<Entity> merge_overlapping_entities(std::vector<Entity> entities) {
  if (entities.empty()) return entities;
  std::stable_sort(entities.begin(), entities.end(),
                   [](const Entity& a, const Entity& b) { return a.start < b.start; });
  std::vector<Entity> out;
  Entity prev = entities.front();
  for (const Entity& e : entities) {
    if (prev.start <= e.start && e.start < prev.end) {
      int64_t len = e.end - e.start, prev_len = prev.end - prev.start;
      if (len > prev_len || (len == prev_len && e.score > prev.score)) prev = e;
    } else {
      out.push_back(prev);
      prev = e;
    }
  }
  out.push_back(prev);
  return out;
}

}  // namespace vkcls
