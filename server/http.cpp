// HTTP glue of vkcls serve (cpp-httplib over server/http_transport.h): routes to handlers,
// checks before a body is read (Host, X-Request-Id, API key, Content-Length, Content-Type),
// bodies read within --max-payload-bytes after decoding (gzip, deflate, br, chunked), bounded
// JSON, access log, metrics per request, noticing clients that went away, SIGTERM draining.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "common/json_bounded.h"
#include "server/handlers.h"
#include "server/http_transport.h"
#include "server/server.h"

namespace vkcls::server {

namespace {

// Paged KV memory (causal decoders): pool size, pages in use, prefix-cache lookups and hits in
// prompt tokens (vLLM's prefix_cache_queries / prefix_cache_hits).
std::string kv_cache_metrics(const ModelInfo& m, const EngineStats& st) {
  if (m.kv_pages == 0) return "";
  std::string out;
  auto gauge = [&out](const char* name, const char* help, auto value) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0} {2}\n", name, help, value);
  };
  auto counter = [&out](const char* name, const char* help, auto value) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, value);
  };
  gauge("vkcls_kv_cache_pages", "KV-cache pages in the pool.", m.kv_pages);
  gauge("vkcls_kv_cache_page_tokens", "Tokens per KV-cache page.", m.kv_page_size);
  gauge("vkcls_kv_cache_bytes", "Device memory of the KV-cache pool.", m.kv_cache_bytes);
  gauge("vkcls_kv_cache_pages_in_use", "KV-cache pages held by admitted sequences.",
        st.kv_pages_in_use);
  gauge("vkcls_kv_cache_pages_cached", "KV-cache pages holding a cached prefix.",
        st.kv_pages_cached);
  gauge("vkcls_kv_cache_usage_perc", "Fraction of KV-cache pages in use.",
        double(st.kv_pages_in_use) / double(m.kv_pages));
  counter("vkcls_prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.",
          st.prefix_cache_query_tokens);
  counter("vkcls_prefix_cache_hits_total", "Prompt tokens found in the prefix cache.",
          st.prefix_cache_hit_tokens);
  return out;
}

using Clock = std::chrono::steady_clock;

std::string random_uuid() {
  thread_local std::mt19937_64 rng{
      std::random_device{}() ^ uint64_t(std::hash<std::thread::id>{}(std::this_thread::get_id()))};
  return fmt::format("{:016x}{:016x}", rng(), rng());
}

std::string iso_now() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  int ms = int(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, ms);
}

void set_error(httplib::Response& res, int status, const std::string& message,
               const std::optional<std::string>& param = std::nullopt,
               const std::string& type = "") {
  res.status = status;
  res.set_content(dump(error_json(status, message, param, type)), "application/json");
}

sigset_t stop_signals() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGINT);
  return s;
}

thread_local Clock::time_point t_request_start{};

const std::set<std::string> kRoutes = {"/classify", "/pooling",    "/score",     "/v1/score",
                                       "/rerank",   "/v1/rerank",  "/v2/rerank", "/v1/embeddings",
                                       "/tokenize", "/detokenize", "/v1/models", "/health",
                                       "/version",  "/metrics",    "/ping",      "/invocations"};
const std::set<std::string> kPostRoutes = {
    "/classify",  "/pooling",       "/score",    "/v1/score",   "/rerank",     "/v1/rerank",
    "/v2/rerank", "/v1/embeddings", "/tokenize", "/detokenize", "/invocations"};

// The task a POST route serves. vLLM registers a route only when the model serves its task,
// so on other models it is 404, as there; /pooling picks its task per request.
const char* route_task(const std::string& path) {
  if (path == "/classify") return "classify";
  if (path == "/score" || path == "/v1/score" || path.ends_with("/rerank")) return "score";
  if (path == "/v1/embeddings") return "embed";
  return nullptr;
}

