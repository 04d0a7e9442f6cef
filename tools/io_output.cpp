#include "tools/io_output.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <stdexcept>

namespace vkcls::cli {

namespace {

volatile sig_atomic_t g_interrupted = 0;

void on_sigint(int) {
  if (g_interrupted) {  // a second Ctrl-C: stop now
    signal(SIGINT, SIG_DFL);
    raise(SIGINT);
  }
  g_interrupted = 1;
}

// Whole lines, one write(2) each (the loop only continues a short write).
//
// A shard's file (CommonOptions::shard_output) is written as PATH.partial, locked with flock so
// that a second process running the same part fails at once instead of mixing its lines in, and
// renamed to PATH by finish() once every input was read. A run that stops short (an error,
// Ctrl-C, --strict) removes the .partial; a crash leaves only the .partial, which a rerun
// empties and writes again: PATH exists only for a part that is done.
class LineWriter {
 public:
  explicit LineWriter(const CommonOptions& o) {
    if (o.output.empty() || o.output == "-") return;
    if (o.shard_output) final_ = o.output, partial_ = o.output + ".partial";
    const std::string& path = partial_.empty() ? o.output : partial_;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (partial_.empty() ? O_TRUNC : 0),
                 0644);
    if (fd_ < 0)
      throw std::invalid_argument(
          fmt::format("--output: cannot create '{}': {}", path, std::strerror(errno)));
    owned_ = true;
    if (partial_.empty()) return;
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw std::runtime_error(fmt::format(
          "--shard: '{}' is being written by another process (is this part running twice?)", path));
    }
    if (::ftruncate(fd_, 0) != 0) {
      ::close(fd_);
      throw std::runtime_error(
          fmt::format("--output: cannot empty '{}': {}", path, std::strerror(errno)));
    }
  }
  ~LineWriter() {
    if (!partial_.empty()) ::unlink(partial_.c_str());  // stopped short: no finished part
    if (owned_) ::close(fd_);
  }
  void write_line(std::string s) {
    s += '\n';
    const char* p = s.data();
    size_t left = s.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        throw std::runtime_error(fmt::format("writing the output: {}", std::strerror(errno)));
      p += n;
      left -= size_t(n);
    }
  }
  // Every input was read: a shard's file goes to disk and gets its final name.
  void finish() {
    if (partial_.empty()) return;
    if (::fsync(fd_) != 0 || ::rename(partial_.c_str(), final_.c_str()) != 0)
      throw std::runtime_error(
          fmt::format("--output: cannot finish '{}': {}", final_, std::strerror(errno)));
    partial_.clear();
  }

 private:
  int fd_ = 1;
  bool owned_ = false;
  std::string final_, partial_;  // a shard's file: its name when done, and while written
};

class Progress {
 public:
  Progress(bool quiet) : enabled_(!quiet && isatty(2)), start_(Clock::now()) {}
  void update(size_t inputs, int64_t tokens, double fraction) {
    if (!enabled_) return;
    auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    double s = seconds();
    std::string eta =
        fraction > 0 && fraction < 1 ? fmt::format("  ETA {:.0f} s", s / fraction - s) : "";
    std::string bar = fraction >= 0
                          ? fmt::format("[{:<20}] {:3.0f}%  ",
                                        std::string(size_t(fraction * 20), '#'), fraction * 100)
                          : "";
    std::fprintf(stderr, "\r\033[K%s%zu inputs  %.0f tokens/s%s", bar.c_str(), inputs,
                 s > 0 ? double(tokens) / s : 0.0, eta.c_str());
    shown_ = true;
  }
  void clear() {
    if (shown_) std::fprintf(stderr, "\r\033[K");
    shown_ = false;
  }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  using Clock = std::chrono::steady_clock;
  bool enabled_, shown_ = false;
  Clock::time_point start_, last_{};
};

}  // namespace

