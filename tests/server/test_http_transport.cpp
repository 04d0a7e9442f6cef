// vkcls serve's HTTP layer (server/http.cpp over server/http_transport.h), in-process over
// real sockets on loopback with the fake device of tests/engine/fake_backend.h: the
// reproducers of issue 14 (pipelining, half-close, slow-loris, gzip and chunked bodies past
// the limit, Nagle, SO_REUSEPORT, the listen backlog, Host, X-Request-Id, Content-Type,
// 1e400), each answered as it should be now.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/server.h"
#include "tests/engine/fake_backend.h"

namespace vkcls::test {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Running {
  explicit Running(Engine& e, server::ServerOptions o = {}) {
    o.port = 0;
    o.access_log = false;
    o.model_dir = kFakeModel;
    opt = o;
    srv = std::make_unique<server::HttpServer>(e, opt);
    thread = std::thread([this] { srv->run(); });
  }
  ~Running() {
    srv->stop();
    thread.join();
  }
  int port() const { return srv->port(); }
  server::ServerOptions opt;
  std::unique_ptr<server::HttpServer> srv;
  std::thread thread;
};

// A raw client socket: what a library client would not do (pipelining, half-close, trickling).
struct Raw {
  explicit Raw(int port) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }
  ~Raw() { ::close(fd); }
  bool send_all(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += size_t(n);
    }
    return true;
  }
  // Reads until `done(buffer)` or end of stream or `timeout_s`.
  template <class F>
  std::string read_until(F done, double timeout_s = 30) {
    auto t0 = Clock::now();
    while (!done(buf) && seconds_since(t0) < timeout_s) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char tmp[65536];
      ssize_t n = recv(fd, tmp, sizeof tmp, 0);
      if (n <= 0) {
        eof = true;
        break;
      }
      buf.append(tmp, size_t(n));
    }
    return buf;
  }
  std::string read_to_end(double timeout_s = 30) {
    return read_until([this](const std::string&) { return eof; }, timeout_s);
  }
  // Takes one complete response (with Content-Length) off the front of the buffer.
  struct Response {
    int status = 0;
    std::string head, body;
  };
  Response take_response(double timeout_s = 30) {
    auto complete = [](const std::string& b) {
      size_t h = b.find("\r\n\r\n");
      if (h == std::string::npos) return false;
      size_t cl = b.find("Content-Length: ");
      if (cl == std::string::npos || cl > h) return true;
      return b.size() >= h + 4 + std::stoul(b.substr(cl + 16));
    };
    read_until(complete, timeout_s);
    Response r;
    if (!complete(buf)) return r;
    size_t h = buf.find("\r\n\r\n");
    r.head = buf.substr(0, h);
    size_t cl = r.head.find("Content-Length: ");
    size_t n = cl == std::string::npos ? 0 : std::stoul(r.head.substr(cl + 16));
    r.body = buf.substr(h + 4, n);
    r.status = std::stoi(r.head.substr(9, 3));
    buf.erase(0, h + 4 + n);
    return r;
  }
  int fd = -1;
  std::string buf;
  bool eof = false;
};

std::string post_request(const std::string& path, const std::string& body,
                         const std::string& extra_headers = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
         extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

httplib::Result get(int port, const char* path, httplib::Headers h = {}) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(60, 0);
  return c.Get(path, h);
}

TEST(HttpTransport, PipelinedRequestsAllGetTheirResponsesInOrder) {
  Fixture f = make_engine(1, 4096);
  Running s(*f.engine);
  Raw c(s.port());
  ASSERT_TRUE(c.send_all(post_request("/tokenize", R"({"prompt": "the movie"})") +
                         "GET /health HTTP/1.1\r\nHost: x\r\n\r\n" +
                         post_request("/tokenize", R"({"prompt": "the movie was great"})") +
                         post_request("/tokenize", R"({"prompt": "great"})")));
  auto a = c.take_response(), b = c.take_response(), d = c.take_response(), e = c.take_response();
  ASSERT_EQ(a.status, 200) << a.head;
  EXPECT_EQ(b.status, 200) << b.head;
  ASSERT_EQ(d.status, 200) << d.head;
  ASSERT_EQ(e.status, 200) << e.head;
  EXPECT_EQ(json::parse(a.body)["count"], 4);  // [CLS] the movie [SEP]
  EXPECT_EQ(json::parse(d.body)["count"], 6);
  EXPECT_EQ(json::parse(e.body)["count"], 3);
}