// vLLM's API-key check: "Authorization: <scheme> <key>" with the scheme "Bearer" in any case,
// the key compared in constant time.
bool authorized(const std::string& header, const std::string& key) {
  const size_t space = header.find(' ');
  if (space == std::string::npos) return false;
  std::string scheme = header.substr(0, space);
  for (char& ch : scheme) ch = char(std::tolower(uint8_t(ch)));
  const std::string given = header.substr(space + 1);
  // the time depends on the given key's length only
  size_t diff = given.size() ^ key.size();
  for (size_t i = 0; i < given.size(); ++i)
    diff |= uint8_t(given[i]) ^ (i < key.size() ? uint8_t(key[i]) : 0u);
  return scheme == "bearer" && diff == 0;
}

// X-Request-Id is echoed in the response headers and the access log: printable ASCII only,
// at most this long; anything else is refused (400), not cleaned up silently.
constexpr size_t kMaxRequestIdChars = 256;

std::optional<std::string> request_id_problem(const std::string& id, const char* name) {
  if (id.size() > kMaxRequestIdChars)
    return fmt::format("{} is {} characters long; the limit is {}", name, id.size(),
                       kMaxRequestIdChars);
  for (size_t i = 0; i < id.size(); ++i)
    if (uint8_t(id[i]) < 0x20 || uint8_t(id[i]) > 0x7e)
      return fmt::format("{} has a control or non-ASCII character (byte 0x{:02x} at {})", name,
                         uint8_t(id[i]), i);
  return std::nullopt;
}

// FastAPI's rule, which vLLM follows: a body is JSON when there is no Content-Type, or it is
// application/json or application/<something>+json.
bool is_json_content_type(std::string ct) {
  ct = ct.substr(0, ct.find(';'));
  while (!ct.empty() && (ct.back() == ' ' || ct.back() == '\t')) ct.pop_back();
  size_t b = ct.find_first_not_of(" \t");
  ct = b == std::string::npos ? "" : ct.substr(b);
  for (char& ch : ct) ch = char(std::tolower(uint8_t(ch)));
  if (ct.empty() || ct == "application/json") return true;
  return ct.rfind("application/", 0) == 0 && ct.size() > 17 && ct.ends_with("+json");
}

bool has_body(const httplib::Request& req) {
  return req.has_header("Transfer-Encoding") ||
         (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
}

TransportOptions transport_options(const ServerOptions& o) {
  TransportOptions t;
  t.threads = size_t(std::max(2, o.threads));
  t.read_timeout_s = o.read_timeout_s;
  t.write_timeout_s = o.read_timeout_s;
  t.request_timeout_s = o.request_timeout_s;
  t.keep_alive_timeout_s = o.keep_alive_timeout_s;
  t.error_body = [](int status, const std::string& message) {
    return dump(error_json(status, message, std::nullopt));
  };
  return t;
}

}  // namespace

struct HttpServer::Impl {
  Impl(Engine& e, const ServerOptions& o) : opt(o), state(e, o), svr(transport_options(o)) {}
  ServerOptions opt;
  ServerState state;
  TransportServer svr;
  int port = 0;
  void setup();
};

