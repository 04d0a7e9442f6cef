// The routes of vkcls serve: each takes a parsed JSON body, runs it through the Engine (one
// submit, waiting while watching for the client to go away) and returns the response body.
// Errors are thrown as ApiError (server/protocol.h). No sockets here; server/http.cpp calls these.
#pragma once
#include <atomic>
#include <functional>
#include <string>

#include "server/metrics.h"
#include "server/protocol.h"
#include "server/server.h"
#include "vkcls/engine.h"

namespace vkcls::server {

struct ServerState {
  ServerState(Engine& e, const ServerOptions& o);
  Engine& engine;
  const ServerOptions& opt;
  std::string model_name;
  int64_t created = 0;
  Limits limits;
  Metrics metrics;
};

// true once the client has disconnected (its work is then cancelled)
using ClientGone = std::function<bool()>;
// Thrown when the client went away: nobody reads the response.
struct ClientGoneError {};

// A route's answer: a JSON body, or raw bytes (encoding_format bytes / bytes_only)
struct Reply {
  Reply(json j) : body(std::move(j)) {}  // NOLINT: every JSON route returns its body
  Reply(BinaryResponse b) : binary(std::move(b)) {}
  json body;
  std::optional<BinaryResponse> binary;
};

using Handler = Reply (*)(ServerState& s, const json& body, const std::string& request_id,
                          const ClientGone& gone);
Reply handle_classify(ServerState& s, const json& body, const std::string& rid,
                      const ClientGone& gone);
Reply handle_pooling(ServerState& s, const json& body, const std::string& rid,
                     const ClientGone& gone);
Reply handle_score(ServerState& s, const json& body, const std::string& rid,
                   const ClientGone& gone);
Reply handle_rerank(ServerState& s, const json& body, const std::string& rid,
                    const ClientGone& gone);
Reply handle_embeddings(ServerState& s, const json& body, const std::string& rid,
                        const ClientGone& gone);
Reply handle_tokenize(ServerState& s, const json& body, const std::string& rid,
                      const ClientGone& gone);
Reply handle_detokenize(ServerState& s, const json& body, const std::string& rid,
                        const ClientGone& gone);
// SageMaker's POST /invocations, as vLLM: the route the body's fields name among those the
// model serves (query + documents: rerank; text_1/text_2, data_1/data_2 or queries/documents:
// score; input or messages: embeddings, else classify, else pooling)
Reply handle_invocations(ServerState& s, const json& body, const std::string& rid,
                         const ClientGone& gone);
json models_response(const ServerState& s);

}  // namespace vkcls::server
