// Options shared by classify, token-classify, score and embed: the model, the device,
// truncation, input and output. add_common_options declares them (so --help lists them
// with their defaults); read_common_options checks them and throws std::invalid_argument
// naming the option and the limit.
#pragma once
#include <memory>
#include <string>

#include "tools/args.h"
#include "vkcls/engine.h"

namespace vkcls::cli {

struct CommonOptions {
  std::string command;  // "classify", ... (for messages)
  EngineOptions engine;
  RequestParams request;
  std::string output;            // "" = stdout
  std::string format = "jsonl";  // "jsonl" | "table"
  bool quiet = false, strict = false;
  std::string input;                  // "" = stdin (or the positional texts)
  std::string input_format = "auto";  // "auto" | "lines" | "jsonl" | "csv" | "tsv"
  std::string text_column = "text", pair_column = "text_pair", id_column = "id";
  size_t batch_size = 256;
  size_t max_line_bytes = size_t(8) << 20;  // longer input lines are reported and skipped
  // JSONL {"messages": [...]} lines (classify, ner): accepted, and the defaults their chat
  // inputs start from (--chat-template-kwargs); the template itself is engine.chat_template.
  bool accept_messages = false;
  ChatInput chat;
  // --shard I/N (add_shard_options): this run takes the records whose index is I mod N, and
  // with --output PATH writes shard_output_path(PATH, I, N), atomically, once the input is done.
  size_t shard_index = 0, shard_count = 1;
  bool overwrite = false;     // --overwrite: run a shard whose finished output exists
  bool shard_output = false;  // output is a shard's file: written as output + ".partial" (locked),
                              // renamed to output when the input is done; a rerun skips it then
};

void add_common_options(Args& args);
// --pooler-config and --hf-overrides (every command that opens a model, serve included).
void add_model_options(Args& args);
void read_model_options(const Args& args, EngineOptions& engine);
// --device, --dtype, --max-batch-tokens: where and how the engine runs (every model command
// and `vkcls bench`)
void add_device_options(Args& args);
void read_device_options(const Args& args, EngineOptions& engine);
CommonOptions read_common_options(const Args& args, const std::string& command);
// --shard I/N and --overwrite (classify). read_shard_options checks 0 <= I < N <= kMaxShards
// and throws std::invalid_argument naming --shard and the limit; call after read_common_options
// (it turns --output into the shard's file).
constexpr size_t kMaxShards = 1000000;
void add_shard_options(Args& args);
void read_shard_options(const Args& args, CommonOptions& options);
// Where shard I of N writes with --output PATH: ".shard-IIIII-of-NNNNN" (5 digits, zero-padded)
// inserted before the file name's last extension, or appended when it has none:
//   out.jsonl -> out.shard-00003-of-00008.jsonl     results/out -> results/out.shard-00003-of-00008
std::string shard_output_path(const std::string& output, size_t index, size_t count);

// --chat-template FILE (classify, ner, serve) and, with `kwargs`, --chat-template-kwargs JSON
// (classify, ner). read_chat_options reads the file into engine.chat_template and checks the
// kwargs are a JSON object (std::invalid_argument naming the option otherwise).
void add_chat_options(Args& args, bool kwargs);
void read_chat_options(const Args& args, EngineOptions& engine, ChatInput* defaults);
// vkcls score: --chat-template (a score template: engine.chat_template), --chat-template-kwargs
// and --instruction (its variables, request.chat_template_kwargs_json / instruction).
void add_score_template_options(Args& args);
void read_score_template_options(const Args& args, EngineOptions& engine, RequestParams& request);

// --model's default: $VKCLS_DEFAULT_MODEL, else the first folder (by name) under the
// assets/models/ found walking up from the vkcls binary; throws with what to pass when none.
std::string default_model_dir();

std::unique_ptr<Engine> open_engine(const CommonOptions& options);

}  // namespace vkcls::cli
