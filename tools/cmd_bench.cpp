// vkcls bench: a model over a synthetic workload, as benchmark harnesses run it. For each
// length in --lengths: --requests requests of --batch inputs of exactly that many token ids
// (fixed-seed ids, no special tokens added, so the device sees the length asked for), at most
// --concurrency in flight, after --warmup requests that are not counted. In-process through
// the Engine, or with --url against a running `vkcls serve` (its /classify, /v1/embeddings or
// /pooling). Prints tokens/s, sequences/s, requests/s, request latency p50/p90/p99, peak host
// memory, device memory (weights + activation arenas) and the device and driver; --json for
// machines. Figures come from one run: run it several times and take medians.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#ifdef VKCLS_HAVE_SERVE
#include <httplib.h>
#endif

#include "runtime/context.h"
#include "runtime/device_info.h"
#include "tools/args.h"
#include "tools/commands.h"
#include "tools/io_options.h"
#include "vkcls/engine.h"

namespace vkcls::cli {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Workload {
  Task task = Task::classify;
  int64_t length = 0;
  size_t batch = 0, requests = 0, concurrency = 0, warmup = 0;
  int64_t shared_prefix = 0;  // the first ids of every input, the same everywhere (a query)
};

struct Row {
  int64_t length = 0;
  double seconds = 0;  // wall time of the measured requests
  size_t requests = 0, sequences = 0, failed = 0;
  int64_t tokens = 0;
  std::vector<double> latencies;  // seconds per request
};

// In-process: the upper part of the vocabulary, ids [min(1000, vocab / 2), vocab).
std::vector<int32_t> id_range(int64_t vocab) {
  std::vector<int32_t> pool;
  for (int64_t i = std::min<int64_t>(1000, vocab / 2); i < vocab; ++i) pool.push_back(int32_t(i));
  return pool;
}

// One request's worth of inputs: `batch` sequences of `length` ids drawn from `pool` (seeded
// by the request number, so every run sends the same ids).
std::vector<std::vector<int32_t>> make_ids(const Workload& w, const std::vector<int32_t>& pool,
                                           size_t request) {
  std::mt19937 rng(uint32_t(1000003 * w.length + request));
  std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
  std::vector<std::vector<int32_t>> out(w.batch, std::vector<int32_t>(size_t(w.length)));
  for (auto& seq : out)
    for (int32_t& t : seq) t = pool[pick(rng)];
  // --shared-prefix: one run of ids leads every input of the request (a reranker's query against
  // its documents); each request has its own
  std::mt19937 fixed(uint32_t(7 + request));
  std::vector<int32_t> prefix(size_t(std::min(w.shared_prefix, w.length)));
  for (int32_t& t : prefix) t = pool[pick(fixed)];
  for (auto& seq : out) std::copy(prefix.begin(), prefix.end(), seq.begin());
  return out;
}

// Runs one request and returns how many of its inputs failed (the first error is kept).
using RunOne = std::function<size_t(const std::vector<std::vector<int32_t>>&, std::string*)>;

RunOne in_process(Engine& engine, Task task) {
  return [&engine, task](const std::vector<std::vector<int32_t>>& ids, std::string* error) {
    Request r;
    r.task = task;
    for (const auto& v : ids) {
      TextInput in;
      in.token_ids = v;
      r.inputs.push_back(std::move(in));
    }
    Results res = engine.submit(std::move(r))->take();
    size_t failed = 0;
    auto count = [&](const auto& results) {
      for (const auto& x : results)
        if (!x.ok()) {
          if (!failed++ && error) *error = x.error;
        }
    };
    count(res.classify);
    count(res.token_classify);
    count(res.score);
    count(res.embed);
    return failed;
  };
}

#ifdef VKCLS_HAVE_SERVE
// Against `vkcls serve`: the route of the task (a cross-encoder's score of one id sequence is
// its /classify; /pooling serves token_classify). One connection per worker thread.
RunOne over_http(const std::string& url, Task task, const std::string& api_key) {
  return [url, task, api_key](const std::vector<std::vector<int32_t>>& ids, std::string* error) {
    thread_local std::unique_ptr<httplib::Client> client;
    if (!client) {
      client = std::make_unique<httplib::Client>(url);
      client->set_read_timeout(600, 0);
      if (!api_key.empty()) client->set_bearer_token_auth(api_key.c_str());
    }
    json body = {{"input", ids}};
    const char* path = "/classify";
    if (task == Task::embed) path = "/v1/embeddings";
    if (task == Task::token_classify) {
      path = "/pooling";
      body["task"] = "token_classify";
    }
    auto res = client->Post(path, body.dump(), "application/json");
    if (!res || res->status != 200) {
      if (error)
        *error = res ? fmt::format("{} {}: {}", path, res->status, res->body.substr(0, 300))
                     : fmt::format("{}: {}", path, httplib::to_string(res.error()));
      return ids.size();
    }
    return size_t(0);
  };
}
#endif

Row run_workload(const Workload& w, const std::vector<int32_t>& pool, const RunOne& run) {
  for (size_t i = 0; i < w.warmup; ++i) run(make_ids(w, pool, w.requests + i), nullptr);
  Row row;
  row.length = w.length;
  std::atomic<size_t> next{0};
  std::mutex mutex;
  std::string first_error;
  auto worker = [&] {
    for (size_t i; (i = next++) < w.requests;) {
      auto ids = make_ids(w, pool, i);
      std::string error;
      auto t0 = Clock::now();
      size_t failed = run(ids, &error);
      double s = std::chrono::duration<double>(Clock::now() - t0).count();
      std::lock_guard lock(mutex);
      row.latencies.push_back(s);
      row.failed += failed;
      if (failed && first_error.empty()) first_error = error;
    }
  };
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (size_t t = 0; t < w.concurrency; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  row.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  row.requests = w.requests;
  row.sequences = w.requests * w.batch;
  row.tokens = int64_t(row.sequences) * w.length;
  if (row.failed)
    throw std::runtime_error(fmt::format("{} of {} inputs of length {} failed; the first: {}",
                                         row.failed, row.sequences, w.length, first_error));
  return row;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  // nearest rank: the smallest value with at least p of the samples at or below it
  size_t rank = size_t(std::ceil(p * double(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

// Peak resident memory of this process (VmHWM), bytes; 0 where /proc is not there.
uint64_t peak_host_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return uint64_t(std::stoull(line.substr(6))) * 1024;
  return 0;
}

std::vector<int64_t> parse_lengths(const std::string& s, int64_t max_len) {
  std::vector<int64_t> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end || v < 1 || (max_len > 0 && v > max_len))
      throw std::invalid_argument(
          fmt::format("--lengths: '{}' is not a token count from 1 to {}", item, max_len));
    out.push_back(v);
  }
  if (out.empty()) throw std::invalid_argument("--lengths: no lengths given");
  return out;
}

Task parse_task(const std::string& name) {
  if (name == "classify") return Task::classify;
  if (name == "embed") return Task::embed;
  if (name == "score") return Task::score;
  if (name == "token_classify") return Task::token_classify;
  throw std::invalid_argument(
      fmt::format("--task: '{}' is not classify, score, embed or token_classify", name));
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  Args args("bench",
            "Run a model over a synthetic workload and report tokens/s, sequences/s, latency "
            "percentiles and memory (one run: take medians of several).");
  args.option("model", "", "model folder or hub id (in-process; default: as `vkcls classify`)");
  args.option("url", "",
              "benchmark a running `vkcls serve` at this URL instead (e.g. http://127.0.0.1:8000)");
  args.option("api-key", "", "with --url: the server's API key");
  args.option("task", "", "classify | score | embed | token_classify (default: the model's)");
  args.option("lengths", "16,128", "comma-separated input lengths in tokens, one row each");
  args.option("batch", "8", "inputs per request");
  args.option("requests", "10", "measured requests per length");
  args.option("concurrency", "1", "requests in flight at once");
  args.option("warmup", "1", "requests per length before measuring (pipelines, caches)");
  args.option("shared-prefix", "0",
              "the first N ids of every input of a request are the same (a reranker's query "
              "against --batch documents: the prefix cache of a causal decoder computes them "
              "once; compare with --no-prefix-cache)");
  add_device_options(args);
  add_model_options(args);
  args.flag("json", "print JSON instead of a table");
  if (!args.parse(argc, argv)) return 2;
  if (args.help_requested()) {
    std::fputs(args.help().c_str(), stdout);
    return 0;
  }
  auto positive = [&](const char* name, long lo) {
    long v = args.get_int(name);
    if (v < lo) throw std::invalid_argument(fmt::format("--{} must be >= {}, got {}", name, lo, v));
    return size_t(v);
  };
  Workload w;
  w.batch = positive("batch", 1);
  w.requests = positive("requests", 1);
  w.concurrency = std::min(positive("concurrency", 1), w.requests);
  w.warmup = positive("warmup", 0);
  w.shared_prefix = int64_t(positive("shared-prefix", 0));

  json report;
  std::unique_ptr<Engine> engine;
  RunOne run;
  std::vector<int32_t> pool;  // the ids inputs are drawn from
  int64_t max_len = 0;
  const std::string url = args.get("url");
  if (url.empty()) {
    EngineOptions e;
    e.model_dir = args.get("model").empty() ? default_model_dir() : args.get("model");
    read_device_options(args, e);
    read_model_options(args, e);
    engine = Engine::open(e);
    const ModelInfo& m = engine->info();
    pool = id_range(m.vocab_size);
    max_len = m.max_model_len;
    w.task = parse_task(args.get("task").empty() ? m.default_task : args.get("task"));
    run = in_process(*engine, w.task);
    report["model"] = m.model_dir;
    report["architecture"] = m.architecture;
    report["dtype"] = m.dtype;
    report["device"] = m.device;
    for (const DeviceInfo& d : list_devices())
      if (d.name == m.device) report["driver"] = fmt::format("{} {}", d.driver_name, d.driver_info);
    report["max_batch_tokens"] = m.max_batch_tokens;
  } else {
#ifdef VKCLS_HAVE_SERVE
    // the server's model: its length, and ids it certainly has (those of a text, tokenized by
    // the server without specials)
    httplib::Client probe(url);
    if (!args.get("api-key").empty()) probe.set_bearer_token_auth(args.get("api-key").c_str());
    auto models = probe.Get("/v1/models");
    auto tok =
        probe.Post("/tokenize",
                   R"({"prompt": "the quick brown fox jumps over the lazy dog while )"
                   R"(seven wizards quietly judge boxing matches", "add_special_tokens": false})",
                   "application/json");
    if (!models || models->status != 200 || !tok || tok->status != 200)
      throw std::runtime_error(
          fmt::format("--url {}: no vkcls server answers /v1/models and /tokenize there", url));
    json t = json::parse(tok->body);
    max_len = t.value("max_model_len", int64_t(0));
    pool = t.value("tokens", std::vector<int32_t>{});
    if (pool.empty()) throw std::runtime_error(fmt::format("--url {}: /tokenize gave no ids", url));
    w.task = parse_task(args.get("task").empty() ? "classify" : args.get("task"));
    run = over_http(url, w.task, args.get("api-key"));
    report["url"] = url;
    report["model"] = json::parse(models->body)["data"][0].value("id", "");
#else
    throw std::invalid_argument("--url: this vkcls was built without the server (cpp-httplib)");
#endif
  }
  const std::vector<int64_t> lengths = parse_lengths(args.get("lengths"), max_len);
  report["task"] = task_name(w.task);
  report["batch"] = w.batch;
  report["requests"] = w.requests;
  report["concurrency"] = w.concurrency;
  report["rows"] = json::array();
  for (int64_t len : lengths) {
    w.length = len;
    Row r = run_workload(w, pool, run);
    report["rows"].push_back({{"length", len},
                              {"requests", r.requests},
                              {"sequences", r.sequences},
                              {"tokens", r.tokens},
                              {"seconds", r.seconds},
                              {"tokens_per_s", double(r.tokens) / r.seconds},
                              {"sequences_per_s", double(r.sequences) / r.seconds},
                              {"requests_per_s", double(r.requests) / r.seconds},
                              {"latency_ms",
                               {{"p50", 1e3 * percentile(r.latencies, 0.50)},
                                {"p90", 1e3 * percentile(r.latencies, 0.90)},
                                {"p99", 1e3 * percentile(r.latencies, 0.99)}}}});
  }
  // in-process: this process holds the engine; with --url only the client's memory is here
  report[url.empty() ? "peak_host_bytes" : "client_peak_host_bytes"] = peak_host_bytes();
  if (engine) {
    EngineStats st = engine->stats();
    report["device_bytes"] = {{"weights", engine->info().weight_bytes},
                              {"activations_reserved", st.activation_reserved_bytes},
                              {"activations_peak", st.activation_peak_bytes},
                              {"kv_cache", engine->info().kv_cache_bytes}};
    if (engine->info().kv_pages > 0)
      report["prefix_cache"] = {{"enabled", engine->info().prefix_cache},
                                {"query_tokens", st.prefix_cache_query_tokens},
                                {"hit_tokens", st.prefix_cache_hit_tokens}};
  }

