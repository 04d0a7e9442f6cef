// Output side of the model commands, and the loop that ties input, engine and output:
//
//   read --batch-size records -> start the good ones on the engine -> read and start the next
//     batch -> write the first batch's results (one line per result, in input order; the bad
//     records reported on stderr with their line number) -> repeat
//
// Each output line goes out with one write(2) (whole lines only, even on Ctrl-C: SIGINT
// lets the current line finish, then the command exits with 130). A progress line on
// stderr when stderr is a terminal; a one-line summary at the end; --quiet drops both.
// Exit codes: 0 all inputs done, 1 some failed (or --strict stopped at one), 130 SIGINT.
// A shard's file (--shard with --output) gets its final name only when every input was read
// and written (exit 0, or 1 without --strict: its bad inputs were reported on stderr).
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tools/io_input.h"
#include "tools/io_options.h"
#include "vkcls/engine.h"

namespace vkcls::cli {

// What a command produced for one record: its output line(s) (without '\n'), or an error.
struct Outcome {
  std::vector<std::string> lines;
  std::string error;
  int64_t tokens = 0;
};

// Starts the good records of one batch on the engine (Engine::submit) and returns what waits
// for them: one Outcome per record, in order. run_batches starts the next batch before it waits
// for the current one, so the engine always has the next batch queued (tokenized and ready).
using PendingBatch = std::function<std::vector<Outcome>()>;
using BatchRunner = std::function<PendingBatch(const std::vector<const Record*>& records)>;

struct RunSetup {
  std::string table_header;                      // --format table: the column header line
  std::string device;                            // for the summary
  std::function<EngineStats()> stats = nullptr;  // the summary adds the prefix-cache hit rate
};

// --shard with --output: true when the shard's file is there already (and no --overwrite), after
// saying so on stderr; the command then exits 0 without opening the model. run_batches checks too.
bool skip_finished_shard(const CommonOptions& options);

int run_batches(const CommonOptions& options, InputReader& reader, const RunSetup& setup,
                const BatchRunner& runner);

// JSON text of one output line; invalid UTF-8 (never in valid input) becomes U+FFFD.
std::string json_line(const nlohmann::ordered_json& j);
// --format table helpers: `s` cut to `width` code points with "…", then padded.
std::string table_cell(const std::string& s, size_t width);
// The text shown in a table row: newlines and tabs as spaces.
std::string one_line(const std::string& s);

}  // namespace vkcls::cli