void HttpServer::Impl::setup() {
  ServerState& c = state;
  c.engine.set_batch_observer([&c](const BatchInfo& b) {
    c.metrics.observe_batch(int64_t(b.requests), int64_t(b.sequences), b.tokens);
  });
  svr.set_payload_max_length(opt.max_payload_bytes);
  const size_t max_payload = opt.max_payload_bytes;

  // Everything decided from the request line and headers, before any body byte is read. A
  // request answered here with its body unread closes its connection after the answer.
  const std::string& api_key = opt.api_key;
  svr.set_pre_routing_handler([&c, &api_key, max_payload](const httplib::Request& req,
                                                          httplib::Response& res) {
    using R = httplib::Server::HandlerResponse;
    t_request_start = Clock::now();
    const bool body = has_body(req);
    // CORS as vLLM's default middleware (any origin, method and header): a preflight is
    // answered here, before the API key; other answers to a page carry the origin header
    if (req.has_header("Origin")) {
      res.set_header("Access-Control-Allow-Origin", "*");
      if (req.method == "OPTIONS" && req.has_header("Access-Control-Request-Method")) {
        res.status = 200;
        res.set_header("Access-Control-Allow-Methods",
                       "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT");
        if (req.has_header("Access-Control-Request-Headers"))
          res.set_header("Access-Control-Allow-Headers",
                         req.get_header_value("Access-Control-Request-Headers"));
        res.set_header("Access-Control-Max-Age", "600");
        res.set_content("OK", "text/plain");
        if (body) request_close_after();
        return R::Handled;
      }
    }
    auto refuse = [&](int status, const std::string& message,
                      std::optional<std::string> param = std::nullopt) {
      set_error(res, status, message, param);
      if (body) request_close_after();
      return R::Handled;
    };
    if (req.version == "HTTP/1.1" && !req.has_header("Host"))
      return refuse(400, "an HTTP/1.1 request must have a Host header (RFC 9112, section 3.2)");
    if (auto p = request_id_problem(req.get_header_value("X-Request-Id"), "X-Request-Id"))
      return refuse(400, *p, "X-Request-Id");
    if (!api_key.empty() && req.path != "/health" && req.path != "/metrics" &&
        req.path != "/ping" && req.path != "/version" && req.method != "OPTIONS") {
      if (!authorized(req.get_header_value("Authorization"), api_key)) {
        res.status = 401;
        res.set_content(R"({"error":"Unauthorized"})", "application/json");
        if (body) request_close_after();
        return R::Handled;
      }
    }
    // a known route asked with another method: 405 naming the ones it takes
    const bool get_route = kRoutes.count(req.path) && !kPostRoutes.count(req.path);
    const bool get_like = req.method == "GET" || req.method == "HEAD";
    if (req.path == "/ping" && req.method == "POST") {  // SageMaker's health check, as vLLM
      if (body) request_close_after();
      if (c.engine.stats().device_lost)
        return refuse(503, "the Vulkan device was lost; restart the server");
      res.status = 200;
      return R::Handled;
    }
    if ((kPostRoutes.count(req.path) && req.method != "POST") || (get_route && !get_like)) {
      res.set_header("Allow", get_route ? "GET, HEAD" : "POST");
      return refuse(405, fmt::format("Method Not Allowed: {} {}", req.method, req.path));
    }
    const bool post_route = req.method == "POST" && kPostRoutes.count(req.path);
    if (post_route) {
      const char* task = route_task(req.path);
      const auto& tasks = c.engine.info().tasks;
      // an embedding model scores pairs by cosine similarity (vLLM's bi-encoder scoring)
      const bool bi_encoder = c.engine.info().default_task == "embed";
      if (task && std::find(tasks.begin(), tasks.end(), task) == tasks.end() &&
          !(bi_encoder && std::string_view(task) == "score"))
        return refuse(404, fmt::format("Not Found: {} {} (the model serves {}, not {})", req.method,
                                       req.path, fmt::join(tasks, ", "), task));
    }
    if (body && !post_route) {
      // httplib would read the body of any POST / PUT / PATCH / DELETE into memory before
      // finding no route for it; GET and friends never read theirs
      if (req.method == "GET" || req.method == "HEAD" || req.method == "OPTIONS") {
        request_close_after();
        return R::Unhandled;
      }
      return refuse(404, fmt::format("Not Found: {} {}", req.method, req.path));
    }
    if (!post_route) return R::Unhandled;
    if (req.has_header("Content-Length")) {
      const std::string v = req.get_header_value("Content-Length");
      char* end = nullptr;
      errno = 0;
      unsigned long long n = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end || errno || v[0] == '-')
        return refuse(400, fmt::format("Content-Length '{}' is not a byte count", v));
      if (n > max_payload)
        return refuse(413, fmt::format("the request body ({} bytes) is larger than the limit of "
                                       "{} bytes (--max-payload-bytes)",
                                       n, max_payload));
    }
    if (!is_json_content_type(req.get_header_value("Content-Type")))
      return refuse(400, fmt::format("Content-Type '{}' is not JSON: send application/json",
                                     req.get_header_value("Content-Type")));
    return R::Unhandled;
  });
  svr.set_error_handler([max_payload](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404)
      set_error(res, 404, fmt::format("Not Found: {} {}", req.method, req.path));
    else if (res.status == 413)
      set_error(
          res, 413,
          fmt::format("the request body is larger than the limit of {} bytes (--max-payload-bytes)",
                      max_payload));
    else
      set_error(res, res.status, fmt::format("HTTP error {}", res.status));
  });

  svr.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          set_error(res, 500, e.what());
        } catch (...) {
          set_error(res, 500, "unknown error");
        }
      });

  const bool access_log = opt.access_log;
  svr.set_logger([&c, access_log](const httplib::Request& req, const httplib::Response& res) {
    double latency = t_request_start == Clock::time_point{}
                         ? 0.0
                         : std::chrono::duration<double>(Clock::now() - t_request_start).count();
    t_request_start = Clock::time_point{};
    std::string route = kRoutes.count(req.path) ? req.path : "other";
    c.metrics.observe_request(route, res.status, latency);
    if (access_log) {
      json line{{"time", iso_now()},
                {"method", req.method},
                {"path", req.path},
                {"status", res.status},
                {"latency_ms", std::round(latency * 1e5) / 100},
                {"request_id", res.get_header_value("X-Request-Id")},
                {"remote", req.remote_addr}};
      std::string s = dump(line) + "\n";
      std::fwrite(s.data(), 1, s.size(), stderr);
    }
  });

  // The body: read here (httplib decodes gzip / deflate / br and chunked framing on the way),
  // counted after decoding against --max-payload-bytes, then parsed with bounded JSON.
  auto post = [this, &c, max_payload](const char* path, Handler h) {
    svr.Post(path, [&c, h, max_payload](const httplib::Request& req, httplib::Response& res,
                                        const httplib::ContentReader& read_body) {
      std::string rid = req.get_header_value("X-Request-Id");
      const bool http11 = req.version == "HTTP/1.1";
      ClientGone gone = [http11] { return request_client_gone(http11); };
      std::string text;
      bool too_large = false;
      bool complete = read_body([&](const char* data, size_t n) {
        if (text.size() + n > max_payload) return !(too_large = true);
        text.append(data, n);
        return true;
      });
      if (!complete) {
        request_close_after();
        if (too_large)
          set_error(res, 413,
                    fmt::format("the request body is larger than the limit of {} bytes after "
                                "decoding (--max-payload-bytes)",
                                max_payload));
        else if (request_timed_out())
          set_error(res, 408,
                    fmt::format("the request body did not arrive within the limit of {} s "
                                "(--request-timeout; {} s of silence: --read-timeout)",
                                c.opt.request_timeout_s, c.opt.read_timeout_s));
        else
          set_error(res, 400, "the request body could not be read (truncated, or bad encoding)");
        return;
      }
      try {
        json body;
        try {
          body = json_parse_bounded<json>(text);
        } catch (const JsonParseError& e) {
          if (e.kind() == JsonParseError::Kind::number_out_of_range)
            throw bad_request(e.what(), e.path());
          throw bad_request(fmt::format("JSON decode error: {}", e.what()));
        }
        if (!body.is_object()) throw bad_request("the request body must be a JSON object");
        if (rid.empty()) {
          auto it = body.find("request_id");
          rid = it != body.end() && it->is_string() ? it->get<std::string>() : random_uuid();
          if (auto p = request_id_problem(rid, "request_id")) {
            rid.clear();
            throw bad_request(*p, "request_id");
          }
        }
        Reply out = h(c, body, rid, gone);
        res.status = 200;
        if (!out.binary) {
          res.set_content(dump(out.body), "application/json");
        } else {
          if (out.binary->metadata) res.set_header("metadata", *out.binary->metadata);
          res.set_content(std::move(out.binary->body), "application/octet-stream");
        }
      } catch (const ApiError& e) {
        set_error(res, e.status, e.what(), e.param, e.type);
      } catch (const ClientGoneError&) {
        res.status = 499;  // nginx's "client closed request"; nobody reads it
        res.set_content("", "text/plain");
      } catch (const Error& e) {
        set_error(res, status_of(e.kind()), e.what(),
                  e.param().empty() ? std::nullopt : std::optional(e.param()));
      } catch (const std::exception& e) {
        set_error(res, 500, e.what());
      }
      if (!rid.empty()) res.set_header("X-Request-Id", rid);
    });
  };
  post("/classify", handle_classify);
  post("/pooling", handle_pooling);
  for (const char* p : {"/score", "/v1/score"}) post(p, handle_score);
  for (const char* p : {"/rerank", "/v1/rerank", "/v2/rerank"}) post(p, handle_rerank);
  post("/v1/embeddings", handle_embeddings);
  post("/tokenize", handle_tokenize);
  post("/detokenize", handle_detokenize);
  post("/invocations", handle_invocations);

  auto health = [&c](const httplib::Request&, httplib::Response& res) {
    if (c.engine.stats().device_lost)
      set_error(res, 503, "the Vulkan device was lost; restart the server");
    else
      res.status = 200;
  };
  svr.Get("/health", health);
  svr.Get("/ping", health);
  const std::string version = opt.version;
  svr.Get("/version", [version](const httplib::Request&, httplib::Response& res) {
    res.set_content(dump(json{{"version", version}}), "application/json");
  });
  svr.Get("/v1/models", [&c](const httplib::Request&, httplib::Response& res) {
    res.set_content(dump(models_response(c)), "application/json");
  });
  svr.Get("/metrics", [&c](const httplib::Request&, httplib::Response& res) {
    EngineStats st = c.engine.stats();
    res.set_content(c.metrics.render(st.queued_requests, !st.device_lost) +
                        kv_cache_metrics(c.engine.info(), st),
                    "text/plain; version=0.0.4");
  });
}

