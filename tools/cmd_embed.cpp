// vkcls embed: sentence embeddings, one JSON line per input: {"index", "id" (if given),
// "embedding"}. L2-normalised unless --no-normalize; --dimensions N keeps the first N (Matryoshka),
// then normalises.
#include <fmt/format.h>

#include <cmath>

#include "tools/commands.h"
#include "tools/io_input.h"
#include "tools/io_options.h"
#include "tools/io_output.h"

namespace vkcls::cli {

int cmd_embed(int argc, char** argv) {
  Args args(
      "embed",
      "Embed texts (arguments, lines, JSONL {\"text\", \"text_pair\", \"id\"} or CSV/TSV); writes "
      "{\"index\", \"embedding\"} per input.");
  add_common_options(args);
  args.flag("normalize", "L2-normalise the embeddings (the default)");
  args.flag("no-normalize", "keep the pooled vectors as they are");
  args.option("dimensions", "", "keep the first N dimensions (Matryoshka); default: all");
  if (!args.parse(argc, argv)) return 2;
  if (args.help_requested()) return std::fputs(args.help().c_str(), stdout), 0;

  CommonOptions o = read_common_options(args, "embed");
  if (args.has("normalize") && args.has("no-normalize"))
    throw std::invalid_argument("give --normalize or --no-normalize, not both");
  o.request.normalize = !args.has("no-normalize");
  if (!args.get("dimensions").empty()) {
    long d = args.get_int("dimensions");
    if (d < 1) throw std::invalid_argument(fmt::format("--dimensions must be >= 1, got {}", d));
    o.request.dimensions = d;
  }
  auto engine = open_engine(o);
  const ModelInfo& info = engine->info();
  if (o.request.dimensions && *o.request.dimensions > info.hidden_size)
    throw std::invalid_argument(
        fmt::format("--dimensions: {} is more than the model's {} dimensions",
                    *o.request.dimensions, info.hidden_size));
  InputReader reader(o, args.positionals(), false);

  RunSetup setup{fmt::format("{:<7} {:<6} {:<8} {}", "index", "dims", "norm", "text"), info.device,
                 [&] { return engine->stats(); }};
  return run_batches(
      o, reader, setup, [&](const std::vector<const Record*>& records) -> PendingBatch {
        Request req;
        req.task = Task::embed;
        req.params = o.request;
        for (const Record* r : records) req.inputs.push_back({r->text, r->text_pair});
        std::shared_ptr<Ticket> ticket = engine->submit(std::move(req));
        return [&o, records, ticket] {
          std::vector<EmbedResult> results = ticket->take().embed;
          std::vector<Outcome> out(records.size());
          for (size_t i = 0; i < records.size(); ++i) {
            const Record& rec = *records[i];
            EmbedResult& r = results[i];
            out[i].tokens = r.prompt_tokens;
            if (!r.ok()) {
              out[i].error = r.error;
              continue;
            }
            if (o.format == "table") {
              double n = 0;
              for (float x : r.embedding) n += double(x) * x;
              out[i].lines.push_back(fmt::format("{:<7} {:<6} {:<8.4f} {}", rec.index,
                                                 r.embedding.size(), std::sqrt(n),
                                                 table_cell(one_line(rec.text), 50)));
              continue;
            }
            nlohmann::ordered_json j;
            j["index"] = rec.index;
            if (rec.id) j["id"] = *rec.id;
            j["embedding"] = r.embedding;
            out[i].lines.push_back(json_line(j));
          }
          return out;
        };
      });
}

}  // namespace vkcls::cli
