// vkcls token-classify (alias ner): per-token labels and entity spans.
//   default:  {"index", "id" (if given), "entities": [...]}, the Hugging Face
//             token-classification pipeline's output (poolers/token_aggregation.h):
//             --aggregation none   -> {"entity", "score", "index", "word", "start", "end"} per
//             token
//             --aggregation simple (the default here; HF's default is none) | first | average | max
//                                  -> {"entity_group", "score", "word", "start", "end"} per entity
//             start/end: Unicode code points. Scores: softmax of the logits, as the pipeline does.
//   --raw:    {"index", "data": [[per-label scores] per token]}, vLLM's token_classify output
//             (the model's activation, or logits with --raw-logits).
//   --stride S: a text longer than the model's limit (or --truncate N) runs as windows of that
//             many tokens overlapping by S; each window is aggregated and the entities are merged
//             as the pipeline does with stride (overlaps: the longer entity wins, then the higher
//             score).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <sstream>

#include "tools/commands.h"
#include "tools/io_input.h"
#include "tools/io_options.h"
#include "tools/io_output.h"

namespace vkcls::cli {

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

Aggregation aggregation_named(const std::string& name) {
  static const std::pair<const char*, Aggregation> names[] = {{"none", Aggregation::none},
                                                              {"simple", Aggregation::simple},
                                                              {"first", Aggregation::first},
                                                              {"average", Aggregation::average},
                                                              {"max", Aggregation::max}};
  for (auto [n, v] : names)
    if (name == n) return v;
  throw std::invalid_argument(
      fmt::format("--aggregation: '{}' is not one of none, simple, first, average, max", name));
}

nlohmann::ordered_json entity_json(const EntitySpan& e, bool per_token) {
  nlohmann::ordered_json j;
  j[per_token ? "entity" : "entity_group"] = e.entity;
  j["score"] = e.score;
  if (per_token) j["index"] = e.index;
  j["word"] = e.word;
  j["start"] = e.start;
  j["end"] = e.end;
  return j;
}

}  // namespace

int cmd_token_classify(int argc, char** argv) {
  Args args("token-classify",
            "Tag the tokens of texts (NER) with a *ForTokenClassification model; writes "
            "{\"index\", \"entities\"} "
            "per input, as the Hugging Face token-classification pipeline does, or per-token "
            "scores with --raw.");
  add_common_options(args);
  add_chat_options(args, true);
  args.option("aggregation", "simple",
              "none | simple | first | average | max (the pipeline's aggregation_strategy)");
  args.option("ignore-labels", "O", "comma-separated labels left out of the entities");
  args.flag("raw", "write {\"index\", \"data\"}: the per-token score rows (vLLM's token_classify)");
  args.option("stride", "0", "tokens of overlap between windows of a long text (0: no windows)");
  if (!args.parse(argc, argv)) return 2;
  if (args.help_requested()) return std::fputs(args.help().c_str(), stdout), 0;

  CommonOptions o = read_common_options(args, "token-classify");
  o.accept_messages = true;
  read_chat_options(args, o.engine, &o.chat);
  const bool raw = args.has("raw");
  long stride = args.get_int("stride");
  if (stride < 0) throw std::invalid_argument(fmt::format("--stride must be >= 0, got {}", stride));
  if (args.has("raw-logits") && !raw)
    throw std::invalid_argument(
        "--raw-logits applies only with --raw (entities use probabilities)");
  if (stride > 0 && raw)
    throw std::invalid_argument(
        "--stride and --raw do not go together: windows are merged as entities");
  const Aggregation agg = aggregation_named(args.get("aggregation"));
  if (stride > 0 && agg == Aggregation::none)
    throw std::invalid_argument(
        "--stride needs --aggregation simple, first, average or max (as the pipeline: tokens of "
        "overlapping windows cannot be merged)");
  if (!raw) {
    o.request.aggregation = agg;
    o.request.ignore_labels = split_list(args.get("ignore-labels"));
  }
  o.request.stride = stride;

  auto engine = open_engine(o);
  const ModelInfo& info = engine->info();
  if (std::find(info.tasks.begin(), info.tasks.end(), "token_classify") == info.tasks.end())
    throw Error(ErrorKind::unsupported,
                fmt::format("model '{}' ({}) cannot tag tokens: it supports {}", o.engine.model_dir,
                            info.architecture, fmt::join(info.tasks, ", ")));

  InputReader reader(o, args.positionals(), false);
  RunSetup setup{
      fmt::format("{:<7} {:<12} {:<8} {:<11} {}", "index", "entity", "score", "start-end", "word"),
      info.device, [&] { return engine->stats(); }};
  const bool per_token = agg == Aggregation::none;
  return run_batches(
      o, reader, setup, [&](const std::vector<const Record*>& records) -> PendingBatch {
        std::vector<Outcome> out(records.size());
        Request req;
        req.task = Task::token_classify;
        req.params = o.request;
        std::vector<size_t> input_of;
        for (size_t i = 0; i < records.size(); ++i) {
          if (records[i]->text_pair) {
            out[i].error = "field \"text_pair\": token-classify takes single texts";
            continue;
          }
          req.inputs.push_back({records[i]->text, std::nullopt});
          req.inputs.back().chat = records[i]->chat;
          input_of.push_back(i);
        }
        std::shared_ptr<Ticket> ticket =
            req.inputs.empty() ? nullptr : engine->submit(std::move(req));
        return [&o, records, ticket, input_of, raw, per_token, out]() mutable {
          std::vector<TokenClassifyResult> results;
          if (ticket) results = ticket->take().token_classify;
          for (size_t k = 0; k < input_of.size(); ++k) {
            size_t i = input_of[k];
            const Record& rec = *records[i];
            TokenClassifyResult& r = results[k];
            out[i].tokens = r.prompt_tokens;
            if (!r.ok()) {
              out[i].error = r.error;
              continue;
            }
            nlohmann::ordered_json j;
            j["index"] = rec.index;
            if (rec.id) j["id"] = *rec.id;
            if (raw) {
              nlohmann::ordered_json data = nlohmann::ordered_json::array();
              for (const TokenScore& s : r.tokens) data.push_back(s.probs);
              j["data"] = std::move(data);
              out[i].lines.push_back(json_line(j));
              continue;
            }
            if (o.format == "table") {
              if (r.entities.empty())
                out[i].lines.push_back(fmt::format("{:<7} {:<12}", rec.index, "-"));
              for (const EntitySpan& e : r.entities)
                out[i].lines.push_back(fmt::format(
                    "{:<7} {} {:<8.4f} {:<11} {}", rec.index, table_cell(e.entity, 12), e.score,
                    fmt::format("{}-{}", e.start, e.end), table_cell(one_line(e.word), 50)));
              continue;
            }
            nlohmann::ordered_json list = nlohmann::ordered_json::array();
            for (const EntitySpan& e : r.entities) list.push_back(entity_json(e, per_token));
            j["entities"] = std::move(list);
            out[i].lines.push_back(json_line(j));
          }
          return out;
        };
      });
}

}  // namespace vkcls::cli
