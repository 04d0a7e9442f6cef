// vLLM's pooling response bodies (server/protocol.h): classify, pooling, embeddings, score and
// rerank, with usage counts; vectors as JSON lists, base64 or raw bytes (encoding_format).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "server/embed_encoding.h"
#include "server/protocol.h"

namespace vkcls::server {

namespace {

// a JSON list, or base64 of the values' bytes as embed_dtype
json vector_json(const std::vector<float>& v, const EncodingFormat& enc) {
  if (enc.kind == EncodingFormat::Kind::float_list) return json(v);
  std::string bytes;
  append_encoded(bytes, v, enc.dtype, enc.big_endian);
  return base64_encode(bytes);
}

// one pooled output as vLLM's bytes formats carry it: its values and the tensor shape
struct Pooled {
  std::vector<float> values;
  std::vector<size_t> shape;
  int64_t tokens = 0;
};

BinaryResponse bytes_response(const ResponseMeta& m, const std::vector<Pooled>& outs,
                              const EncodingFormat& enc) {
  BinaryResponse r;
  json items = json::array();
  int64_t tokens = 0;
  for (size_t i = 0; i < outs.size(); ++i) {
    const size_t start = r.body.size();
    append_encoded(r.body, outs[i].values, enc.dtype, enc.big_endian);
    items.push_back({{"index", i},
                     {"embed_dtype", embed_dtype_name(enc.dtype)},
                     {"endianness", enc.endianness},
                     {"start", start},
                     {"end", r.body.size()},
                     {"shape", outs[i].shape}});
    tokens += outs[i].tokens;
  }
  if (enc.kind == EncodingFormat::Kind::bytes)
    r.metadata = dump(json{{"id", m.id},
                           {"created", m.created},
                           {"model", m.model},
                           {"data", std::move(items)},
                           {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}});
  return r;
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
        } else if (enc.kind != EncodingFormat::Kind::float_list) {
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

BinaryResponse pooling_bytes_response(const ResponseMeta& m, const Results& results,
                                      const PoolingRequest& req) {
  std::vector<Pooled> outs;
  switch (results.task) {
    case Task::classify:
      for (const ClassifyResult& r : results.classify)
        outs.push_back({r.probs, {r.probs.size()}, r.prompt_tokens});
      break;
    case Task::embed:
      for (const EmbedResult& r : results.embed)
        outs.push_back({r.embedding, {r.embedding.size()}, r.prompt_tokens});
      break;
    case Task::score:
      for (const ScoreResult& r : results.score) outs.push_back({{r.score}, {1}, r.prompt_tokens});
      break;
    case Task::token_classify:
      for (const TokenClassifyResult& r : results.token_classify) {
        Pooled p{{},
                 {r.tokens.size(), r.tokens.empty() ? 0 : r.tokens[0].probs.size()},
                 r.prompt_tokens};
        for (const TokenScore& t : r.tokens)
          p.values.insert(p.values.end(), t.probs.begin(), t.probs.end());
        outs.push_back(std::move(p));
      }
      break;
  }
  return bytes_response(m, outs, req.encoding);
}

BinaryResponse embedding_bytes_response(const ResponseMeta& m,
                                        const std::vector<EmbedResult>& results,
                                        const EncodingFormat& enc) {
  std::vector<Pooled> outs;
  for (const EmbedResult& r : results)
    outs.push_back({r.embedding, {r.embedding.size()}, r.prompt_tokens});
  return bytes_response(m, outs, enc);
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
