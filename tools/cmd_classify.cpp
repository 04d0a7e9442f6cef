// vkcls classify: sequence classification, one JSON line per input (vLLM's /classify data):
//   {"index", "id" (if given), "label", "probs", "num_classes"}
//   --top-k N adds "top_k": [{"label", "score"}, ...], highest first, as the Hugging Face
//   text-classification pipeline sorts them (stable: equal scores keep label order).
#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "tools/commands.h"
#include "tools/io_input.h"
#include "tools/io_options.h"
#include "tools/io_output.h"

namespace vkcls::cli {

int cmd_classify(int argc, char** argv) {
  Args args("classify",
            "Classify texts (arguments, lines, JSONL {\"text\", \"text_pair\", \"id\"} or CSV/TSV) with a "
            "*ForSequenceClassification model; writes {\"index\", \"label\", \"probs\", \"num_classes\"} per input.");
  add_common_options(args);
  args.option("top-k", "0", "add \"top_k\": the N best labels with their scores (0: off, -1: all)");
  if (!args.parse(argc, argv)) return 2;
  if (args.help_requested()) return std::fputs(args.help().c_str(), stdout), 0;

  CommonOptions o = read_common_options(args, "classify");
  long top_k = args.get_int("top-k");
  if (top_k < -1) throw std::invalid_argument(fmt::format("--top-k must be -1, 0 or a positive count, got {}", top_k));
  auto engine = open_engine(o);
  const ModelInfo& info = engine->info();
  if (std::find(info.tasks.begin(), info.tasks.end(), "classify") == info.tasks.end())
    throw std::invalid_argument(fmt::format("model '{}' ({}) cannot classify: it supports {}", o.engine.model_dir,
                                            info.architecture, fmt::join(info.tasks, ", ")));
  InputReader reader(o, args.positionals(), false);

  auto label_name = [&](size_t i) {
    return info.has_labels && i < info.labels.size() ? info.labels[i] : fmt::format("LABEL_{}", i);
  };
  RunSetup setup{fmt::format("{:<7} {:<20} {:<8} {}", "index", "label", "score", "text"), info.device};
  return run_batches(o, reader, setup, [&](const std::vector<const Record*>& records) {
    std::vector<TextInput> inputs;
    for (const Record* r : records) inputs.push_back({r->text, r->text_pair});
    std::vector<ClassifyResult> results = engine->classify(inputs, o.request);
    std::vector<Outcome> out(records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      const Record& rec = *records[i];
      ClassifyResult& r = results[i];
      out[i].tokens = r.prompt_tokens;
      if (!r.ok()) {
        out[i].error = r.error;
        continue;
      }
      std::string label = r.has_label ? r.label : label_name(size_t(r.label_index));
      if (o.format == "table") {
        std::string text = one_line(rec.text_pair ? rec.text + " | " + *rec.text_pair : rec.text);
        out[i].lines.push_back(fmt::format("{:<7} {} {:<8.4f} {}", rec.index, table_cell(label, 20),
                                           r.probs[size_t(r.label_index)], table_cell(text, 50)));
        continue;
      }
      nlohmann::ordered_json j;
      j["index"] = rec.index;
      if (rec.id) j["id"] = *rec.id;
      j["label"] = label;
      j["probs"] = r.probs;
      j["num_classes"] = r.num_classes;
      if (top_k != 0) {
        std::vector<size_t> order(r.probs.size());
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return r.probs[a] > r.probs[b]; });
        if (top_k > 0 && size_t(top_k) < order.size()) order.resize(size_t(top_k));
        nlohmann::ordered_json list = nlohmann::ordered_json::array();
        for (size_t c : order) list.push_back({{"label", label_name(c)}, {"score", r.probs[c]}});
        j["top_k"] = std::move(list);
      }
      out[i].lines.push_back(json_line(j));
    }
    return out;
  });
}

}  // namespace vkcls::cli
