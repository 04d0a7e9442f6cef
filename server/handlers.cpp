#include "server/handlers.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
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

json handle_classify(ServerState& s, const json& body, const std::string& rid,
                     const ClientGone& gone) {
  ClassifyRequest req = parse_classify(body, s.limits);
  check_model(s, req.common.model);
  require(s, Task::classify, "model");
  Results r = run(s, make(Task::classify, req.input.to_engine(), req.common.params), gone, "input");
  return classify_response(meta(s, "classify", rid), r.classify);
}

json handle_pooling(ServerState& s, const json& body, const std::string& rid,
                    const ClientGone& gone) {
  PoolingRequest req = parse_pooling(body, s.limits);
  check_model(s, req.common.model);
  Task task = req.task ? *req.task : *task_from_name(s.engine.info().default_task);
  require(s, task, "task");
  Results r = run(s, make(task, req.input.to_engine(), req.common.params), gone, "input");
  return pooling_response(meta(s, "pool", rid), r, req);
}

json handle_embeddings(ServerState& s, const json& body, const std::string& rid,
                       const ClientGone& gone) {
  EmbeddingRequest req = parse_embedding(body, s.limits);
  check_model(s, req.common.model);
  require(s, Task::embed, "model");
  Results r = run(s, make(Task::embed, req.input.to_engine(), req.common.params), gone, "input");
  return embedding_response(meta(s, "embd", rid), r.embed, req.encoding);
}

json handle_score(ServerState& s, const json& body, const std::string& rid,
                  const ClientGone& gone) {
  ScoreRequest req = parse_score(body, s.limits);
  check_model(s, req.common.model);
  require(s, Task::score, "model");
  Results r =
      run(s, make(Task::score, req.pairs(), req.common.params), gone, req.second_name.c_str());
  return score_response(meta(s, "score", rid), r.score);
}

json handle_rerank(ServerState& s, const json& body, const std::string& rid,
                   const ClientGone& gone) {
  RerankRequest req = parse_rerank(body, s.limits);
  check_model(s, req.common.model);
  require(s, Task::score, "model");
  std::vector<TextInput> pairs;
  for (const std::string& d : req.documents) pairs.push_back({req.query, d});
  Results r = run(s, make(Task::score, std::move(pairs), req.common.params), gone, "documents");
  return rerank_response(meta(s, "rerank", rid), req, r.score);
}

json handle_tokenize(ServerState& s, const json& body, const std::string&, const ClientGone&) {
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

json handle_detokenize(ServerState& s, const json& body, const std::string&, const ClientGone&) {
  DetokenizeRequest req = parse_detokenize(body);
  check_model(s, req.model);
  try {
    return json{{"prompt", s.engine.detokenize(
                               req.tokens, false)}};  // vLLM: tokenizer.decode(ids), specials kept
  } catch (const Error& e) {
    throw ApiError(status_of(e.kind()), e.what(), "tokens");
  }
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