  if (args.has("json")) {
    std::printf("%s\n", report.dump(2).c_str());
    return 0;
  }
  std::printf("%s, task %s, batch %zu, %zu requests per length, concurrency %zu\n",
              report.value("model", "").c_str(), task_name(w.task), w.batch, w.requests,
              w.concurrency);
  if (report.contains("device"))
    std::printf("device %s (%s), dtype %s\n", report["device"].get<std::string>().c_str(),
                report.value("driver", "").c_str(), report["dtype"].get<std::string>().c_str());
  std::printf("%8s %12s %12s %10s %10s %10s %10s\n", "length", "tokens/s", "seqs/s", "req/s",
              "p50 ms", "p90 ms", "p99 ms");
  for (const json& r : report["rows"])
    std::printf("%8lld %12.1f %12.2f %10.2f %10.1f %10.1f %10.1f\n",
                (long long)r["length"].get<int64_t>(), r["tokens_per_s"].get<double>(),
                r["sequences_per_s"].get<double>(), r["requests_per_s"].get<double>(),
                r["latency_ms"]["p50"].get<double>(), r["latency_ms"]["p90"].get<double>(),
                r["latency_ms"]["p99"].get<double>());
  if (report.contains("peak_host_bytes"))
    std::printf("peak host memory %.1f MiB",
                double(report["peak_host_bytes"].get<uint64_t>()) / 1048576);
  else
    std::printf("peak host memory of this client %.1f MiB (the server's is its own)",
                double(report["client_peak_host_bytes"].get<uint64_t>()) / 1048576);
  if (report.contains("device_bytes"))
    std::printf(", device memory %.1f MiB weights + %.1f MiB activations",
                double(report["device_bytes"]["weights"].get<uint64_t>()) / 1048576,
                double(report["device_bytes"]["activations_reserved"].get<uint64_t>()) / 1048576);
  if (report.contains("prefix_cache"))
    std::printf(", KV cache %.1f MiB; prefix cache %s: %llu of %llu prompt tokens hit",
                double(report["device_bytes"]["kv_cache"].get<uint64_t>()) / 1048576,
                report["prefix_cache"]["enabled"].get<bool>() ? "on" : "off",
                (unsigned long long)report["prefix_cache"]["hit_tokens"].get<uint64_t>(),
                (unsigned long long)report["prefix_cache"]["query_tokens"].get<uint64_t>());
  std::printf("\n");
  return 0;
}

}  // namespace vkcls::cli
