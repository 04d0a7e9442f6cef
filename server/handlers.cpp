#include "server/handlers.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

namespace vkcls::server {

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void check_model(const ServerState& s, const std::optional<std::string>& model) {
  if (model && *model != s.model_name)
    throw ApiError(404, fmt::format("The model `{}` does not exist.", *model), "model");
}

bool supports(const ServerState& s, Task t) {
  const auto& tasks = s.engine.info().tasks;
  return std::find(tasks.begin(), tasks.end(), task_name(t)) != tasks.end();
}

void require(const ServerState& s, Task t, const char* param) {
  if (!supports(s, t))
    throw bad_request(fmt::format("the model '{}' ({}) does not support {}: it supports {}",
                                  s.model_name, s.engine.info().architecture, task_name(t),
                                  fmt::join(s.engine.info().tasks, ", ")),
                      param);
}

// Runs one request on the engine, waiting while watching the client; a failed input fails
// the whole request (as vLLM does): 400 naming the input, 503 for the device.
Results run(ServerState& s, Request req, const ClientGone& gone, const char* param) {
  // a conversation is one input whose errors already name their field ("messages: ...")
  const bool chat = req.inputs.size() == 1 && req.inputs[0].chat;
  if (chat) param = "messages";
  std::shared_ptr<Ticket> t;
  try {
    t = s.engine.submit(std::move(req));
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::overloaded)
      throw ApiError(429, fmt::format("The server is over capacity: {} (--max-queue {})", e.what(),
                                      s.opt.max_queue));
    throw ApiError(status_of(e.kind()), e.what(),
                   e.param().empty() ? std::optional<std::string>(param) : e.param());
  }
  while (!t->wait_for(std::chrono::milliseconds(20)))
    if (gone && gone()) {
      t->cancel();
      s.metrics.add_cancelled(1);
      throw ClientGoneError{};
    }
  Results r = t->take();
  s.metrics.observe_queue(r.queue_seconds);
  auto check = [&](const std::string& error, ErrorKind kind, size_t i) {
    if (error.empty()) return;
    if (kind == ErrorKind::cancelled) throw ClientGoneError{};
    throw ApiError(status_of(kind), chat ? error : fmt::format("{}[{}]: {}", param, i, error),
                   param);
  };
  for (size_t i = 0; i < r.classify.size(); ++i)
    check(r.classify[i].error, r.classify[i].error_kind, i);
  for (size_t i = 0; i < r.token_classify.size(); ++i)
    check(r.token_classify[i].error, r.token_classify[i].error_kind, i);
  for (size_t i = 0; i < r.score.size(); ++i) check(r.score[i].error, r.score[i].error_kind, i);
  for (size_t i = 0; i < r.embed.size(); ++i) check(r.embed[i].error, r.embed[i].error_kind, i);
  return r;
}

Request make(Task task, std::vector<TextInput> inputs, const RequestParams& p) {
  Request r;
  r.task = task;
  r.inputs = std::move(inputs);
  r.params = p;
  return r;
}

// vLLM scores pairs on an embedding model by the cosine similarity of their embeddings
bool bi_encoder(const ServerState& s) {
  return !supports(s, Task::score) && s.engine.info().default_task == task_name(Task::embed);
}