// The client sends its request and shuts down its sending side: it still reads. The server
// notices the end of the read side while the request runs, probes with an interim
// "100 Continue" (proof that it looked), and answers 200 after it.
TEST(HttpTransport, AClientThatHalfClosesStillGetsItsResponse) {
  Fixture f = make_engine(1, 4096);
  Running s(*f.engine);
  Raw c(s.port());
  ASSERT_TRUE(c.send_all(post_request("/classify", R"({"input": "the movie"})")));
  shutdown(c.fd, SHUT_WR);
  f.backend->wait_launches(1);
  std::string got = c.read_until(
      [](const std::string& b) { return b.find("100 Continue\r\n\r\n") != std::string::npos; });
  f.backend->release(1);  // before any assertion: a failed one must not leave the batch held
  ASSERT_NE(got.find("HTTP/1.1 100 Continue"), std::string::npos) << got;
  got = c.read_to_end();
  EXPECT_NE(got.find("HTTP/1.1 200 OK"), std::string::npos) << got;
  EXPECT_NE(got.find("\"data\""), std::string::npos) << got;
  EXPECT_EQ(f.engine->stats().cancelled_sequences, 0u);
}

// Keep-alive responses with a body: TCP_NODELAY on the server's socket and one write per
// response (with Nagle and two writes each answer waited ~40 ms for a delayed ACK).
TEST(HttpTransport, KeepAliveResponsesDoNotWaitForDelayedAcks) {
  Fixture f = make_engine(1, 4096);
  Running s(*f.engine);
  httplib::Client c("127.0.0.1", s.port());
  c.set_keep_alive(true);
  std::vector<double> times;
  for (int i = 0; i < 21; ++i) {
    auto t0 = Clock::now();
    auto r = c.Get("/v1/models");
    times.push_back(seconds_since(t0));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
  }
  std::sort(times.begin(), times.end());
  EXPECT_LT(times[10], 0.02) << "median keep-alive response " << times[10] * 1e3 << " ms";
  // the server side of a connection has TCP_NODELAY: find it among this process's sockets
  Raw raw(s.port());
  sockaddr_in mine{};
  socklen_t len = sizeof mine;
  getsockname(raw.fd, reinterpret_cast<sockaddr*>(&mine), &len);
  ASSERT_TRUE(raw.send_all("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(raw.take_response().status, 200);  // the server has accepted and set it up
  int nodelay = -1;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    int fd = std::atoi(e.path().filename().c_str());
    sockaddr_in peer{};
    socklen_t pl = sizeof peer;
    if (fd == raw.fd || getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0) continue;
    if (peer.sin_family != AF_INET || peer.sin_port != mine.sin_port) continue;
    socklen_t ol = sizeof nodelay;
    getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &ol);
  }
  EXPECT_EQ(nodelay, 1) << "the accepted socket has Nagle on";
}

// No SO_REUSEPORT: a second server on a bound port fails (it took half the connections).
TEST(HttpTransport, ASecondServerOnTheSamePortFailsToBind) {
  Fixture f = make_engine(1, 4096);
  Running s(*f.engine);
  server::ServerOptions o;
  o.port = s.port();
  o.access_log = false;
  o.model_dir = kFakeModel;
  try {
    server::HttpServer second(*f.engine, o);
    ADD_FAILURE() << "a second server bound port " << o.port;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot bind"), std::string::npos) << e.what();
  }
}

// The listen backlog (ss shows it as Send-Q of a listening socket): httplib's was 5.
TEST(HttpTransport, TheListenBacklogIsAtLeast128) {
  Fixture f = make_engine(1, 4096);
  Running s(*f.engine);
  std::string cmd = "ss -ltnH 'sport = :" + std::to_string(s.port()) + "' 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char line[512] = {};
  bool got = fgets(line, sizeof line, p) != nullptr;
  pclose(p);
  if (!got) GTEST_SKIP() << "ss (iproute2) is not available";
  char state[32];
  long recv_q = -1, send_q = -1;
  ASSERT_EQ(std::sscanf(line, "%31s %ld %ld", state, &recv_q, &send_q), 3) << line;
  EXPECT_GE(send_q, 128) << line;
}

