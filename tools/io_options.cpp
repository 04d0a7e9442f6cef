#include "tools/io_options.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "common/json_bounded.h"

namespace vkcls::cli {

namespace fs = std::filesystem;

void add_common_options(Args& args) {
  args.option(
      "model", "",
      "model folder (config.json, model.safetensors, tokenizer.json) or a Hugging Face hub id "
      "(ORG/NAME) in the local hub cache; default: $VKCLS_DEFAULT_MODEL, else the first folder "
      "in assets/models/ of the vkcls checkout");
  add_device_options(args);
  add_model_options(args);
  args.option("truncate", "",
              "keep N tokens of a longer input (-1: the model's maximum); default: a longer input "
              "is an error");
  args.option("truncation-side", "right", "right | left");
  args.flag("no-special-tokens", "do not add [CLS]/[SEP] (or <s>/</s>) around the text");
  args.flag("raw-logits", "write logits instead of activated probabilities/scores");
  args.option("input", "",
              "read inputs from FILE (default: the texts given as arguments, else stdin)");
  args.option("input-format", "auto",
              "auto | lines | jsonl | csv | tsv (auto: by file extension, else jsonl when the "
              "first line starts with '{')");
  args.option("text-column", "text", "CSV/TSV column with the text");
  args.option("pair-column", "text_pair",
              "CSV/TSV column with the second text of a pair (used when present)");
  args.option("id-column", "id",
              "CSV/TSV column carried to the output as \"id\" (used when present)");
  args.option("batch-size", "256", "inputs read, run and written at a time (bounds memory)");
  args.option("max-line-bytes", "8388608",
              "an input line (or CSV record line) longer than this is reported and skipped");
  args.option("output", "", "write results to FILE (default: stdout)");
  args.option("format", "jsonl", "jsonl | table");
  args.flag("quiet", "no progress bar and no summary on stderr");
  args.flag("strict", "stop at the first bad input with exit code 1");
}

void add_shard_options(Args& args) {
  args.option("shard", "",
              "I/N: take only the inputs whose 0-based index is I mod N (part I of an array job of "
              "N, from 0); with --output PATH, write the part's own file (3/8: out.jsonl -> "
              "out.shard-00003-of-00008.jsonl) when it is done, and skip a part already done");
  args.flag("overwrite", "with --shard: run the part again even when its output is there");
}

void add_device_options(Args& args) {
  args.option("device", "-1", "Vulkan device index (see `vkcls info`); -1 picks the best");
  args.option("dtype", "auto", "weights on the device: auto | f32 | f16");
  args.option("max-batch-tokens", "0",
              "tokens packed into one device batch; 0: 8192 on a GPU, 2048 on a CPU driver");
}

void add_model_options(Args& args) {
  args.option(
      "revision", "",
      "with --model ORG/NAME: the branch, tag or commit in the Hugging Face cache (default main)");
  args.flag(
      "download",
      "with --model ORG/NAME: download the model into the Hugging Face cache when it is not there "
      "($HF_ENDPOINT, $HF_TOKEN)");
  args.option(
      "pooler-config", "",
      "vLLM's PoolerConfig as JSON, e.g. '{\"pooling_type\": \"MEAN\", \"logit_bias\": 2.0}' "
      "(task, pooling_type, seq_pooling_type, tok_pooling_type, use_activation, dimensions, "
      "logit_mean, logit_sigma, logit_bias, logit_scale, step_tag_id, returned_token_ids)");
  args.option("hf-overrides", "",
              "JSON object merged into config.json, as vLLM's --hf-overrides "
              "(e.g. '{\"architectures\": [\"Qwen3ForSequenceClassification\"]}')");
  args.option("max-input-bytes", std::to_string(EngineOptions{}.max_input_bytes),
              "a longer text is that input's error, found before tokenizing it (0: no limit)");
  args.option("kv-cache-memory", "0",
              "causal decoders: bytes of the paged KV cache, e.g. 2G, 512M (0: a quarter of the "
              "device memory past the weights, at most four full batches' worth)");
  args.flag("no-prefix-cache",
            "causal decoders: compute every prompt in full (no pages shared between requests)");
}

void add_chat_options(Args& args, bool kwargs) {
  args.option("chat-template", "",
              "a Jinja chat template (file, or the template itself) for {\"messages\": [...]} "
              "inputs instead of the model's (tokenizer_config.json chat_template, "
              "chat_template.jinja)");
  if (kwargs)
    args.option("chat-template-kwargs", "",
                "JSON object of extra chat template variables for every {\"messages\"} line "
                "(e.g. '{\"enable_thinking\": false}'; a line's own \"chat_template_kwargs\" "
                "wins)");
}

void add_score_template_options(Args& args) {
  args.option("chat-template", "",
              "a Jinja score template (file, or the template itself) rendering each pair as "
              "[{\"role\": \"query\"}, {\"role\": \"document\"}], as vLLM's --chat-template "
              "(e.g. assets/templates/qwen3_reranker.jinja)");
  args.option("chat-template-kwargs", "",
              "JSON object of extra score template variables (e.g. '{\"instruction\": \"...\"}')");
  args.option("instruction", "", "the score template's `instruction` variable (Qwen3-Reranker)");
}

namespace {

// vLLM's rule for --chat-template: a file when one is there, else the value itself when it
// looks like a template (has '{', '}' or a newline), else an error naming the path.
std::string read_template_arg(const std::string& value) {
  std::ifstream in(value, std::ios::binary);
  if (in) {
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  if (value.find_first_of("{}\n") != std::string::npos) return value;
  throw std::invalid_argument(fmt::format(
      "--chat-template: cannot read '{}' (not a file, and not a template either)", value));
}

std::string read_kwargs_arg(const std::string& kw) {
  nlohmann::json j;
  try {
    j = json_parse_bounded<nlohmann::json>(kw);
  } catch (const JsonParseError& err) {
    throw std::invalid_argument(
        fmt::format("--chat-template-kwargs: not valid JSON ({})", err.what()));
  }
  if (!j.is_object())
    throw std::invalid_argument(
        fmt::format("--chat-template-kwargs: expected a JSON object, got {}", j.type_name()));
  return kw;
}

}  // namespace

void read_chat_options(const Args& args, EngineOptions& e, ChatInput* defaults) {
  if (std::string t = args.get("chat-template"); !t.empty()) e.chat_template = read_template_arg(t);
  if (!defaults) return;
  if (std::string kw = args.get("chat-template-kwargs"); !kw.empty())
    defaults->chat_template_kwargs_json = read_kwargs_arg(kw);
}

void read_score_template_options(const Args& args, EngineOptions& e, RequestParams& p) {
  if (std::string t = args.get("chat-template"); !t.empty()) e.chat_template = read_template_arg(t);
  if (std::string kw = args.get("chat-template-kwargs"); !kw.empty())
    p.chat_template_kwargs_json = read_kwargs_arg(kw);
  if (args.has("instruction")) p.instruction = args.get("instruction");
}

// "4096", "512K", "64M", "2G" (binary units) -> bytes
uint64_t parse_bytes(const std::string& option, const std::string& v) {
  size_t used = 0;
  unsigned long long n = 0;
  try {
    n = std::stoull(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string unit = used ? v.substr(used) : "";
  const int shift = unit.empty() ? 0 : unit == "K" ? 10 : unit == "M" ? 20 : unit == "G" ? 30 : -1;
  if (!used || v[0] == '-' || shift < 0 || n > (~0ull >> shift))
    throw std::invalid_argument(
        fmt::format("--{}: '{}' is not a byte count (digits, optionally K, M or G)", option, v));
  return uint64_t(n) << shift;
}

void read_model_options(const Args& args, EngineOptions& e) {
  if (!args.get("pooler-config").empty()) {
    try {
      e.pooler = parse_pooler_config(args.get("pooler-config"));
    } catch (const Error& err) {
      throw std::invalid_argument(fmt::format("--pooler-config: {}", err.what()));
    }
  }
  e.hf_overrides = args.get("hf-overrides");
  e.revision = args.get("revision");
  e.download = args.has("download");
  const long max_input = args.get_int("max-input-bytes");
  if (max_input < 0)
    throw std::invalid_argument(fmt::format("--max-input-bytes must be >= 0, got {}", max_input));
  e.max_input_bytes = size_t(max_input);
  e.kv_cache_memory = parse_bytes("kv-cache-memory", args.get("kv-cache-memory"));
  e.prefix_cache = !args.has("no-prefix-cache");
}

namespace {

std::string one_of(const Args& args, const std::string& name,
                   const std::vector<std::string>& choices) {
  std::string v = args.get(name);
  if (std::find(choices.begin(), choices.end(), v) == choices.end())
    throw std::invalid_argument(
        fmt::format("--{}: '{}' is not one of {}", name, v, fmt::join(choices, ", ")));
  return v;
}

fs::path self_exe_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

}  // namespace

std::string default_model_dir() {
  if (const char* env = std::getenv("VKCLS_DEFAULT_MODEL"); env && *env) return env;
  for (fs::path dir = self_exe_dir(); !dir.empty(); dir = dir.parent_path()) {
    fs::path models = dir / "assets" / "models";
    std::error_code ec;
    if (fs::is_directory(models, ec)) {
      std::vector<fs::path> found;
      for (const auto& e : fs::directory_iterator(models, ec))
        if (e.is_directory()) found.push_back(e.path());
      std::sort(found.begin(), found.end());
      if (!found.empty()) return found.front().string();
    }
    if (dir == dir.root_path()) break;
  }
  throw std::invalid_argument(
      "no model: pass --model DIR (a Hugging Face model folder) or set VKCLS_DEFAULT_MODEL; "
      "no folder was found under assets/models/ above the vkcls binary");
}

void read_device_options(const Args& args, EngineOptions& e) {
  e.device = int(args.get_int("device"));
  e.dtype = one_of(args, "dtype", {"auto", "f32", "f16"});
  e.max_batch_tokens = args.get_int("max-batch-tokens");
  if (e.max_batch_tokens < 0)
    throw std::invalid_argument(
        fmt::format("--max-batch-tokens must be >= 0, got {}", e.max_batch_tokens));
}

CommonOptions read_common_options(const Args& args, const std::string& command) {
  CommonOptions o;
  o.command = command;
  o.engine.model_dir = args.get("model").empty() ? default_model_dir() : args.get("model");
  read_device_options(args, o.engine);
  read_model_options(args, o.engine);
  if (!args.get("truncate").empty()) {
    long k = args.get_int("truncate");
    if (k != -1 && k < 1)
      throw std::invalid_argument(fmt::format("--truncate must be -1 or >= 1, got {}", k));
    o.request.truncate_prompt_tokens = k;
  }
  o.request.truncation_side = one_of(args, "truncation-side", {"right", "left"});
  o.request.add_special_tokens = !args.has("no-special-tokens");
  o.request.use_activation = !args.has("raw-logits");
  o.input = args.get("input");
  o.input_format = one_of(args, "input-format", {"auto", "lines", "jsonl", "csv", "tsv"});
  o.text_column = args.get("text-column");
  o.pair_column = args.get("pair-column");
  o.id_column = args.get("id-column");
  long batch = args.get_int("batch-size");
  if (batch < 1)
    throw std::invalid_argument(fmt::format("--batch-size must be >= 1, got {}", batch));
  o.batch_size = size_t(batch);
  long max_line = args.get_int("max-line-bytes");
  if (max_line < 1)
    throw std::invalid_argument(fmt::format("--max-line-bytes must be >= 1, got {}", max_line));
  o.max_line_bytes = size_t(max_line);
  o.output = args.get("output");
  o.format = one_of(args, "format", {"jsonl", "table"});
  o.quiet = args.has("quiet");
  o.strict = args.has("strict");
  if (!o.input.empty() && !args.positionals().empty())
    throw std::invalid_argument("give texts as arguments or --input FILE, not both");
  return o;
}

void read_shard_options(const Args& args, CommonOptions& o) {
  o.overwrite = args.has("overwrite");
  std::string v = args.get("shard");
  if (v.empty()) {
    if (o.overwrite) throw std::invalid_argument("--overwrite applies only with --shard I/N");
    return;
  }
  // I/N: two decimal numbers, nothing else (no sign, no spaces)
  auto number = [&](const std::string& s, size_t& out) {
    if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
      return false;
    out = size_t(std::stoull(s));
    return true;
  };
  size_t slash = v.find('/');
  size_t i = 0, n = 0;
  if (slash == std::string::npos || !number(v.substr(0, slash), i) ||
      !number(v.substr(slash + 1), n))
    throw std::invalid_argument(fmt::format(
        "--shard: expected I/N with 0 <= I < N (e.g. 3/8: part 3 of 8, counted from 0), got '{}'",
        v));
  if (n < 1 || n > kMaxShards)
    throw std::invalid_argument(
        fmt::format("--shard {}: the count N must be 1 to {}, got {}", v, kMaxShards, n));
  if (i >= n)
    throw std::invalid_argument(fmt::format(
        "--shard {}: the index I must be below the count {} (parts are 0 to {})", v, n, n - 1));
  o.shard_index = i;
  o.shard_count = n;
  if (!o.output.empty() && o.output != "-") {
    o.output = shard_output_path(o.output, i, n);
    o.shard_output = true;
  }
}

std::string shard_output_path(const std::string& output, size_t index, size_t count) {
  std::string tag = fmt::format(".shard-{:05d}-of-{:05d}", index, count);
  size_t name = output.find_last_of('/');
  name = name == std::string::npos ? 0 : name + 1;
  size_t dot = output.find_last_of('.');
  if (dot == std::string::npos || dot <= name) return output + tag;  // "out", ".hidden"
  return output.substr(0, dot) + tag + output.substr(dot);
}

std::unique_ptr<Engine> open_engine(const CommonOptions& o) {
  return Engine::open(o.engine);
}

}  // namespace vkcls::cli
