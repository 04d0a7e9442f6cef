// Micro-benchmarks of the two heavy ops at the layer shapes of BERT-base and
// Qwen3-0.6B, for 128 / 512 / 2048 tokens: GFLOP/s and effective GB/s (bytes the
// kernel must move at least once). Prints a table; asserts nothing.
//   bench_ops [--quick] [--repeat N] [--json FILE]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/context.h"
#include "runtime/memory.h"
#include "runtime/ops.h"

using namespace vkcls;

namespace {

struct GemmShape {
  const char* model;
  const char* layer;
  int N, K;
};
const GemmShape kGemms[] = {
    {"bert-base", "qkv", 2304, 768},       {"bert-base", "attn_out", 768, 768},
    {"bert-base", "ffn_up", 3072, 768},    {"bert-base", "ffn_down", 768, 3072},
    {"qwen3-0.6b", "qkv", 4096, 1024},     {"qwen3-0.6b", "o_proj", 1024, 2048},
    {"qwen3-0.6b", "gate_up", 6144, 1024}, {"qwen3-0.6b", "down", 1024, 3072},
};
struct AttnShape {
  const char* model;
  uint32_t heads, kv_heads, head_dim;
  bool causal;
};
const AttnShape kAttns[] = {{"bert-base", 12, 12, 64, false}, {"qwen3-0.6b", 16, 8, 128, true}};

// Median wall time of `repeat` submissions of `record`, in seconds (GPU timestamps when available).
template <class F>
double time_median(Context& ctx, int repeat, F record) {
  std::vector<double> times;
  Recorder rec(ctx);
  record(rec);  // warm-up: pipeline creation, first-touch of memory
  rec.submit_and_wait();
  for (int i = 0; i < repeat; ++i) {
    record(rec);
    auto t0 = std::chrono::steady_clock::now();
    rec.submit_and_wait();
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double gpu = 0;
    for (auto& t : rec.timings()) gpu += t.microseconds * 1e-6;
    times.push_back(gpu > 0 ? gpu : wall);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  int repeat = 5;
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) quick = true;
    else if (!std::strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--json") && i + 1 < argc) json_path = argv[++i];
    else {
      std::fprintf(stderr, "usage: bench_ops [--quick] [--repeat N (default 5)] [--json FILE]\n");
      return 2;
    }
  }
  ContextOptions opts;
  opts.profile = true;  // GPU timestamps: kernel time without submission overhead
  Context ctx(opts);
  std::printf("device: %s (%s), driver %s\n", ctx.info().name.c_str(), ctx.info().type_name().c_str(),
              ctx.info().driver_info.c_str());
  std::vector<int> token_counts = quick ? std::vector<int>{128} : std::vector<int>{128, 512, 2048};
  nlohmann::json results = nlohmann::json::array();
  Arena arena(ctx, "bench", 256ull << 20);

  std::printf("\n%-11s %-9s %6s %6s %6s %5s %10s %9s %9s\n", "gemm", "layer", "M", "N", "K", "w", "ms", "GFLOP/s", "GB/s");
  for (int M : token_counts)
    for (const auto& g : kGemms)
      for (DType wt : {DType::f32, DType::f16}) {
        arena.reset();
        Tensor x = arena.alloc(DType::f32, {M, g.K}), w = arena.alloc(wt, {g.N, g.K});
        Tensor b = arena.alloc(DType::f32, {g.N}), y = arena.alloc(DType::f32, {M, g.N});
        Recorder init(ctx);
        init.fill_zero(x);
        init.fill_zero(w);
        init.fill_zero(b);
        init.submit_and_wait();
        double s = time_median(ctx, repeat, [&](Recorder& r) {
          ops::gemm(ctx, r, x, w, y, {.bias = &b, .act = ops::Act::gelu_erf});
        });
        double flops = 2.0 * M * g.N * g.K;
        double bytes = double(x.bytes + w.bytes + y.bytes);
        std::printf("%-11s %-9s %6d %6d %6d %5s %10.3f %9.1f %9.1f\n", g.model, g.layer, M, g.N, g.K, dtype_name(wt),
                    s * 1e3, flops / s * 1e-9, bytes / s * 1e-9);
        results.push_back({{"op", "gemm"}, {"model", g.model}, {"layer", g.layer}, {"M", M}, {"N", g.N}, {"K", g.K},
                           {"w_dtype", dtype_name(wt)}, {"seconds", s}, {"gflops", flops / s * 1e-9}});
      }

  std::printf("\n%-11s %6s %6s %5s %7s %10s %9s %9s\n", "attention", "tokens", "heads", "kv", "dim", "ms", "GFLOP/s", "GB/s");
  for (int T : token_counts)
    for (const auto& a : kAttns) {
      arena.reset();
      Tensor q = arena.alloc(DType::f32, {T, a.heads * a.head_dim}), k = arena.alloc(DType::f32, {T, a.kv_heads * a.head_dim});
      Tensor v = arena.alloc(DType::f32, {T, a.kv_heads * a.head_dim}), o = arena.alloc(DType::f32, {T, a.heads * a.head_dim});
      Tensor cu = arena.alloc(DType::i32, {2});
      int32_t cuv[2] = {0, T};
      ctx.upload(cu, cuv, sizeof(cuv));
      Recorder init(ctx);
      init.fill_zero(q);
      init.fill_zero(k);
      init.fill_zero(v);
      init.submit_and_wait();
      ops::AttentionArgs args{.num_heads = a.heads, .num_kv_heads = a.kv_heads, .head_dim = a.head_dim,
                              .causal = a.causal, .max_seqlen = uint32_t(T)};
      double s = time_median(ctx, repeat, [&](Recorder& r) { ops::attention(ctx, r, q, k, v, cu, o, args); });
      double pairs = a.causal ? double(T) * (T + 1) / 2 : double(T) * T;
      double flops = 4.0 * pairs * a.heads * a.head_dim;  // QK^T and PV
      double bytes = double(q.bytes + k.bytes + v.bytes + o.bytes);
      std::printf("%-11s %6d %6u %5u %7u %10.3f %9.1f %9.1f\n", a.model, T, a.heads, a.kv_heads, a.head_dim, s * 1e3,
                  flops / s * 1e-9, bytes / s * 1e-9);
      results.push_back({{"op", "attention"}, {"model", a.model}, {"tokens", T}, {"heads", a.heads},
                         {"kv_heads", a.kv_heads}, {"head_dim", a.head_dim}, {"causal", a.causal}, {"seconds", s},
                         {"gflops", flops / s * 1e-9}});
    }
  if (!json_path.empty()) {
    std::ofstream(json_path) << nlohmann::json{{"device", ctx.info().to_json()}, {"results", results}}.dump(2) << "\n";
  }
  return 0;
}