TEST(HttpTransport, RequestsAreCheckedBeforeTheirBody) {
  Fixture f = make_engine(1, 4096);
  Running s(*f.engine);
  const std::string body = R"({"prompt": "the movie"})";
  {  // HTTP/1.1 without Host
    Raw c(s.port());
    c.send_all("POST /tokenize HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body);
    auto r = c.take_response();
    EXPECT_EQ(r.status, 400) << r.head;
    EXPECT_NE(r.body.find("Host"), std::string::npos) << r.body;
  }
  {  // X-Request-Id: control characters and length are refused, a plain one is echoed
    Raw c(s.port());
    c.send_all(post_request("/tokenize", body,
                            "X-Request-Id: ab\x01"
                            "cd\r\n"));
    auto r = c.take_response();
    EXPECT_EQ(r.status, 400) << r.head;
    EXPECT_NE(r.body.find("\"param\":\"X-Request-Id\""), std::string::npos) << r.body;
    EXPECT_EQ(r.head.find("ab\x01"), std::string::npos) << "echoed";
  }
  {
    Raw c(s.port());
    c.send_all(post_request("/tokenize", body, "X-Request-Id: " + std::string(300, 'a') + "\r\n"));
    auto r = c.take_response();
    EXPECT_EQ(r.status, 400) << r.head;
    EXPECT_NE(r.body.find("limit is 256"), std::string::npos) << r.body;
  }
  auto ok = get(s.port(), "/health", {{"X-Request-Id", "req-123_abc"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  // Content-Type: JSON, none, or application/*+json; anything else 400 as vLLM (FastAPI)
  httplib::Client c("127.0.0.1", s.port());
  auto plain = c.Post("/tokenize", body, "text/plain");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 400) << plain->body;
  EXPECT_NE(plain->body.find("Content-Type 'text/plain'"), std::string::npos) << plain->body;
  auto form = c.Post("/tokenize", body, "application/x-www-form-urlencoded");
  EXPECT_EQ(form->status, 400) << form->body;
  auto vendor = c.Post("/tokenize", body, "application/vnd.api+json; charset=utf-8");
  EXPECT_EQ(vendor->status, 200) << vendor->body;
  Raw none(s.port());
  none.send_all("POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(none.take_response().status, 200);
}

TEST(HttpTransport, ANumberPastADoubleIs400NamingItsField) {
  Fixture f = make_engine(1, 4096);
  Running s(*f.engine);
  httplib::Client c("127.0.0.1", s.port());
  auto r =
      c.Post("/classify", R"({"input": "x", "truncate_prompt_tokens": 1e400})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  json e = json::parse(r->body)["error"];
  EXPECT_EQ(e["param"], "truncate_prompt_tokens") << r->body;
  EXPECT_NE(e["message"].get<std::string>().find("1e400"), std::string::npos) << r->body;
}

// Content-Encoding: gzip is inflated within --max-payload-bytes: 20 MB of JSON in ~20 KB of
// gzip was inflated whole (306 KB -> 315 MB in issue 14). A small gzip body still works.
TEST(HttpTransport, GzipBodiesCountTheirDecodedSize) {
  Fixture f = make_engine(1, 4096);
  server::ServerOptions o;
  o.max_payload_bytes = 1 << 20;
  Running s(*f.engine, o);
  httplib::Client c("127.0.0.1", s.port());
  c.set_compress(true);  // gzip request bodies
  auto small = c.Post("/tokenize", R"({"prompt": "the movie"})", "application/json");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 200) << small->body;
  std::string bomb = R"({"prompt": "x", "pad": ")" + std::string(20 << 20, ' ') + "\"}";
  auto big = c.Post("/tokenize", bomb, "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413) << big->body.substr(0, 200);
  EXPECT_NE(big->body.find("after decoding"), std::string::npos) << big->body.substr(0, 200);
}

// A chunked body is counted too (20 MB were accepted past an 8 MB limit).
TEST(HttpTransport, ChunkedBodiesCountAgainstTheLimit) {
  Fixture f = make_engine(1, 4096);
  server::ServerOptions o;
  o.max_payload_bytes = 1 << 20;
  Running s(*f.engine, o);
  Raw c(s.port());
  std::thread sender([&] {
    c.send_all(
        "POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n");
    std::string chunk = "10000\r\n" + std::string(0x10000, ' ') + "\r\n";
    for (int i = 0; i < 48 && c.send_all(chunk); ++i) {  // 3 MB
    }
    c.send_all("0\r\n\r\n");
  });
  auto r = c.take_response();
  sender.join();
  EXPECT_EQ(r.status, 413) << r.head << r.body;
  // and a chunked body within the limit is read
  Raw ok(s.port());
  std::string body = R"({"prompt": "the movie"})";
  char size[16];
  std::snprintf(size, sizeof size, "%zx", body.size());
  ok.send_all(
      "POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n" +
      std::string(size) + "\r\n" + body + "\r\n0\r\n\r\n");
  EXPECT_EQ(ok.take_response().status, 200);
}

// A body that trickles in is cut off at the request deadline (408), not held forever by
// a read timeout that each byte resets.
TEST(HttpTransport, ABodyTricklingPastTheDeadlineGets408) {
  Fixture f = make_engine(1, 4096);
  server::ServerOptions o;
  o.request_timeout_s = 2;
  o.read_timeout_s = 10;
  Running s(*f.engine, o);
  Raw c(s.port());
  c.send_all(
      "POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 1000\r\n\r\n");
  auto t0 = Clock::now();
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    while (!stop && seconds_since(t0) < 20 && c.send_all(" "))
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the attack's pace
  });
  auto r = c.take_response(20);
  double took = seconds_since(t0);
  stop = true;
  trickle.join();
  EXPECT_EQ(r.status, 408) << r.head;
  EXPECT_LT(took, 8.0);
}

// Issue 14's acceptance test: 8 slow-loris connections trickling header bytes and a body with
// 100,000 keys, on a server with 2 workers, while another client times /health. /health
// answers within a bound derived from its own baseline; the slow connections are cut off at
// the deadline; the big body is answered in seconds (87 s before).
TEST(HttpTransport, HealthAnswersPromptlyDuringSlowLorisAndAHugeKeyCountBody) {
  Fixture f = make_engine(1, 4096);
  server::ServerOptions o;
  o.threads = 2;
  o.request_timeout_s = 3;
  o.read_timeout_s = 10;
  Running s(*f.engine, o);
  auto health_time = [&] {
    auto t0 = Clock::now();
    auto r = get(s.port(), "/health");
    EXPECT_TRUE(r && r->status == 200);
    return seconds_since(t0);
  };
  double baseline = 0;
  for (int i = 0; i < 5; ++i) baseline = std::max(baseline, health_time());
  const double bound = std::max(1.0, 20 * baseline);

  std::vector<std::unique_ptr<Raw>> slow;
  for (int i = 0; i < 8; ++i) slow.push_back(std::make_unique<Raw>(s.port()));
  const std::string header =
      "POST /tokenize HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(200, 'p') + "\r\n\r\n";
  auto t_attack = Clock::now();
  std::vector<double> cut_at(slow.size(), -1);
  std::thread loris([&] {
    for (size_t k = 0; k < header.size() && seconds_since(t_attack) < 30; ++k) {
      bool any = false;
      for (size_t i = 0; i < slow.size(); ++i) {
        if (cut_at[i] >= 0) continue;
        pollfd p{slow[i]->fd, POLLIN, 0};
        if (poll(&p, 1, 0) > 0 || !slow[i]->send_all(header.substr(k, 1))) {
          cut_at[i] = seconds_since(t_attack);  // answered (408) or closed by the server
          continue;
        }
        any = true;
      }
      if (!any) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the attack's pace
    }
  });
  std::string keys = R"({"prompt": "the movie")";
  for (int i = 0; i < 100000; ++i) keys += ",\"k" + std::to_string(i) + "\":" + std::to_string(i);
  keys += "}";
  double big_took = -1;
  int big_status = 0;
  std::thread big([&] {
    httplib::Client c("127.0.0.1", s.port());
    c.set_read_timeout(120, 0);
    auto t0 = Clock::now();
    auto r = c.Post("/tokenize", keys, "application/json");
    big_took = seconds_since(t0);
    big_status = r ? r->status : -1;
  });
  std::vector<double> during;
  while (seconds_since(t_attack) < 2.5) during.push_back(health_time());
  big.join();
  loris.join();  // ends when every slow connection was cut off (or after 30 s)
  ASSERT_FALSE(during.empty());
  double worst = *std::max_element(during.begin(), during.end());
  std::fprintf(stderr,
               "/health: baseline %.2f ms (worst of 5), under attack worst %.2f ms of %zu "
               "(bound %.0f ms); 100k-key body %.2f s (status %d)\n",
               baseline * 1e3, worst * 1e3, during.size(), bound * 1e3, big_took, big_status);
  EXPECT_LT(worst, bound) << "/health took " << worst << " s under attack (baseline " << baseline
                          << " s)";
  EXPECT_TRUE(big_status == 200 || big_status == 400) << big_status;
  EXPECT_LT(big_took, 20.0) << "the 100,000-key body took " << big_took << " s";
  for (size_t i = 0; i < slow.size(); ++i) {
    EXPECT_GE(cut_at[i], 0) << "slow connection " << i << " was never cut off";
    EXPECT_LT(cut_at[i], o.request_timeout_s + 3.0) << "slow connection " << i;
  }
}

}  // namespace
}  // namespace vkcls::test
