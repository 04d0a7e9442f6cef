// vkcls serve in-process, over a real socket on loopback: what the e2e script cannot check
// deterministically. A fake device (tests/engine/fake_backend.h) holds batches until the test
// releases them, so "the client went away while its work was queued / running" is exact; and a
// real engine shows the tokenizer is parsed once and calibration reaches token-id inputs.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <thread>

#include "poolers/activation.h"
#include "server/server.h"
#include "tests/engine/fake_backend.h"
#include "tokenizer/tokenizer.h"

namespace vkcls::test {
namespace {

using nlohmann::json;

// A server on a free port, run on a thread for the test's lifetime.
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
  httplib::Result post(const std::string& path, const json& body) {
    httplib::Client c("127.0.0.1", srv->port());
    c.set_read_timeout(60, 0);
    return c.Post(path.c_str(), body.dump(), "application/json");
  }
  // Sends a request on a raw socket and closes it without reading the answer.
  void post_and_leave(const std::string& path, const json& body) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(srv->port()));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    std::string b = body.dump();
    std::string req = "POST " + path +
                      " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                      std::to_string(b.size()) + "\r\n\r\n" + b;
    ASSERT_EQ(send(fd, req.data(), req.size(), 0), ssize_t(req.size()));
    close(fd);
  }
  server::ServerOptions opt;
  std::unique_ptr<server::HttpServer> srv;
  std::thread thread;
};

// Waits (with a generous bound, not a timing assumption) until `cond` holds.
template <class F>
bool eventually(F cond) {
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

TEST(ServerInProcess, AClientThatLeavesWhileQueuedHasItsWorkDropped) {
  Fixture f = make_engine(1, 4096);
  Running s(*f.engine);
  std::thread blocker([&] {
    EXPECT_EQ(s.post("/classify", {{"input", "the blocker"}})->status, 200);
  });
  f.backend->wait_launches(1);
  s.post_and_leave("/classify", {{"input", {"the movie", "was great", "where is the station"}}});
  EXPECT_TRUE(eventually([&] { return f.engine->stats().cancelled_sequences == 3; }))
      << "cancelled " << f.engine->stats().cancelled_sequences;
  f.backend->release(1);
  blocker.join();
  EXPECT_EQ(f.backend->launches(), 1u) << "the dropped request never reached the device";
}

TEST(ServerInProcess, AClientThatLeavesWhileItsBatchRunsStopsAtTheNextBatch) {
  Fixture f = make_engine(1, 5);  // one input per batch
  Running s(*f.engine);
  s.post_and_leave("/classify", {{"input", {"the movie", "was great", "where is the station"}}});
  f.backend->wait_launches(1);
  EXPECT_TRUE(eventually([&] { return f.engine->stats().cancelled_sequences == 2; }))
      << "cancelled " << f.engine->stats().cancelled_sequences;
  f.backend->release(1);
  EXPECT_TRUE(eventually([&] { return f.engine->stats().batches == 1; }));
  EXPECT_EQ(f.backend->launches(), 1u);
}

// bert-crossencoder has one label (sigmoid), where calibration changes the answer (a softmax
// over several labels is unchanged by subtracting logit_mean from every logit).
TEST(ServerInProcess, TheTokenizerIsParsedOnceAndCalibrationReachesTokenIds) {
  uint64_t before = Tokenizer::loads();
  EngineOptions eo;
  eo.model_dir = (std::filesystem::path(VKCLS_TEST_DATA) / "models" / "bert-crossencoder").string();
  eo.dtype = "f32";
  eo.pooler = parse_pooler_config(R"({"logit_bias": 2.0})");
  auto engine = Engine::open(eo);
  Running s(*engine);
  auto tok = s.post("/tokenize", {{"prompt", "the movie was great"}});
  ASSERT_EQ(tok->status, 200);
  std::vector<int32_t> ids = json::parse(tok->body)["tokens"];
  auto by_text = s.post("/classify", {{"input", "the movie was great"}});
  auto by_ids = s.post("/classify", {{"input", ids}});
  auto raw = s.post("/classify", {{"input", ids}, {"use_activation", false}});
  ASSERT_EQ(by_text->status, 200);
  ASSERT_EQ(by_ids->status, 200);
  std::vector<float> p_text = json::parse(by_text->body)["data"][0]["probs"];
  std::vector<float> p_ids = json::parse(by_ids->body)["data"][0]["probs"];
  std::vector<float> logits = json::parse(raw->body)["data"][0]["probs"];
  EXPECT_EQ(p_text, p_ids);
  // vLLM's calibration by hand: sigmoid(logit - logit_bias)
  ASSERT_EQ(logits.size(), 1u);
  EXPECT_NEAR(p_ids[0], 1.0 / (1.0 + std::exp(-(double(logits[0]) - 2.0))), 1e-6);
  EXPECT_GT(std::abs(p_ids[0] - 1.0 / (1.0 + std::exp(-double(logits[0])))), 1e-3)
      << "calibration had no effect";
  EXPECT_EQ(Tokenizer::loads() - before, 1u) << "vkcls serve parsed tokenizer.json more than once";
}

}  // namespace
}  // namespace vkcls::test