HttpServer::HttpServer(Engine& engine, const ServerOptions& options)
    : impl_(std::make_unique<Impl>(engine, options)) {
  impl_->setup();
  const ServerOptions& opt = impl_->opt;
  impl_->port = impl_->svr.bind(opt.host, opt.port);
  if (impl_->port < 0 && opt.port == 0)
    throw std::runtime_error(fmt::format("cannot bind {} on any port", opt.host));
  if (impl_->port < 0)
    throw std::runtime_error(fmt::format(
        "cannot bind {}:{} (in use, or not an address of this machine)", opt.host, opt.port));
}

HttpServer::~HttpServer() {
  impl_->state.engine.set_batch_observer(nullptr);
}

int HttpServer::port() const {
  return impl_->port;
}

void HttpServer::run() {
  impl_->svr.serve();
}

void HttpServer::stop() {
  while (!impl_->svr.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  impl_->svr.stop();
}

void block_stop_signals() {
  sigset_t s = stop_signals();
  pthread_sigmask(SIG_BLOCK, &s, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

int run_server(Engine& engine, const ServerOptions& opt) {
  block_stop_signals();
  HttpServer server(engine, opt);

  // the stop thread: SIGTERM / SIGINT -> stop accepting, let in-flight requests finish
  std::atomic<bool> finished{false}, signalled{false};
  std::thread stopper([&] {
    sigset_t s = stop_signals();
    int sig = 0;
    sigwait(&s, &sig);
    signalled = true;
    if (finished) return;
    std::fprintf(stderr, "vkcls serve: %s: draining in-flight requests\n",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT");
    server.stop();
  });

  const ModelInfo& info = engine.info();
  std::fprintf(stderr, "vkcls serve: model '%s' (%s, %s) on %s; tasks %s\n",
               ServerState(engine, opt).model_name.c_str(), info.architecture.c_str(),
               info.dtype.c_str(), info.device.c_str(),
               fmt::format("{}", fmt::join(info.tasks, ", ")).c_str());
  std::fprintf(stderr, "listening on %s:%d\n", opt.host.c_str(), server.port());
  std::fflush(stderr);
  server.run();
  finished = true;
  if (!signalled)
    pthread_kill(stopper.native_handle(),
                 SIGTERM);  // wakes sigwait when the server stopped otherwise
  stopper.join();
  std::fprintf(stderr, "vkcls serve: stopped\n");
  return 0;
}

}  // namespace vkcls::server
