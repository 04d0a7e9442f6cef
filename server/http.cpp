// HTTP glue of vkcls serve (cpp-httplib): routes to handlers, JSON bodies, API key, access log,
// metrics per request, noticing clients that went away, SIGTERM draining.
#include <arpa/inet.h>
#include <dirent.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <random>
#include <set>
#include <thread>

#include "server/handlers.h"
#include "server/server.h"

namespace vkcls::server {

namespace {

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

// The accepted socket of this request: the one whose peer is remote_addr:remote_port.
// (httplib 0.11 has no Request::is_connection_closed.)
int find_client_socket(const httplib::Request& req) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return -1;
  int found = -1;
  while (dirent* e = readdir(d)) {
    int fd = std::atoi(e->d_name);
    if (fd <= 2) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) continue;
    char host[INET6_ADDRSTRLEN] = {};
    int port = -1;
    if (ss.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
      port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
      port = ntohs(a->sin6_port);
    } else {
      continue;
    }
    if (port == req.remote_port && req.remote_addr == host) {
      found = fd;
      break;
    }
  }
  closedir(d);
  return found;
}

bool peer_closed(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL)) return true;
  char ch;
  return recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
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
                                       "/version",  "/metrics",    "/ping"};

}  // namespace

struct HttpServer::Impl {
  Impl(Engine& e, const ServerOptions& o) : opt(o), state(e, o) {}
  ServerOptions opt;
  ServerState state;
  httplib::Server svr;
  int port = 0;
  void setup();
};

void HttpServer::Impl::setup() {
  ServerState& c = state;
  c.engine.set_batch_observer([&c](const BatchInfo& b) {
    c.metrics.observe_batch(int64_t(b.requests), int64_t(b.sequences), b.tokens);
  });
  int threads = std::max(2, opt.threads);
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  svr.set_read_timeout(opt.read_timeout_s, 0);
  svr.set_write_timeout(opt.read_timeout_s, 0);
  svr.set_keep_alive_timeout(opt.keep_alive_timeout_s);
  svr.set_keep_alive_max_count(1000);
  svr.set_payload_max_length(opt.max_payload_bytes);

  const std::string& api_key = opt.api_key;
  svr.set_pre_routing_handler([&api_key](const httplib::Request& req, httplib::Response& res) {
    t_request_start = Clock::now();
    if (!api_key.empty() && req.path != "/health" && req.path != "/metrics" &&
        req.path != "/ping" && req.method != "OPTIONS") {
      if (req.get_header_value("Authorization") != "Bearer " + api_key) {
        res.status = 401;
        res.set_content(R"({"error":"Unauthorized"})", "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  const size_t max_payload = opt.max_payload_bytes;
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

  auto post = [this, &c](const char* path, Handler h) {
    svr.Post(path, [&c, h](const httplib::Request& req, httplib::Response& res) {
      std::string rid = req.get_header_value("X-Request-Id");
      int fd = -2;  // looked up on the first check
      ClientGone gone = [&] {
        if (fd == -2) fd = find_client_socket(req);
        return fd >= 0 && peer_closed(fd);
      };
      try {
        json body;
        try {
          body = json::parse(req.body);
        } catch (const json::parse_error& e) {
          throw bad_request(fmt::format("JSON decode error: {}", e.what()));
        }
        if (!body.is_object()) throw bad_request("the request body must be a JSON object");
        if (rid.empty()) {
          auto it = body.find("request_id");
          rid = it != body.end() && it->is_string() ? it->get<std::string>() : random_uuid();
        }
        json out = h(c, body, rid, gone);
        res.status = 200;
        res.set_content(dump(out), "application/json");
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
    res.set_content(c.metrics.render(st.queued_requests, !st.device_lost),
                    "text/plain; version=0.0.4");
  });
}

HttpServer::HttpServer(Engine& engine, const ServerOptions& options)
    : impl_(std::make_unique<Impl>(engine, options)) {
  impl_->setup();
  httplib::Server& svr = impl_->svr;
  const ServerOptions& opt = impl_->opt;
  if (opt.port == 0) {
    impl_->port = svr.bind_to_any_port(opt.host);
    if (impl_->port < 0)
      throw std::runtime_error(fmt::format("cannot bind {} on any port", opt.host));
  } else if (!svr.bind_to_port(opt.host, opt.port)) {
    throw std::runtime_error(fmt::format(
        "cannot bind {}:{} (in use, or not an address of this machine)", opt.host, opt.port));
  } else {
    impl_->port = opt.port;
  }
}

HttpServer::~HttpServer() {
  impl_->state.engine.set_batch_observer(nullptr);
}

int HttpServer::port() const {
  return impl_->port;
}

void HttpServer::run() {
  impl_->svr.listen_after_bind();
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
