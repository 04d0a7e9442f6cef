// Tokenizer throughput: encode every line of a corpus (JSONL with "text", or
// plain text lines), repeated to a minimum size, with 1 thread and N threads.
//   bench_tokenizer TOKENIZER_JSON CORPUS [--threads N] [--min-mb M] [--rounds R]
// Prints MB/s and tokens/s. Compare with bench/bench_tokenizer_hf.py.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

std::vector<std::string> load_corpus(const std::string& path, double min_mb) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    if (line[0] == '{') {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.contains("text") && j["text"].is_string()) lines.push_back(j["text"]);
    } else {
      lines.push_back(line);
    }
  }
  if (lines.empty()) throw std::runtime_error("empty corpus");
  size_t bytes = 0;
  for (auto& l : lines) bytes += l.size();
  std::vector<std::string> out;
  size_t total = 0;
  while (total < min_mb * 1e6)
    for (auto& l : lines) out.push_back(l), total += l.size();
  return out;
}

struct Result {
  double seconds;
  size_t tokens;
};

Result run(const vkcls::Tokenizer& tok, const std::vector<std::string>& lines, int threads) {
  std::atomic<size_t> next{0}, tokens{0};
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      size_t local = 0;
      for (size_t i; (i = next.fetch_add(64)) < lines.size();)
        for (size_t k = i; k < std::min(i + 64, lines.size()); ++k) local += tok.encode(lines[k]).ids.size();
      tokens += local;
    });
  for (auto& th : pool) th.join();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {s, tokens.load()};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: bench_tokenizer TOKENIZER_JSON CORPUS [--threads N (default: hardware)] "
                 "[--min-mb M (default 8)] [--rounds R (default 3)]\n");
    return 2;
  }
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  double min_mb = 8;
  int rounds = 3;
  for (int i = 3; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--min-mb")) min_mb = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
  }
  try {
    auto t0 = std::chrono::steady_clock::now();
    auto tok = vkcls::Tokenizer::from_file(argv[1]);
    double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    auto lines = load_corpus(argv[2], min_mb);
    size_t bytes = 0;
    for (auto& l : lines) bytes += l.size();
    std::printf("tokenizer %s (load %.1f ms), corpus %zu lines, %.2f MB\n", argv[1], load_ms, lines.size(),
                bytes / 1e6);
    for (int nt : {1, threads}) {
      Result best{1e30, 0};
      for (int r = 0; r < rounds; ++r) {
        Result res = run(tok, lines, nt);
        if (res.seconds < best.seconds) best = res;
      }
      std::printf("threads %2d: %8.2f MB/s  %12.0f tokens/s  (%zu tokens, best of %d: %.3f s)\n", nt,
                  bytes / 1e6 / best.seconds, best.tokens / best.seconds, best.tokens, rounds, best.seconds);
      if (threads == 1) break;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
    return 1;
  }
  return 0;
}