// Embeds both lists of a score request (errors name the list and the index) and scores pair i
// as cos(first[0 or i], second[i]); each text's prompt tokens count once.
std::vector<ScoreResult> embedding_scores(ServerState& s, const std::vector<std::string>& first,
                                          const std::string& first_name,
                                          const std::vector<std::string>& second,
                                          const std::string& second_name, RequestParams p,
                                          const ClientGone& gone) {
  if (p.use_activation)
    throw bad_request(
        "use_activation: this model scores by the cosine similarity of its "
        "embeddings, which has no activation",
        "use_activation");
  for (auto [name, k] : {std::pair{"max_tokens_per_query", p.max_tokens_per_query},
                         std::pair{"max_tokens_per_doc", p.max_tokens_per_doc}})
    if (k > 0)
      throw bad_request(fmt::format("{}: an embedding model scores whole texts", name), name);
  auto embed = [&](const std::vector<std::string>& texts, const std::string& name) {
    std::vector<TextInput> in;
    for (const std::string& t : texts) in.push_back({t});
    return run(s, make(Task::embed, std::move(in), p), gone, name.c_str()).embed;
  };
  const std::vector<EmbedResult> a = embed(first, first_name), b = embed(second, second_name);
  std::vector<ScoreResult> out(b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    const EmbedResult& q = a[a.size() == 1 ? 0 : i];
    double dot = 0, qq = 0, dd = 0;
    for (size_t j = 0; j < q.embedding.size() && j < b[i].embedding.size(); ++j) {
      dot += double(q.embedding[j]) * b[i].embedding[j];
      qq += double(q.embedding[j]) * q.embedding[j];
      dd += double(b[i].embedding[j]) * b[i].embedding[j];
    }
    out[i].score = qq > 0 && dd > 0 ? float(dot / std::sqrt(qq * dd)) : 0.f;
    out[i].prompt_tokens = b[i].prompt_tokens + (a.size() == 1 && i > 0 ? 0 : q.prompt_tokens);
  }
  return out;
}

ResponseMeta meta(const ServerState& s, const char* prefix, const std::string& rid) {
  return {fmt::format("{}-{}", prefix, rid), s.model_name, unix_now()};
}

}  // namespace

ServerState::ServerState(Engine& e, const ServerOptions& o) : engine(e), opt(o) {
  namespace fs = std::filesystem;
  model_name = !o.served_model_name.empty()
                   ? o.served_model_name
                   : fs::path(o.model_dir).lexically_normal().filename().string();
  if (model_name.empty() || model_name == ".")
    model_name = fs::path(o.model_dir).lexically_normal().parent_path().filename().string();
  created = unix_now();
  limits.max_inputs_per_request = o.max_inputs_per_request;
  limits.trust_request_chat_template = o.trust_request_chat_template;
}

Reply handle_classify(ServerState& s, const json& body, const std::string& rid,
                      const ClientGone& gone) {
  ClassifyRequest req = parse_classify(body, s.limits);
  check_model(s, req.common.model);
  require(s, Task::classify, "model");
  Results r = run(s, make(Task::classify, req.input.to_engine(), req.common.params), gone, "input");
  return classify_response(meta(s, "classify", rid), r.classify);
}

Reply handle_pooling(ServerState& s, const json& body, const std::string& rid,
                     const ClientGone& gone) {
  PoolingRequest req = parse_pooling(body, s.limits);
  check_model(s, req.common.model);
  Task task = req.task ? *req.task : *task_from_name(s.engine.info().default_task);
  require(s, task, "task");
  Results r = run(s, make(task, req.input.to_engine(), req.common.params), gone, "input");
  if (req.encoding.binary()) return pooling_bytes_response(meta(s, "pool", rid), r, req);
  return pooling_response(meta(s, "pool", rid), r, req);
}

Reply handle_embeddings(ServerState& s, const json& body, const std::string& rid,
                        const ClientGone& gone) {
  EmbeddingRequest req = parse_embedding(body, s.limits);
  check_model(s, req.common.model);
  require(s, Task::embed, "model");
  Results r = run(s, make(Task::embed, req.input.to_engine(), req.common.params), gone, "input");
  if (req.encoding.binary())
    return embedding_bytes_response(meta(s, "embd", rid), r.embed, req.encoding);
  return embedding_response(meta(s, "embd", rid), r.embed, req.encoding);
}

Reply handle_score(ServerState& s, const json& body, const std::string& rid,
                   const ClientGone& gone) {
  ScoreRequest req = parse_score(body, s.limits);
  check_model(s, req.common.model);
  if (bi_encoder(s))
    return score_response(meta(s, "score", rid),
                          embedding_scores(s, req.first, req.first_name, req.second,
                                           req.second_name, req.common.params, gone));
  require(s, Task::score, "model");
  Results r =
      run(s, make(Task::score, req.pairs(), req.common.params), gone, req.second_name.c_str());
  return score_response(meta(s, "score", rid), r.score);
}

