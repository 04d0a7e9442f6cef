// Prometheus counters and histograms for vkcls serve (GET /metrics, text format 0.0.4).
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace vkcls::server {

struct Histogram {
  std::vector<double> bounds;    // upper bounds, ascending; +Inf implied
  std::vector<uint64_t> counts;  // per bucket (not cumulative), bounds.size() + 1
  double sum = 0;
  uint64_t count = 0;
  explicit Histogram(std::vector<double> b = {}) : bounds(std::move(b)), counts(bounds.size() + 1, 0) {}
  void observe(double v);
};

class Metrics {
 public:
  Metrics();
  void observe_request(const std::string& route, int status, double latency_s);
  void observe_queue(double seconds);
  void observe_batch(int64_t requests, int64_t inputs, int64_t tokens);
  void add_cancelled(int64_t n);
  // Prometheus text; `queue_depth` and `device_ok` are sampled by the caller.
  std::string render(size_t queue_depth, bool device_ok) const;

 private:
  mutable std::mutex m_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram> latency_;  // per route
  Histogram queue_time_, batch_requests_, batch_inputs_, batch_tokens_;
  uint64_t batches_ = 0, tokens_ = 0, cancelled_ = 0;
};

}  // namespace vkcls::server
