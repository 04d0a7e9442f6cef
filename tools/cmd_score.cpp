// vkcls score (alias rerank): cross-encoder scores, vLLM's /score and /rerank.
//   pairs: JSONL {"text", "text_pair"} or CSV/TSV with --pair-column, or --query Q with one
//          document per input  ->  {"index", "id" (if given), "score"}
//   rerank: JSONL {"query", "documents": [...]}, or `vkcls score QUERY DOC...`
//          ->  {"index", "id", "results": [{"index", "relevance_score", "document": {"text"}},
//          ...]} highest score first (ties keep document order); --top-n keeps the best N.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <numeric>

#include "tools/commands.h"
#include "tools/io_input.h"
#include "tools/io_options.h"
#include "tools/io_output.h"

namespace vkcls::cli {

int cmd_score(int argc, char** argv) {
  Args args("score",
            "Score (query, document) pairs with a cross-encoder (num_labels 1): JSONL {\"text\", "
            "\"text_pair\"} or "
            "{\"query\", \"documents\"}, CSV/TSV with --pair-column, --query Q with one document "
            "per input, or "
            "`vkcls score QUERY DOC...`.");
  add_common_options(args);
  args.option("query", "", "score every input text as a document against this query");
  args.option("top-n", "0", "rerank: keep the N best documents (0: all)");
  add_score_template_options(args);
  if (!args.parse(argc, argv)) return 2;
  if (args.help_requested()) return std::fputs(args.help().c_str(), stdout), 0;

  CommonOptions o = read_common_options(args, "score");
  read_score_template_options(args, o.engine, o.request);
  long top_n = args.get_int("top-n");
  if (top_n < 0) throw std::invalid_argument(fmt::format("--top-n must be >= 0, got {}", top_n));
  std::optional<std::string> query;
  if (args.has("query")) query = args.get("query");
  auto engine = open_engine(o);
  const ModelInfo& info = engine->info();
  if (std::find(info.tasks.begin(), info.tasks.end(), "score") == info.tasks.end())
    throw Error(ErrorKind::unsupported,
                fmt::format("model '{}' ({}, {} labels) cannot score pairs: a cross-encoder has 1 "
                            "label; it supports {}",
                            o.engine.model_dir, info.architecture, info.num_labels,
                            fmt::join(info.tasks, ", ")));

  std::unique_ptr<InputReader> reader;
  const auto& pos = args.positionals();
  if (!pos.empty() && !query) {
    if (pos.size() < 2)
      throw std::invalid_argument(
          "score with arguments takes a query and at least one document: vkcls score QUERY DOC...");
    Record r;
    r.query = pos[0];
    r.documents.assign(pos.begin() + 1, pos.end());
    std::vector<Record> one;
    one.push_back(std::move(r));
    reader = std::make_unique<InputReader>(std::move(one));
  } else {
    reader = std::make_unique<InputReader>(o, pos, true);
  }

  RunSetup setup{fmt::format("{:<7} {:<6} {:<8} {}", "index", "doc", "score", "text"), info.device,
                 [&] { return engine->stats(); }};
  return run_batches(
      o, *reader, setup, [&](const std::vector<const Record*>& records) -> PendingBatch {
        std::vector<Outcome> out(records.size());
        // plain pairs go to the engine as one request; each rerank record is a request of its own
        Request pairs;
        pairs.task = Task::score;
        pairs.params = o.request;
        std::vector<size_t> pair_of;
        std::vector<std::pair<size_t, std::shared_ptr<Ticket>>> reranks;
        for (size_t i = 0; i < records.size(); ++i) {
          const Record& rec = *records[i];
          if (rec.query) {
            if (rec.documents.empty()) {
              out[i].error = "field \"documents\" is empty";
              continue;
            }
            Request r;
            r.task = Task::score;
            r.params = o.request;
            for (const std::string& d : rec.documents) r.inputs.push_back({*rec.query, d});
            reranks.emplace_back(i, engine->submit(std::move(r)));
            continue;
          }
          if (query)
            pairs.inputs.push_back({*query, rec.text});
          else if (rec.text_pair)
            pairs.inputs.push_back({rec.text, rec.text_pair});
          else {
            out[i].error =
                "field \"text_pair\" is missing: score needs pairs (text + text_pair, query + "
                "documents, or --query)";
            continue;
          }
          pair_of.push_back(i);
        }
        std::vector<TextInput> shown = pairs.inputs;
        std::shared_ptr<Ticket> pair_ticket =
            pairs.inputs.empty() ? nullptr : engine->submit(std::move(pairs));
        return [&o, records, out, pair_of, shown, pair_ticket, reranks, top_n]() mutable {
          std::vector<ScoreResult> scores;
          if (pair_ticket) scores = pair_ticket->take().score;
          for (size_t k = 0; k < pair_of.size(); ++k) {
            size_t i = pair_of[k];
            const Record& rec = *records[i];
            out[i].tokens = scores[k].prompt_tokens;
            if (!scores[k].ok()) {
              out[i].error = scores[k].error;
              continue;
            }
            if (o.format == "table") {
              out[i].lines.push_back(fmt::format(
                  "{:<7} {:<6} {:<8.4f} {}", rec.index, "", scores[k].score,
                  table_cell(one_line(shown[k].text + " | " + *shown[k].text_pair), 50)));
              continue;
            }
            nlohmann::ordered_json j;
            j["index"] = rec.index;
            if (rec.id) j["id"] = *rec.id;
            j["score"] = scores[k].score;
            out[i].lines.push_back(json_line(j));
          }
          for (auto& [i, ticket] : reranks) {
            const Record& rec = *records[i];
            std::vector<ScoreResult> s = ticket->take().score;
            for (size_t d = 0; d < s.size(); ++d) {
              out[i].tokens += s[d].prompt_tokens;
              if (!s[d].ok() && out[i].error.empty())
                out[i].error = fmt::format("documents[{}]: {}", d, s[d].error);
            }
            if (!out[i].error.empty()) continue;
            std::vector<size_t> order(s.size());
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(),
                             [&](size_t a, size_t b) { return s[a].score > s[b].score; });
            if (top_n > 0 && size_t(top_n) < order.size()) order.resize(size_t(top_n));
            if (o.format == "table") {
              for (size_t d : order)
                out[i].lines.push_back(fmt::format("{:<7} {:<6} {:<8.4f} {}", rec.index, d,
                                                   s[d].score,
                                                   table_cell(one_line(rec.documents[d]), 50)));
              continue;
            }
            nlohmann::ordered_json results = nlohmann::ordered_json::array();
            for (size_t d : order)
              results.push_back({{"index", d},
                                 {"relevance_score", s[d].score},
                                 {"document", {{"text", rec.documents[d]}}}});
            nlohmann::ordered_json j;
            j["index"] = rec.index;
            if (rec.id) j["id"] = *rec.id;
            j["results"] = std::move(results);
            out[i].lines.push_back(json_line(j));
          }
          return out;
        };
      });
}

}  // namespace vkcls::cli