Reply handle_rerank(ServerState& s, const json& body, const std::string& rid,
                    const ClientGone& gone) {
  RerankRequest req = parse_rerank(body, s.limits);
  check_model(s, req.common.model);
  if (bi_encoder(s))
    return rerank_response(meta(s, "rerank", rid), req,
                           embedding_scores(s, {req.query}, "query", req.documents, "documents",
                                            req.common.params, gone));
  require(s, Task::score, "model");
  std::vector<TextInput> pairs;
  for (const std::string& d : req.documents) pairs.push_back({req.query, d});
  Results r = run(s, make(Task::score, std::move(pairs), req.common.params), gone, "documents");
  return rerank_response(meta(s, "rerank", rid), req, r.score);
}

Reply handle_tokenize(ServerState& s, const json& body, const std::string&, const ClientGone&) {
  TokenizeRequest req = parse_tokenize(body);
  check_model(s, req.model);
  TokenizeResult t = s.engine.tokenize(req.prompt, req.add_special_tokens);
  json out;
  out["count"] = t.ids.size();
  out["max_model_len"] = s.engine.info().max_model_len;
  out["tokens"] = t.ids;
  out["token_strs"] = req.return_token_strs ? json(t.tokens) : json(nullptr);
  return out;
}

Reply handle_detokenize(ServerState& s, const json& body, const std::string&, const ClientGone&) {
  DetokenizeRequest req = parse_detokenize(body);
  check_model(s, req.model);
  try {
    return json{{"prompt", s.engine.detokenize(
                               req.tokens, false)}};  // vLLM: tokenizer.decode(ids), specials kept
  } catch (const Error& e) {
    throw ApiError(status_of(e.kind()), e.what(), "tokens");
  }
}

Reply handle_invocations(ServerState& s, const json& body, const std::string& rid,
                         const ClientGone& gone) {
  auto has = [&](const char* k) { return body.contains(k); };
  const bool scores = supports(s, Task::score) || bi_encoder(s);
  if (scores && has("query") && has("documents")) return handle_rerank(s, body, rid, gone);
  if (scores && ((has("text_1") && has("text_2")) || (has("data_1") && has("data_2")) ||
                 (has("queries") && has("documents"))))
    return handle_score(s, body, rid, gone);
  // vLLM registers the embeddings route for embedding models and classify for classifiers;
  // every vkcls model can pool an embedding, so the model's own task decides
  const Task task = *task_from_name(s.engine.info().default_task);
  if (has("input") || has("messages")) {
    if (task == Task::embed)  // /v1/embeddings takes no conversation; /pooling embeds one
      return has("messages") ? handle_pooling(s, body, rid, gone)
                             : handle_embeddings(s, body, rid, gone);
    if (task == Task::classify || task == Task::score) return handle_classify(s, body, rid, gone);
    return handle_pooling(s, body, rid, gone);
  }
  std::vector<std::string> expected;
  if (task == Task::embed) expected.push_back("EmbeddingRequest");
  if (task == Task::classify || task == Task::score) expected.push_back("ClassificationRequest");
  if (scores) expected.insert(expected.end(), {"ScoreRequest", "RerankRequest"});
  expected.push_back("PoolingRequest");
  throw bad_request(fmt::format("Cannot find suitable handler for request. Expected one of: {}",
                                fmt::join(expected, ", ")));
}

json models_response(const ServerState& s) {
  json model{{"id", s.model_name},
             {"object", "model"},
             {"created", s.created},
             {"owned_by", "vkcls"},
             {"root", s.opt.model_dir},
             {"parent", nullptr},
             {"max_model_len", s.engine.info().max_model_len},
             {"permission", json::array()}};
  return json{{"object", "list"}, {"data", json::array({model})}};
}

}  // namespace vkcls::server
