// vkcls serve: an HTTP server with vLLM's pooling API (a drop-in for `vllm serve` with a
// pooling model), on top of one vkcls::Engine.
//
//   POST /classify  /pooling  /score /v1/score  /rerank /v1/rerank /v2/rerank  /v1/embeddings
//        /tokenize /detokenize
//   GET  /v1/models  /health  /ping  /version  /metrics
//
// server/protocol.h parses requests and builds responses, server/handlers.h runs them on the
// engine (whose scheduler batches requests from all connections), server/http.cpp is the HTTP
// glue: routing, auth, access log, client-disconnect detection, signals.
// Errors are vLLM's {"error": {"message", "type", "param", "code"}}.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "vkcls/engine.h"

namespace vkcls::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;                // 0: any free port (the bound port is printed on stderr)
  std::string model_dir;          // for messages and /v1/models
  std::string served_model_name;  // the `model` field must match it ("" = basename of model_dir)
  std::string api_key;            // "" = no authentication
  size_t max_payload_bytes = 8u << 20;   // larger bodies: 413
  size_t max_inputs_per_request = 2048;  // more inputs (or pairs): 400
  size_t max_queue = 1024;     // queued requests (the engine's max_queued_requests); more: 429
  int threads = 64;            // HTTP worker threads (each holds one connection)
  int read_timeout_s = 10;     // a connection that sends nothing for this long is closed
  int request_timeout_s = 30;  // headers and body of one request must arrive within this (408)
  int keep_alive_timeout_s = 5;
  bool access_log = true;                    // one JSON line per request on stderr
  bool trust_request_chat_template = false;  // accept a `chat_template` in requests (vLLM's flag)
  std::string version = "0.0.0";
};

// The server without signal handling: bind in the constructor (throws when the address cannot
// be bound), serve in run() until stop() (from any thread; in-flight requests finish).
class HttpServer {
 public:
  HttpServer(Engine& engine, const ServerOptions& options);
  ~HttpServer();
  int port() const;
  void run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Blocks SIGTERM / SIGINT in the calling thread (and so in every thread it creates later)
// and ignores SIGPIPE. Call it before Engine::open: run_server takes the signals with
// sigwait, which only works when no other thread can receive them.
void block_stop_signals();

// Runs until SIGTERM / SIGINT (then drains in-flight requests) and returns 0, or throws
// when the address cannot be bound. `engine` must outlive the call.
int run_server(Engine& engine, const ServerOptions& options);

}  // namespace vkcls::server
