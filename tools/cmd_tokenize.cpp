// vkcls tokenize: JSON lines in, JSON lines out, through a Hugging Face
// tokenizer.json (or an old BERT folder with vocab.txt).
//   in:  {"text": ..., "text_pair": ... (opt), "add_special_tokens": bool (opt)}
//   out: {"ids", "type_ids", "offsets" (code points, specials [0,0]), "tokens"}
// A bad line gets {"error": "line N: ..."} and a stderr message; the others
// go on. Exit code 1 if any line failed, 2 on usage or tokenizer errors.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tools/args.h"
#include "common/json_bounded.h"
#include "tools/commands.h"

namespace vkcls::cli {

namespace {

// ordered_json keeps the documented key order.
nlohmann::ordered_json encoding_json(const Encoding& e) {
  nlohmann::ordered_json offsets = nlohmann::ordered_json::array();
  for (const Offset& o : e.char_offsets) offsets.push_back({o.start, o.end});
  return {{"ids", e.ids}, {"type_ids", e.type_ids}, {"offsets", std::move(offsets)}, {"tokens", e.tokens}};
}

std::string dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
  Args args("tokenize",
            "Tokenize JSON lines from stdin: {\"text\", \"text_pair\" (optional), \"add_special_tokens\" "
            "(optional, default true)}; writes {\"ids\", \"type_ids\", \"offsets\", \"tokens\"} per line.");
  args.option("tokenizer", "", "path to tokenizer.json");
  args.option("model", "", "model folder (tokenizer.json, or vocab.txt + tokenizer_config.json)");
  args.option("max-length", "0", "truncate to this many tokens (0: as tokenizer.json says)");
  args.option("stride", "0", "overlap between truncation windows");
  if (!args.parse(argc, argv)) return 2;
  if (args.help_requested()) {
    std::fputs(args.help().c_str(), stdout);
    return 0;
  }
  if (args.get("tokenizer").empty() == args.get("model").empty()) {
    std::fprintf(stderr, "vkcls tokenize: give exactly one of --tokenizer PATH or --model DIR\n");
    return 2;
  }
  std::optional<Tokenizer> tok;
  TruncationParams trunc;
  try {
    tok = args.get("tokenizer").empty() ? Tokenizer::from_model_dir(args.get("model"))
                                        : Tokenizer::from_file(args.get("tokenizer"));
    trunc = tok->default_truncation();
    long max_len = args.get_int("max-length"), stride = args.get_int("stride");
    if (max_len < 0 || stride < 0) throw std::invalid_argument("--max-length and --stride must be >= 0");
    if (max_len > 0) trunc.max_length = static_cast<size_t>(max_len);
    if (args.has("stride")) trunc.stride = static_cast<size_t>(stride);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vkcls tokenize: %s\n", e.what());
    return 2;
  }

  std::ios::sync_with_stdio(false);
  std::string line;
  size_t line_no = 0;
  bool any_failed = false;
  while (std::getline(std::cin, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines are skipped
    std::string out;
    try {
      if (size_t bad = tok::utf8_find_invalid(line); bad != std::string::npos)
        throw std::runtime_error("invalid UTF-8 at byte " + std::to_string(bad));
      nlohmann::json in;
      try {
        in = json_parse_bounded<nlohmann::json>(line);
      } catch (const JsonParseError& e) {
        throw std::runtime_error(std::string("invalid JSON: ") + e.what());
      }
      if (!in.is_object()) throw std::runtime_error("expected a JSON object");
      if (!in.contains("text") || !in["text"].is_string())
        throw std::runtime_error("missing string field \"text\"");
      bool special = true;
      if (in.contains("add_special_tokens")) {
        if (!in["add_special_tokens"].is_boolean())
          throw std::runtime_error("\"add_special_tokens\" must be a boolean");
        special = in["add_special_tokens"].get<bool>();
      }
      const std::string& text = in["text"].get_ref<const std::string&>();
      Encoding e;
      if (in.contains("text_pair") && !in["text_pair"].is_null()) {
        if (!in["text_pair"].is_string()) throw std::runtime_error("\"text_pair\" must be a string or null");
        e = tok->encode_pair(text, in["text_pair"].get_ref<const std::string&>(), special, &trunc);
      } else {
        e = tok->encode(text, special, &trunc);
      }
      out = dump(encoding_json(e));
    } catch (const std::exception& e) {
      any_failed = true;
      std::string msg = "line " + std::to_string(line_no) + ": " + e.what();
      std::fprintf(stderr, "vkcls tokenize: %s\n", msg.c_str());
      out = dump(nlohmann::ordered_json{{"error", msg}});
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fputc('\n', stdout);
  }
  return any_failed ? 1 : 0;
}

}  // namespace vkcls::cli
