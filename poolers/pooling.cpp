#include "poolers/pooling.h"

#include <algorithm>
#include <cctype>

namespace vkcls {

const char* seq_pooling_name(SeqPooling p) {
  switch (p) {
    case SeqPooling::cls:
      return "CLS";
    case SeqPooling::mean:
      return "MEAN";
    case SeqPooling::last:
      return "LAST";
  }
  return "?";
}

const char* tok_pooling_name(TokPooling p) {
  return p == TokPooling::all ? "ALL" : "STEP";
}

static std::string upper(std::string s) {
  for (char& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::optional<SeqPooling> seq_pooling_from_name(const std::string& name) {
  std::string n = upper(name);
  if (n == "CLS") return SeqPooling::cls;
  if (n == "MEAN") return SeqPooling::mean;
  if (n == "LAST") return SeqPooling::last;
  return std::nullopt;
}

std::optional<TokPooling> tok_pooling_from_name(const std::string& name) {
  std::string n = upper(name);
  if (n == "ALL") return TokPooling::all;
  if (n == "STEP") return TokPooling::step;
  return std::nullopt;
}

std::pair<int32_t, int32_t> pooled_rows(SeqPooling p, const std::vector<int32_t>& ids,
                                        std::optional<int32_t> pad_id) {
  const int32_t n = int32_t(ids.size());
  if (n == 0) return {0, 0};
  switch (p) {
    case SeqPooling::cls:
      return {0, 1};
    case SeqPooling::mean:
      return {0, n};
    case SeqPooling::last: {
      if (!pad_id) return {n - 1, n};
      // transformers: argmax(arange(n) * (ids != pad)): the rightmost non-pad token, 0 if none
      int32_t at = 0;
      for (int32_t i = n - 1; i >= 0; --i)
        if (ids[size_t(i)] != *pad_id) {
          at = i;
          break;
        }
      return {at, at + 1};
    }
  }
  return {0, 1};
}

std::vector<size_t> token_rows(TokPooling p, const std::vector<int32_t>& ids,
                               std::optional<int32_t> step_tag_id) {
  std::vector<size_t> rows;
  for (size_t i = 0; i < ids.size(); ++i)
    if (p == TokPooling::all || !step_tag_id || ids[i] == *step_tag_id) rows.push_back(i);
  return rows;
}

}  // namespace vkcls
