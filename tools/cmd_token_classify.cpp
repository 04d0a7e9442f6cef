// vkcls token-classify (alias ner): per-token labels and entity spans.
//   default:  {"index", "id" (if given), "entities": [...]}, the Hugging Face
//             token-classification pipeline's output (poolers/token_aggregation.h):
//             --aggregation none   -> {"entity", "score", "index", "word", "start", "end"} per token
//             --aggregation simple (the default here; HF's default is none) | first | average | max
//                                  -> {"entity_group", "score", "word", "start", "end"} per entity
//             start/end: Unicode code points. Scores: softmax of the logits, as the pipeline does.
//   --raw:    {"index", "data": [[per-label scores] per token]}, vLLM's token_classify output
//             (the model's activation, or logits with --raw-logits).
//   --stride S: a text longer than the model's limit (or --truncate N) runs as windows of that
//             many tokens overlapping by S; each window is aggregated and the entities are merged
//             as the pipeline does with stride (overlaps: the longer entity wins, then the higher score).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "poolers/token_aggregation.h"
#include "poolers/activation.h"
#include "tools/commands.h"
#include "tools/io_input.h"
#include "tools/io_options.h"
#include "tools/io_output.h"
#include "tools/io_tokens.h"

namespace vkcls::cli {

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// the pipeline's softmax (float64 here; the pipeline's float32 agrees within 1e-6)
std::vector<float> softmax(const float* logits, size_t n) {
  std::vector<float> row(logits, logits + n);
  apply_activation(Activation::softmax, row);  // double precision, like the pipeline's
  return row;
}

nlohmann::ordered_json entity_json(const Entity& e, bool per_token) {
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
            "Tag the tokens of texts (NER) with a *ForTokenClassification model; writes {\"index\", \"entities\"} "
            "per input, as the Hugging Face token-classification pipeline does, or per-token scores with --raw.");
  add_common_options(args);
  args.option("aggregation", "simple", "none | simple | first | average | max (the pipeline's aggregation_strategy)");
  args.option("ignore-labels", "O", "comma-separated labels left out of the entities");
  args.flag("raw", "write {\"index\", \"data\"}: the per-token score rows (vLLM's token_classify)");
  args.option("stride", "0", "tokens of overlap between windows of a long text (0: no windows)");
  if (!args.parse(argc, argv)) return 2;
  if (args.help_requested()) return std::fputs(args.help().c_str(), stdout), 0;

  CommonOptions o = read_common_options(args, "token-classify");
  AggregationOptions agg;
  agg.strategy = aggregation_from_string(args.get("aggregation"));
  agg.ignore_labels = split_list(args.get("ignore-labels"));
  bool raw = args.has("raw");
  long stride = args.get_int("stride");
  if (stride < 0) throw std::invalid_argument(fmt::format("--stride must be >= 0, got {}", stride));
  if (args.has("raw-logits") && !raw) throw std::invalid_argument("--raw-logits applies only with --raw (entities use probabilities)");
  if (stride > 0 && raw) throw std::invalid_argument("--stride and --raw do not go together: windows are merged as entities");
  if (stride > 0 && agg.strategy == Aggregation::None)
    throw std::invalid_argument("--stride needs --aggregation simple, first, average or max (as the pipeline: tokens of overlapping windows cannot be merged)");

  auto engine = open_engine(o);
  const ModelInfo& info = engine->info();
  if (std::find(info.tasks.begin(), info.tasks.end(), "token_classify") == info.tasks.end())
    throw std::invalid_argument(fmt::format("model '{}' ({}) cannot tag tokens: it supports {}", o.engine.model_dir,
                                            info.architecture, fmt::join(info.tasks, ", ")));
  int64_t window = info.max_model_len;
  if (o.request.truncate_prompt_tokens && *o.request.truncate_prompt_tokens > 0) window = *o.request.truncate_prompt_tokens;
  if (stride > 0 && stride >= window - 2)
    throw std::invalid_argument(fmt::format("--stride: {} must be less than the window of {} tokens minus the special tokens", stride, window));
  TokenizerView tv(o.engine.model_dir);
  agg.subwords = tv.subword_marking();
  auto to_string = [&](const std::vector<std::string>& t) { return tv.tokens_to_string(t); };
  std::vector<std::string> labels = info.labels;
  for (size_t c = labels.size(); c < size_t(info.num_labels); ++c) labels.push_back(fmt::format("LABEL_{}", c));
  RequestParams entity_params = o.request;
  entity_params.use_activation = false;  // the pipeline's own softmax, below

  // One window: probabilities and token facts -> entities.
  auto window_entities = [&](const std::string& text, const std::vector<std::vector<float>>& probs, const Encoding* enc,
                             const TokenClassifyResult* r) {
    std::vector<TokenRow> rows(probs.size());
    for (size_t t = 0; t < rows.size(); ++t) {
      rows[t].probs = probs[t];
      if (enc) {
        rows[t].token = enc->tokens[t];
        rows[t].start = enc->char_offsets[t].start;
        rows[t].end = enc->char_offsets[t].end;
        rows[t].special = enc->special_tokens_mask[t];
        rows[t].unk = tv.unk_id() && enc->ids[t] == *tv.unk_id();
      } else {
        const TokenScore& s = r->tokens[t];
        rows[t] = {probs[t], s.token, s.start, s.end, s.special, tv.unk_id() && s.token_id == *tv.unk_id()};
      }
    }
    return aggregate_tokens(text, rows, labels, agg, to_string);
  };

