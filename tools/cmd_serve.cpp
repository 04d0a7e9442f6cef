// vkcls serve: an HTTP server with vLLM's pooling API (/classify, /pooling, /score, /rerank,
// /v1/embeddings, /tokenize, ...), a drop-in for `vllm serve MODEL` with a pooling model.
// The server itself lives in server/ (vkcls_server); this file reads the options.
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "server/server.h"
#include "tools/args.h"
#include "tools/commands.h"
#include "tools/io_options.h"

namespace vkcls::cli {

int cmd_serve(int argc, char** argv) {
  Args args("serve",
            "Serve a model over HTTP with vLLM's pooling API: POST /classify /pooling /score "
            "/rerank /v1/embeddings "
            "/tokenize /detokenize, GET /v1/models /health /version /metrics. `vkcls serve "
            "MODEL_DIR` or --model.");
  args.option("model", "",
              "model folder (config.json, model.safetensors, tokenizer.json) or a hub id "
              "(ORG/NAME) in the local Hugging Face cache");
  args.option("host", "127.0.0.1", "address to listen on (0.0.0.0: all interfaces)");
  args.option(
      "port", "8000",
      "TCP port (0: any free port; the bound port is printed as \"listening on HOST:PORT\")");
  args.option("served-model-name", "",
              "the name clients send as \"model\" (default: the model folder's name)");
  args.option("api-key", "",
              "require \"Authorization: Bearer KEY\" on every route but /health and /metrics "
              "(default: $VKCLS_API_KEY, else $VLLM_API_KEY, else none)");
  args.option("max-payload-bytes", "8388608", "larger request bodies get 413");
  args.option("max-inputs-per-request", "2048",
              "more inputs (texts, pairs, documents) in one request get 400");
  args.option("max-queue", "1024", "requests waiting for the device; more get 429");
  args.option("max-batch-tokens", "0",
              "tokens packed into one device batch (0: 8192 on a GPU, 2048 on a CPU driver)");
  args.option("threads", "64", "HTTP worker threads (connections served at once)");
  args.option("read-timeout", "10",
              "seconds a connection may stay silent mid-request (slow clients are closed)");
  args.option("request-timeout", "30",
              "seconds within which a request's headers and body must arrive (else 408)");
  args.option("device", "-1", "Vulkan device index (see `vkcls info`); -1 picks the best");
  args.option("dtype", "auto", "weights on the device: auto | f32 | f16");
  add_model_options(args);
  add_chat_options(args, false);  // also the score template of /score and /rerank
  args.flag("trust-request-chat-template",
            "accept a \"chat_template\" in /classify and /pooling requests with \"messages\" "
            "(refused by default, as vLLM does)");
  args.flag("no-access-log", "no JSON access log line per request on stderr");
  if (!args.parse(argc, argv)) return 2;
  if (args.help_requested()) return std::fputs(args.help().c_str(), stdout), 0;

  // before any thread exists (the Vulkan driver starts some): SIGTERM is taken by sigwait
  server::block_stop_signals();

  std::string model = args.get("model");
  if (model.empty() && !args.positionals().empty()) model = args.positionals()[0];
  if (model.empty()) model = default_model_dir();
  std::error_code ec;
  const bool folder = std::filesystem::is_directory(model, ec);

  auto positive = [&](const char* name, long min) {
    long v = args.get_int(name);
    if (v < min)
      throw std::invalid_argument(fmt::format("--{} must be >= {}, got {}", name, min, v));
    return v;
  };
  server::ServerOptions so;
  so.model_dir = model;
  so.host = args.get("host");
  so.port = int(positive("port", 0));
  if (so.port > 65535)
    throw std::invalid_argument(fmt::format("--port {} is not a TCP port", so.port));
  so.served_model_name = args.get("served-model-name");
  if (so.served_model_name.empty() && !folder)
    so.served_model_name = model;  // a hub id, as vLLM names it
  so.api_key = args.get("api-key");
  if (so.api_key.empty())
    for (const char* env : {"VKCLS_API_KEY", "VLLM_API_KEY"})
      if (const char* v = std::getenv(env); v && *v) {
        so.api_key = v;
        break;
      }
  so.max_payload_bytes = size_t(positive("max-payload-bytes", 1));
  so.max_inputs_per_request = size_t(positive("max-inputs-per-request", 1));
  so.max_queue = size_t(positive("max-queue", 1));
  long mbt = positive("max-batch-tokens", 0);
  so.threads = int(positive("threads", 2));
  so.read_timeout_s = int(positive("read-timeout", 1));
  so.request_timeout_s = int(positive("request-timeout", 1));
  so.access_log = !args.has("no-access-log");
  so.trust_request_chat_template = args.has("trust-request-chat-template");
  so.version = VKCLS_VERSION;

  EngineOptions eo;
  eo.model_dir = model;
  eo.device = int(args.get_int("device"));
  eo.dtype = args.get("dtype");
  eo.max_batch_tokens = mbt;
  eo.max_queued_requests = so.max_queue;
  read_model_options(args, eo);
  read_chat_options(args, eo, nullptr);
  auto engine = Engine::open(eo);
  return server::run_server(*engine, so);
}

}  // namespace vkcls::cli
