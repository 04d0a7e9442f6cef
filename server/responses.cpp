// vLLM's pooling response bodies (server/protocol.h): classify, pooling, embeddings, score and
// rerank, with usage counts; vectors as JSON lists or base64 (encoding_format).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "server/protocol.h"

namespace vkcls::server {

namespace {

std::string base64_encode(const uint8_t* p, size_t n) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = uint32_t(p[i]) << 16 | uint32_t(p[i + 1]) << 8 | p[i + 2];
    out += tbl[v >> 18 & 63], out += tbl[v >> 12 & 63], out += tbl[v >> 6 & 63], out += tbl[v & 63];
  }
  if (i + 1 == n) {
    uint32_t v = uint32_t(p[i]) << 16;
    out += tbl[v >> 18 & 63], out += tbl[v >> 12 & 63], out += "==";
  } else if (i + 2 == n) {
    uint32_t v = uint32_t(p[i]) << 16 | uint32_t(p[i + 1]) << 8;
    out += tbl[v >> 18 & 63], out += tbl[v >> 12 & 63], out += tbl[v >> 6 & 63], out += '=';
  }
  return out;
}

// float -> bfloat16 / float16 bits, rounding to nearest even (torch's .to()); NaN stays NaN
uint16_t to_bfloat16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t(u >> 16 | 0x40);
  return uint16_t((u + 0x7fffu + (u >> 16 & 1)) >> 16);
}

uint16_t to_float16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t sign = u >> 16 & 0x8000u, a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return uint16_t(sign | 0x7e00u);   // NaN
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds past 65504: infinity
  if (a < 0x38800000u) {  // a subnormal half (or zero): round a * 2^24 to an integer
    const float scaled = std::fabs(f) * 16777216.f;            // exact: a power-of-two scale
    return uint16_t(sign | uint32_t(std::nearbyint(scaled)));  // default mode: to nearest even
  }
  const uint32_t m = a + 0xfffu + (a >> 13 & 1);  // round the 13 dropped bits to nearest even
  return uint16_t(sign | ((m - 0x38000000u) >> 13));
}

// float32 values: a JSON list, or base64 of their bytes as embed_dtype, little-endian unless
// big_endian
json vector_json(const std::vector<float>& v, const EncodingFormat& enc) {
  if (!enc.base64) return json(v);
  const size_t w = enc.dtype == EncodingFormat::DType::float32 ? 4 : 2;
  std::vector<uint8_t> bytes(v.size() * w);
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t u;
    if (enc.dtype == EncodingFormat::DType::float32)
      std::memcpy(&u, &v[i], 4);
    else
      u = enc.dtype == EncodingFormat::DType::float16 ? to_float16(v[i]) : to_bfloat16(v[i]);
    for (size_t b = 0; b < w; ++b)
      bytes[i * w + (enc.big_endian ? w - 1 - b : b)] = uint8_t(u >> (8 * b));
  }
  return base64_encode(bytes.data(), bytes.size());
}

json list_response(const ResponseMeta& m, json data, int64_t tokens) {
  return json{{"id", m.id},       {"object", "list"},        {"created", m.created},
              {"model", m.model}, {"data", std::move(data)}, {"usage", usage_json(tokens)}};
}

