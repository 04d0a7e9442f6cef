// vkcls classify: sequence classification, one JSON line per input (vLLM's /classify data):
//   {"index", "id" (if given), "label", "probs", "num_classes"}
//   --top-k N adds "top_k": [{"label", "score"}, ...], highest first, as the Hugging Face
//   text-classification pipeline sorts them (stable: equal scores keep label order).
//   --shard I/N classifies the inputs of index I mod N only ("index" stays the input's own, so
//   the parts merged by it give the unsharded output); see add_shard_options.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "tools/commands.h"
#include "tools/io_input.h"
#include "tools/io_options.h"
#include "tools/io_output.h"

namespace vkcls::cli {

int cmd_classify(int argc, char** argv) {
  Args args("classify",
            "Classify texts (arguments, lines, JSONL {\"text\", \"text_pair\", \"id\"} or "
            "{\"messages\": [...], \"id\"} rendered with the chat template, or CSV/TSV) with a "
            "*ForSequenceClassification model; writes {\"index\", \"label\", \"probs\", "
            "\"num_classes\"} per input.");
  add_common_options(args);
  add_chat_options(args, true);
  args.option("top-k", "0", "add \"top_k\": the N best labels with their scores (0: off, -1: all)");
  add_shard_options(args);
  if (!args.parse(argc, argv)) return 2;
  if (args.help_requested()) return std::fputs(args.help().c_str(), stdout), 0;

  CommonOptions o = read_common_options(args, "classify");
  o.accept_messages = true;
  read_chat_options(args, o.engine, &o.chat);
  long top_k = args.get_int("top-k");
  if (top_k < -1)
    throw std::invalid_argument(
        fmt::format("--top-k must be -1, 0 or a positive count, got {}", top_k));
  o.request.top_k = top_k;
  read_shard_options(args, o);
  if (skip_finished_shard(o)) return 0;  // before the model loads: a rerun of a done part is quick
  auto engine = open_engine(o);
  const ModelInfo& info = engine->info();
  if (std::find(info.tasks.begin(), info.tasks.end(), "classify") == info.tasks.end())
    throw Error(ErrorKind::unsupported,
                fmt::format("model '{}' ({}) cannot classify: it supports {}", o.engine.model_dir,
                            info.architecture, fmt::join(info.tasks, ", ")));
  InputReader reader(o, args.positionals(), false);

  RunSetup setup{fmt::format("{:<7} {:<20} {:<8} {}", "index", "label", "score", "text"),
                 info.device, [&] { return engine->stats(); }};
  return run_batches(
      o, reader, setup, [&](const std::vector<const Record*>& records) -> PendingBatch {
        Request req;
        req.task = Task::classify;
        req.params = o.request;
        for (const Record* r : records) {
          req.inputs.push_back({r->text, r->text_pair});
          req.inputs.back().chat = r->chat;
        }
        std::shared_ptr<Ticket> ticket = engine->submit(std::move(req));
        return [&o, records, ticket] {
          std::vector<ClassifyResult> results = ticket->take().classify;
          std::vector<Outcome> out(records.size());
          for (size_t i = 0; i < records.size(); ++i) {
            const Record& rec = *records[i];
            ClassifyResult& r = results[i];
            out[i].tokens = r.prompt_tokens;
            if (!r.ok()) {
              out[i].error = r.error;
              continue;
            }
            if (o.format == "table") {
              std::string text =
                  rec.chat ? "(messages)"
                           : one_line(rec.text_pair ? rec.text + " | " + *rec.text_pair : rec.text);
              out[i].lines.push_back(
                  fmt::format("{:<7} {} {:<8.4f} {}", rec.index, table_cell(r.label, 20),
                              r.probs[size_t(r.label_index)], table_cell(text, 50)));
              continue;
            }
            nlohmann::ordered_json j;
            j["index"] = rec.index;
            if (rec.id) j["id"] = *rec.id;
            j["label"] = r.label;
            j["probs"] = r.probs;
            j["num_classes"] = r.num_classes;
            if (!r.top_k.empty()) {
              nlohmann::ordered_json list = nlohmann::ordered_json::array();
              for (const LabelScore& l : r.top_k)
                list.push_back({{"label", l.label}, {"score", l.score}});
              j["top_k"] = std::move(list);
            }
            out[i].lines.push_back(json_line(j));
          }
          return out;
        };
      });
}

}  // namespace vkcls::cli
