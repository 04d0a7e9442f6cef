// Model throughput and latency: `bench_models --model DIR` runs sequences of fixed
// lengths through Engine::forward_ids (token ids, so tokenization is not timed) and
// prints sequences/s, tokens/s, single-request latency p50/p99 and peak host memory.
//   bench_models --model DIR [--lengths 32,128,512] [--batch 64] [--repeat 3] [--dtype auto]
//   [--json FILE]
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "runtime/vk_check.h"
#include "vkcls/engine.h"

using namespace vkcls;
using Clock = std::chrono::steady_clock;

static double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

static int run(int argc, char** argv);

// A device failure (e.g. a batch that outlives the fence timeout: VulkanError::timed_out()) is
// reported with its own exit code, never an uncaught exception.
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const VulkanError& e) {
    std::fprintf(stderr, "bench_models: device error%s: %s\n", e.timed_out() ? " (timeout)" : "",
                 e.what());
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_models: error: %s\n", e.what());
    return 2;
  }
}

static int run(int argc, char** argv) {
  std::string model, dtype = "auto", lengths_arg = "32,128,512", json_path;
  int batch = 64, repeat = 3, latency_runs = 20;  // defaults sized for a GPU
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--model")
      model = next();
    else if (a == "--dtype")
      dtype = next();
    else if (a == "--lengths")
      lengths_arg = next();
    else if (a == "--batch")
      batch = std::stoi(next());
    else if (a == "--repeat")
      repeat = std::stoi(next());
    else if (a == "--latency-runs")
      latency_runs = std::stoi(next());
    else if (a == "--json")
      json_path = next();
    else {
      std::fprintf(
          stderr,
          "usage: bench_models --model DIR [--lengths 32,128,512] [--batch 64] [--repeat 3] "
          "[--latency-runs 20] [--dtype auto|f32|f16] [--json FILE]\n");
      return 2;
    }
  }
  if (model.empty()) {
    std::fprintf(stderr,
                 "bench_models: --model DIR is required (bench/make_bench_model.py makes one)\n");
    return 2;
  }
  std::vector<int> lengths;
  std::stringstream ss(lengths_arg);
  for (std::string t; std::getline(ss, t, ',');) lengths.push_back(std::stoi(t));

  auto t_open = Clock::now();
  auto engine = Engine::open({.model_dir = model, .dtype = dtype});
  double open_s = seconds_since(t_open);
  const ModelInfo& info = engine->info();
  std::printf("model %s (%s), device %s, dtype %s, opened in %.1f s\n", model.c_str(),
              info.architecture.c_str(), info.device.c_str(), info.dtype.c_str(), open_s);
  std::printf("%8s %6s %12s %12s %10s %10s\n", "seq_len", "batch", "seq/s", "tokens/s", "p50 ms",
              "p99 ms");
  std::mt19937 rng(1);
  nlohmann::json rows = nlohmann::json::array();
  for (int L : lengths) {
    std::vector<Engine::IdsInput> inputs(batch);
    for (auto& in : inputs) {
      in.ids.resize(L);
      in.type_ids.assign(L, 0);
      for (auto& id : in.ids) id = 1000 + int32_t(rng() % 20000);
      in.ids.front() = 101;  // [CLS]
      in.ids.back() = 102;   // [SEP]
    }
    engine->forward_ids({inputs[0]}, "classify");  // warm-up: pipelines, memory
    std::vector<double> times;
    for (int r = 0; r < repeat; ++r) {
      auto t0 = Clock::now();
      engine->forward_ids(inputs, "classify");
      times.push_back(seconds_since(t0));
    }
    std::sort(times.begin(), times.end());
    double t = times[times.size() / 2];
    std::vector<double> lat;
    for (int r = 0; r < latency_runs; ++r) {
      auto t0 = Clock::now();
      engine->forward_ids({inputs[r % batch]}, "classify");
      lat.push_back(seconds_since(t0) * 1e3);
    }
    std::sort(lat.begin(), lat.end());
    double p50 = lat[lat.size() / 2],
           p99 = lat[std::min(lat.size() - 1, size_t(lat.size() * 0.99))];
    std::printf("%8d %6d %12.1f %12.0f %10.2f %10.2f\n", L, batch, batch / t, batch * L / t, p50,
                p99);
    rows.push_back({{"seq_len", L},
                    {"batch", batch},
                    {"seq_per_s", batch / t},
                    {"tokens_per_s", batch * L / t},
                    {"p50_ms", p50},
                    {"p99_ms", p99}});
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("peak host RSS %.0f MiB\n", ru.ru_maxrss / 1024.0);
  if (!json_path.empty())
    std::ofstream(json_path) << nlohmann::json{
        {"engine", "vkcls"},
        {"device", info.device},
        {"dtype", info.dtype},
        {"peak_rss_mib", ru.ru_maxrss / 1024.0},
        {"rows", rows}}.dump(2);
  return 0;
}
