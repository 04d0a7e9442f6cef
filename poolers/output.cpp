#include "poolers/output.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace vkcls {

namespace {

bool activate(const RequestParams& p, const OutputSpec& s) {
  return p.use_activation.value_or(s.pooler.use_activation);
}

std::string label_name(const OutputSpec& s, size_t i) {
  return i < s.labels.size() ? s.labels[i] : fmt::format("LABEL_{}", i);
}

// A non-finite logit means broken weights or an overflow: report it, never a probability.
bool finite(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}
const char* kNonFinite = "the model produced a non-finite value (NaN or infinity) for this input";

}  // namespace

void check_output_params(Task task, const RequestParams& p, const OutputSpec& s) {
  auto bad = [](const char* field, const std::string& m) {
    return Error(ErrorKind::invalid_input, m, field);
  };
  if (p.top_k < -1)
    throw bad("top_k", fmt::format("top_k: {} must be -1 (all), 0 or a positive count", p.top_k));
  if (p.dimensions && (*p.dimensions < 1 || *p.dimensions > s.hidden_size))
    throw bad("dimensions", fmt::format("dimensions: {} is outside 1..{} (the model's hidden size)",
                                        *p.dimensions, s.hidden_size));
  if (p.stride < 0) throw bad("stride", fmt::format("stride: {} must be >= 0", p.stride));
  if (p.stride > 0 && task != Task::token_classify)
    throw bad("stride", "stride: only token_classify runs windows");
  if (p.stride > 0 && (!p.aggregation || *p.aggregation == Aggregation::none))
    throw bad(
        "stride",
        "stride needs an aggregation of simple, first, average or max (as the pipeline: tokens of "
        "overlapping windows cannot be merged)");
  if (p.aggregation && task != Task::token_classify)
    throw bad("aggregation", "aggregation: only token_classify groups entities");
  if (p.aggregation && !s.tokens_to_string)
    throw bad("aggregation",
              "aggregation: the model folder has no tokenizer to name entity words with");
}

ClassifyResult classify_output(std::vector<float> v, const RequestParams& p, const OutputSpec& s) {
  ClassifyResult r;
  if (!finite(v)) {
    r.error = kNonFinite;
    r.error_kind = ErrorKind::internal;
    return r;
  }
  if (activate(p, s)) apply_activation(s.activation, v, s.pooler.calibration);
  r.label_index = std::max_element(v.begin(), v.end()) - v.begin();
  r.has_label = s.has_labels && r.label_index < int64_t(s.labels.size());
  r.label = label_name(s, size_t(r.label_index));
  r.num_classes = int64_t(v.size());
  if (p.top_k != 0) {
    // the HF text-classification pipeline's order: best first, ties in label order
    std::vector<size_t> order(v.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] > v[b]; });
    if (p.top_k > 0 && size_t(p.top_k) < order.size()) order.resize(size_t(p.top_k));
    for (size_t c : order) r.top_k.push_back({label_name(s, c), v[c], int64_t(c)});
  }
  r.probs = std::move(v);
  return r;
}

ScoreResult score_output(std::vector<float> v, const RequestParams& p, const OutputSpec& s) {
  ScoreResult r;
  if (v.empty() || !finite(v)) {
    r.error = kNonFinite;
    r.error_kind = ErrorKind::internal;
    return r;
  }
  if (activate(p, s)) apply_activation(s.activation, v, s.pooler.calibration);
  r.score = v[0];
  return r;
}

EmbedResult embed_output(std::vector<float> v, const RequestParams& p, const OutputSpec& s) {
  EmbedResult r;
  if (!finite(v)) {
    r.error = kNonFinite;
    r.error_kind = ErrorKind::internal;
    return r;
  }
  std::optional<int64_t> dims = p.dimensions ? p.dimensions : s.pooler.dimensions;
  if (dims && size_t(*dims) < v.size()) v.resize(size_t(*dims));
  if (p.normalize.value_or(activate(p, s))) {
    double n = 0;
    for (float x : v) n += double(x) * x;
    n = std::max(std::sqrt(n), 1e-12);  // torch.nn.functional.normalize's eps
    for (float& x : v) x = float(x / n);
  }
  r.embedding = std::move(v);
  return r;
}

TokenClassifyResult token_classify_output(const std::string& text,
                                          const std::vector<TokenWindow>& windows,
                                          const RequestParams& p, const OutputSpec& s) {
  TokenClassifyResult r;
  const ResolvedPooler& pc = s.pooler;
  const std::vector<int32_t>& picked = pc.returned_token_ids;
  if (picked.empty()) {
    r.labels = s.labels;
  } else {
    for (int32_t k : picked) r.labels.push_back(label_name(s, size_t(k)));
  }
  std::vector<Entity> entities;
  for (const TokenWindow& w : windows) {
    if (!finite(w.logits)) {
      r = {};
      r.error = kNonFinite;
      r.error_kind = ErrorKind::internal;
      return r;
    }
    std::vector<TokenRow> rows;  // aggregation input: the pipeline's softmax over all labels
    for (size_t t : token_rows(pc.tok_pooling, w.ids, pc.step_tag_id)) {
      std::vector<float> row(w.logits.begin() + ptrdiff_t(t * w.width),
                             w.logits.begin() + ptrdiff_t((t + 1) * w.width));
      if (!picked.empty()) {
        std::vector<float> sel;
        for (int32_t k : picked) sel.push_back(row.at(size_t(k)));
        row = std::move(sel);
      }
      if (p.aggregation) {
        TokenRow tr;
        tr.probs = row;
        apply_activation(Activation::softmax, tr.probs);  // the pipeline's own softmax, in double
        tr.token = t < w.tokens.size() ? w.tokens[t] : "";
        if (t < w.offsets.size()) tr.start = w.offsets[t].first, tr.end = w.offsets[t].second;
        tr.special = t < w.special.size() && w.special[t];
        tr.unk = s.unk_id && w.ids[t] == *s.unk_id;
        rows.push_back(std::move(tr));
      }
      if (windows.size() > 1) continue;  // strided windows: entities only
      TokenScore ts;
      if (activate(p, s)) apply_activation(s.activation, row, pc.calibration);
      ts.probs = std::move(row);
      ts.token_id = w.ids[t];
      ts.token = t < w.tokens.size() ? w.tokens[t] : "";
      if (t < w.offsets.size()) ts.start = w.offsets[t].first, ts.end = w.offsets[t].second;
      ts.special = t < w.special.size() && w.special[t];
      r.tokens.push_back(std::move(ts));
    }
    if (p.aggregation) {
      AggregationOptions ao;
      ao.strategy = *p.aggregation;
      ao.ignore_labels = p.ignore_labels;
      ao.subwords = s.subwords;
      std::vector<Entity> e = aggregate_tokens(text, rows, r.labels, ao, s.tokens_to_string);
      entities.insert(entities.end(), e.begin(), e.end());
    }
  }
  r.entities =
      windows.size() > 1 ? merge_overlapping_entities(std::move(entities)) : std::move(entities);
  return r;
}

}  // namespace vkcls