  // Windows of one text with --stride; throws on a failure of this text.
  auto strided = [&](const Record& rec, int64_t& tokens) {
    TruncationParams tp;
    tp.max_length = size_t(window);
    tp.stride = size_t(stride);
    tp.side = o.request.truncation_side == "left" ? TruncationSide::Left : TruncationSide::Right;
    Encoding first = tv.tokenizer().encode(rec.text, o.request.add_special_tokens, &tp);
    std::vector<Encoding> windows;
    windows.push_back(first);
    for (Encoding& w : first.overflowing) windows.push_back(std::move(w));
    std::vector<Engine::IdsInput> ids;
    for (const Encoding& w : windows) ids.push_back({w.ids, w.type_ids});
    std::vector<std::vector<float>> logits = engine->forward_ids(ids, "token_classify");
    std::vector<Entity> all;
    for (size_t w = 0; w < windows.size(); ++w) {
      tokens += int64_t(windows[w].ids.size());
      size_t n = windows[w].ids.size(), width = logits[w].size() / n;
      std::vector<std::vector<float>> probs;
      for (size_t t = 0; t < n; ++t) probs.push_back(softmax(logits[w].data() + t * width, width));
      std::vector<Entity> e = window_entities(rec.text, probs, &windows[w], nullptr);
      all.insert(all.end(), e.begin(), e.end());
    }
    return windows.size() > 1 ? merge_overlapping_entities(std::move(all)) : all;
  };

  InputReader reader(o, args.positionals(), false);
  RunSetup setup{fmt::format("{:<7} {:<12} {:<8} {:<11} {}", "index", "entity", "score", "start-end", "word"), info.device};
  return run_batches(o, reader, setup, [&](const std::vector<const Record*>& records) {
    std::vector<Outcome> out(records.size());
    std::vector<TextInput> inputs;
    std::vector<size_t> input_of;
    for (size_t i = 0; i < records.size(); ++i) {
      if (records[i]->text_pair) {
        out[i].error = "field \"text_pair\": token-classify takes single texts";
        continue;
      }
      if (stride == 0) inputs.push_back({records[i]->text, std::nullopt}), input_of.push_back(i);
    }
    std::vector<TokenClassifyResult> results;
    if (!inputs.empty()) results = engine->token_classify(inputs, raw ? o.request : entity_params);
    std::vector<std::vector<Entity>> entities(records.size());
    for (size_t k = 0; k < input_of.size(); ++k) {
      size_t i = input_of[k];
      TokenClassifyResult& r = results[k];
      out[i].tokens = r.prompt_tokens;
      if (!r.ok()) {
        out[i].error = r.error;
        continue;
      }
      if (raw) {
        nlohmann::ordered_json data = nlohmann::ordered_json::array();
        for (const TokenScore& s : r.tokens) data.push_back(s.probs);
        nlohmann::ordered_json j;
        j["index"] = records[i]->index;
        if (records[i]->id) j["id"] = *records[i]->id;
        j["data"] = std::move(data);
        out[i].lines.push_back(json_line(j));
        continue;
      }
      std::vector<std::vector<float>> probs;
      for (const TokenScore& s : r.tokens) probs.push_back(softmax(s.probs.data(), s.probs.size()));
      entities[i] = window_entities(records[i]->text, probs, nullptr, &r);
    }
    if (stride > 0)
      for (size_t i = 0; i < records.size(); ++i) {
        if (!out[i].error.empty()) continue;
        try {
          entities[i] = strided(*records[i], out[i].tokens);
        } catch (const std::exception& e) {
          out[i].error = e.what();
        }
      }
    if (raw) return out;
    for (size_t i = 0; i < records.size(); ++i) {
      if (!out[i].error.empty()) continue;
      const Record& rec = *records[i];
      bool per_token = agg.strategy == Aggregation::None;
      if (o.format == "table") {
        if (entities[i].empty()) out[i].lines.push_back(fmt::format("{:<7} {:<12}", rec.index, "-"));
        for (const Entity& e : entities[i])
          out[i].lines.push_back(fmt::format("{:<7} {} {:<8.4f} {:<11} {}", rec.index, table_cell(e.entity, 12), e.score,
                                             fmt::format("{}-{}", e.start, e.end), table_cell(one_line(e.word), 50)));
        continue;
      }
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (const Entity& e : entities[i]) list.push_back(entity_json(e, per_token));
      nlohmann::ordered_json j;
      j["index"] = rec.index;
      if (rec.id) j["id"] = *rec.id;
      j["entities"] = std::move(list);
      out[i].lines.push_back(json_line(j));
    }
    return out;
  });
}

}  // namespace vkcls::cli
