#include "server/metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace vkcls::server {

void Histogram::observe(double v) {
  size_t i = std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin();
  counts[i]++;
  sum += v;
  count++;
}

namespace {

const std::vector<double> kLatencyBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
const std::vector<double> kCountBounds = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048};
const std::vector<double> kTokenBounds = {16, 64, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768};

std::string label_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') { out += "\\n"; continue; }
    out += c;
  }
  return out;
}

void render_histogram(std::string& out, const std::string& name, const std::string& labels, const Histogram& h) {
  uint64_t cum = 0;
  std::string sep = labels.empty() ? "" : ",";
  for (size_t i = 0; i < h.bounds.size(); ++i) {
    cum += h.counts[i];
    out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, h.bounds[i], cum);
  }
  cum += h.counts.back();
  out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, cum);
  std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, braces, h.sum, name, braces, h.count);
}

}  // namespace

Metrics::Metrics()
    : queue_time_(kLatencyBounds), batch_requests_(kCountBounds), batch_inputs_(kCountBounds), batch_tokens_(kTokenBounds) {}

void Metrics::observe_request(const std::string& route, int status, double latency_s) {
  std::lock_guard lock(m_);
  requests_[{route, status}]++;
  auto it = latency_.find(route);
  if (it == latency_.end()) it = latency_.emplace(route, Histogram(kLatencyBounds)).first;
  it->second.observe(latency_s);
}

void Metrics::observe_queue(double seconds) {
  std::lock_guard lock(m_);
  queue_time_.observe(seconds);
}

void Metrics::observe_batch(int64_t requests, int64_t inputs, int64_t tokens) {
  std::lock_guard lock(m_);
  batches_++;
  tokens_ += uint64_t(tokens);
  batch_requests_.observe(double(requests));
  batch_inputs_.observe(double(inputs));
  batch_tokens_.observe(double(tokens));
}

void Metrics::add_cancelled(int64_t n) {
  std::lock_guard lock(m_);
  cancelled_ += uint64_t(n);
}

std::string Metrics::render(size_t queue_depth, bool device_ok) const {
  std::lock_guard lock(m_);
  std::string out;
  out += "# HELP vkcls_requests_total HTTP requests by route and status code.\n# TYPE vkcls_requests_total counter\n";
  for (const auto& [k, n] : requests_)
    out += fmt::format("vkcls_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", label_escape(k.first), k.second, n);
  out += "# HELP vkcls_request_latency_seconds Time from routing to response, by route.\n"
         "# TYPE vkcls_request_latency_seconds histogram\n";
  for (const auto& [route, h] : latency_)
    render_histogram(out, "vkcls_request_latency_seconds", fmt::format("route=\"{}\"", label_escape(route)), h);
  out += "# HELP vkcls_queue_time_seconds Time a request waited in the queue before its batch ran.\n"
         "# TYPE vkcls_queue_time_seconds histogram\n";
  render_histogram(out, "vkcls_queue_time_seconds", "", queue_time_);
  out += "# HELP vkcls_batch_requests Requests gathered into one engine call.\n# TYPE vkcls_batch_requests histogram\n";
  render_histogram(out, "vkcls_batch_requests", "", batch_requests_);
  out += "# HELP vkcls_batch_inputs Inputs (texts, pairs) in one engine call.\n# TYPE vkcls_batch_inputs histogram\n";
  render_histogram(out, "vkcls_batch_inputs", "", batch_inputs_);
  out += "# HELP vkcls_batch_tokens Prompt tokens in one engine call.\n# TYPE vkcls_batch_tokens histogram\n";
  render_histogram(out, "vkcls_batch_tokens", "", batch_tokens_);
  out += fmt::format("# HELP vkcls_batches_total Engine calls made.\n# TYPE vkcls_batches_total counter\nvkcls_batches_total {}\n", batches_);
  out += fmt::format("# HELP vkcls_prompt_tokens_total Prompt tokens processed.\n# TYPE vkcls_prompt_tokens_total counter\n"
                     "vkcls_prompt_tokens_total {}\n", tokens_);
  out += fmt::format("# HELP vkcls_requests_cancelled_total Requests dropped because the client disconnected.\n"
                     "# TYPE vkcls_requests_cancelled_total counter\nvkcls_requests_cancelled_total {}\n", cancelled_);
  out += fmt::format("# HELP vkcls_queue_depth Requests waiting in the queue.\n# TYPE vkcls_queue_depth gauge\nvkcls_queue_depth {}\n",
                     queue_depth);
  out += fmt::format("# HELP vkcls_device_ok 1 while the device works, 0 after a device loss.\n# TYPE vkcls_device_ok gauge\n"
                     "vkcls_device_ok {}\n", device_ok ? 1 : 0);
  return out;
}

}  // namespace vkcls::server