json entities_json(const std::vector<EntitySpan>& ents, bool per_token) {
  json out = json::array();
  for (const EntitySpan& e : ents) {
    json j;
    j[per_token ? "entity" : "entity_group"] = e.entity;
    j["score"] = e.score;
    if (per_token) j["index"] = e.index;
    j["word"] = e.word;
    j["start"] = e.start;
    j["end"] = e.end;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

json usage_json(int64_t prompt_tokens) {
  return json{{"prompt_tokens", prompt_tokens},
              {"total_tokens", prompt_tokens},
              {"completion_tokens", 0},
              {"prompt_tokens_details", nullptr}};
}

json classify_response(const ResponseMeta& m, const std::vector<ClassifyResult>& results) {
  json data = json::array();
  int64_t tokens = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    const ClassifyResult& r = results[i];
    json d;
    d["index"] = i;
    d["label"] = r.label;
    d["probs"] = r.probs;
    d["num_classes"] = r.num_classes;
    if (!r.top_k.empty()) {
      json tk = json::array();
      for (const LabelScore& l : r.top_k) tk.push_back({{"label", l.label}, {"score", l.score}});
      d["top_k"] = std::move(tk);
    }
    data.push_back(std::move(d));
    tokens += r.prompt_tokens;
  }
  return list_response(m, std::move(data), tokens);
}

json pooling_response(const ResponseMeta& m, const Results& results, const PoolingRequest& req) {
  const EncodingFormat& enc = req.encoding;
  const std::optional<Aggregation>& agg = req.common.params.aggregation;
  json data = json::array();
  int64_t tokens = 0;
  auto item = [&](json d) {
    data.push_back({{"index", data.size()}, {"object", "pooling"}, {"data", std::move(d)}});
  };
  switch (results.task) {
    case Task::classify:
      for (const ClassifyResult& r : results.classify)
        item(vector_json(r.probs, enc)), tokens += r.prompt_tokens;
      break;
    case Task::embed:
      for (const EmbedResult& r : results.embed)
        item(vector_json(r.embedding, enc)), tokens += r.prompt_tokens;
      break;
    case Task::score:
      for (const ScoreResult& r : results.score)
        item(vector_json({r.score}, enc)), tokens += r.prompt_tokens;
      break;
    case Task::token_classify:
      for (const TokenClassifyResult& r : results.token_classify) {
        tokens += r.prompt_tokens;
        if (agg) {
          item(entities_json(r.entities, *agg == Aggregation::none));
        } else if (enc.base64) {
          std::vector<float> flat;
          for (const TokenScore& s : r.tokens)
            flat.insert(flat.end(), s.probs.begin(), s.probs.end());
          item(vector_json(flat, enc));
        } else {
          json rows = json::array();
          for (const TokenScore& s : r.tokens) rows.push_back(s.probs);
          item(std::move(rows));
        }
      }
      break;
  }
  return list_response(m, std::move(data), tokens);
}

json embedding_response(const ResponseMeta& m, const std::vector<EmbedResult>& results,
                        const EncodingFormat& enc) {
  json data = json::array();
  int64_t tokens = 0;
  for (const EmbedResult& r : results) {
    data.push_back({{"index", data.size()},
                    {"object", "embedding"},
                    {"embedding", vector_json(r.embedding, enc)}});
    tokens += r.prompt_tokens;
  }
  return list_response(m, std::move(data), tokens);
}

json score_response(const ResponseMeta& m, const std::vector<ScoreResult>& results) {
  json data = json::array();
  int64_t tokens = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    data.push_back({{"index", i}, {"object", "score"}, {"score", results[i].score}});
    tokens += results[i].prompt_tokens;
  }
  return list_response(m, std::move(data), tokens);
}

json rerank_response(const ResponseMeta& m, const RerankRequest& req,
                     const std::vector<ScoreResult>& results) {
  std::vector<size_t> order(results.size());
  int64_t tokens = 0;
  for (size_t i = 0; i < order.size(); ++i) order[i] = i, tokens += results[i].prompt_tokens;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return results[x].score > results[y].score; });
  if (req.top_n > 0 && size_t(req.top_n) < order.size()) order.resize(size_t(req.top_n));
  json out = json::array();
  for (size_t i : order) {
    json item;
    item["index"] = i;
    if (req.return_documents) item["document"] = {{"text", req.documents[i]}};
    item["relevance_score"] = results[i].score;
    out.push_back(std::move(item));
  }
  return json{{"id", m.id},
              {"model", m.model},
              {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}},
              {"results", std::move(out)}};
}

}  // namespace vkcls::server
