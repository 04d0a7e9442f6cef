// Device memory against sequence length: one sequence of each length through a fresh engine
// (Engine::forward_ids, token ids), reporting the activation memory of that batch (the arena's
// peak), what the arenas reserved, the weights, and the time. Attention keeps no [seq, seq]
// buffer, so activations grow linearly with length.
//   bench_long --model DIR [--lengths 1024,2048,4096,8192] [--dtype auto] [--json FILE]
#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "vkcls/engine.h"

using namespace vkcls;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  std::string model, dtype = "auto", lengths_arg = "1024,2048,4096,8192", json_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--model")
      model = next();
    else if (a == "--dtype")
      dtype = next();
    else if (a == "--lengths")
      lengths_arg = next();
    else if (a == "--json")
      json_path = next();
    else {
      std::fprintf(
          stderr,
          "usage: bench_long --model DIR [--lengths 1024,2048,4096,8192] [--dtype auto|f32|f16] "
          "[--json FILE]\n");
      return 2;
    }
  }
  if (model.empty()) {
    std::fprintf(
        stderr, "bench_long: --model DIR is required (bench/make_bench_modernbert.py makes one)\n");
    return 2;
  }
  std::vector<int> lengths;
  std::stringstream ss(lengths_arg);
  for (std::string t; std::getline(ss, t, ',');) lengths.push_back(std::stoi(t));

  const double MiB = 1024.0 * 1024.0;
  std::printf("%8s %12s %14s %16s %12s %10s\n", "seq_len", "weights MiB", "act. peak MiB",
              "act. bytes/token", "reserved MiB", "seconds");
  nlohmann::json rows = nlohmann::json::array();
  std::string device;
  std::mt19937 rng(1);
  for (int L : lengths) {
    // a fresh engine per length: the arenas' peak is this length's alone; the batch budget
    // admits the whole sequence in one batch
    auto engine = Engine::open({.model_dir = model, .dtype = dtype, .max_batch_tokens = L});
    const ModelInfo& info = engine->info();
    device = info.device;
    Engine::IdsInput in;
    in.ids.resize(size_t(L));
    for (auto& id : in.ids) id = 100 + int32_t(rng() % 20000);
    in.type_ids.assign(size_t(L), 0);
    auto t0 = Clock::now();
    engine->forward_ids({in}, "classify");
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    EngineStats st = engine->stats();
    std::printf("%8d %12.1f %14.1f %16.0f %12.1f %10.1f\n", L, info.weight_bytes / MiB,
                st.activation_peak_bytes / MiB, double(st.activation_peak_bytes) / L,
                st.activation_reserved_bytes / MiB, s);
    std::fflush(stdout);
    rows.push_back({{"seq_len", L},
                    {"weight_bytes", info.weight_bytes},
                    {"activation_peak_bytes", st.activation_peak_bytes},
                    {"activation_reserved_bytes", st.activation_reserved_bytes},
                    {"seconds", s}});
  }
  if (!json_path.empty())
    std::ofstream(json_path) << nlohmann::json{
        {"engine", "vkcls"},
        {"device", device},
        {"rows", rows}}.dump(2);
  return 0;
}