std::string json_line(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string one_line(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
  return out;
}

std::string table_cell(const std::string& s, size_t width) {
  std::vector<size_t> starts;
  for (size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) starts.push_back(i);
  if (starts.size() > width) return s.substr(0, starts[width - 1]) + "…";
  return s + std::string(width - starts.size(), ' ');
}

bool skip_finished_shard(const CommonOptions& o) {
  struct stat st;
  if (!o.shard_output || o.overwrite || ::stat(o.output.c_str(), &st) != 0) return false;
  std::fprintf(stderr,
               "vkcls %s: shard %zu/%zu is done already ('%s'); --overwrite runs it again\n",
               o.command.c_str(), o.shard_index, o.shard_count, o.output.c_str());
  return true;
}

int run_batches(const CommonOptions& o, InputReader& reader, const RunSetup& setup,
                const BatchRunner& runner) {
  if (skip_finished_shard(o)) return 0;
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);

  LineWriter out(o);
  Progress progress(o.quiet);
  size_t inputs = 0, failed = 0;
  int64_t tokens = 0;
  bool stop = false;
  auto report = [&](const Record& r, const std::string& error) {
    progress.clear();
    std::fprintf(stderr, "vkcls %s: %s: %s%s\n", o.command.c_str(), r.where().c_str(),
                 error.c_str(), o.strict ? "" : " (skipped)");
    ++failed;
    if (o.strict) stop = true;
  };
  if (o.format == "table" && !setup.table_header.empty()) out.write_line(setup.table_header);

  struct Started {
    std::vector<Record> batch;
    std::vector<const Record*> good;
    PendingBatch pending;
  };
  std::deque<Started> started;  // at most two: the one being written and the next, already queued
  bool input_done = false;
  auto start_next = [&] {
    if (input_done) return;
    Started st;
    st.batch = reader.next(o.batch_size);
    if (st.batch.empty()) {
      input_done = true;
      return;
    }
    // --strict: run only the records before the first bad one
    size_t end = st.batch.size();
    if (o.strict)
      for (size_t i = 0; i < st.batch.size(); ++i)
        if (!st.batch[i].error.empty()) {
          end = i;
          break;
        }
    for (size_t i = 0; i < end; ++i)
      if (st.batch[i].error.empty()) st.good.push_back(&st.batch[i]);
    if (!st.good.empty()) st.pending = runner(st.good);
    started.push_back(std::move(st));
  };
  start_next();
  while (!stop && !g_interrupted && !started.empty()) {
    start_next();  // the engine gets the next batch before this one is waited for
    Started st = std::move(started.front());
    started.pop_front();
    std::vector<Outcome> outcomes = st.pending ? st.pending() : std::vector<Outcome>{};
    size_t k = 0;
    for (size_t i = 0; i < st.batch.size() && !stop && !g_interrupted; ++i) {
      ++inputs;
      if (!st.batch[i].error.empty()) {
        report(st.batch[i], st.batch[i].error);
        continue;
      }
      Outcome& oc = outcomes.at(k++);
      tokens += oc.tokens;
      if (!oc.error.empty()) {
        report(st.batch[i], oc.error);
        continue;
      }
      for (auto& line : oc.lines) out.write_line(std::move(line));
    }
    progress.update(inputs, tokens, reader.progress());
  }
  // a batch started but not written (Ctrl-C, --strict): wait for it before the engine goes
  for (Started& st : started)
    if (st.pending) st.pending();
  // every input read and its result written (bad inputs reported): a shard's part is done
  if (input_done && started.empty() && !stop && !g_interrupted) out.finish();
  progress.clear();
  double s = progress.seconds();
  if (!o.quiet)
    std::fprintf(stderr,
                 "vkcls %s: %zu inputs, %zu failed, %lld tokens, %.2f s, %.1f inputs/s, %.0f "
                 "tokens/s, device: %s%s\n",
                 o.command.c_str(), inputs, failed, static_cast<long long>(tokens), s,
                 s > 0 ? double(inputs) / s : 0.0, s > 0 ? double(tokens) / s : 0.0,
                 setup.device.c_str(), g_interrupted ? " (interrupted)" : "");
  if (!o.quiet && setup.stats) {
    EngineStats st = setup.stats();
    if (st.prefix_cache_hit_tokens > 0)
      std::fprintf(stderr, "vkcls %s: prefix cache: %llu of %llu prompt tokens cached (%.1f%%)\n",
                   o.command.c_str(), (unsigned long long)st.prefix_cache_hit_tokens,
                   (unsigned long long)st.prefix_cache_query_tokens,
                   100.0 * double(st.prefix_cache_hit_tokens) /
                       double(std::max<uint64_t>(1, st.prefix_cache_query_tokens)));
  }
  if (g_interrupted) return 130;
  return failed ? 1 : 0;
}

}  // namespace vkcls::cli
