// Reading inputs for the model commands, a batch at a time (memory stays bounded by
// --batch-size whatever the input size).
//
// Sources: the texts given as arguments; else --input FILE or stdin in one of
//   lines  one text per line
//   jsonl  {"text", "text_pair" (optional), "id" (optional, carried to the output)}
//          score also takes {"query", "documents": [...]} (a rerank request);
//          classify and ner {"messages": [...], "id"} (a conversation for the chat template,
//          with optional "add_generation_prompt", "continue_final_message",
//          "add_special_tokens", "chat_template_kwargs")
//   csv / tsv  a header row, then records; --text-column, --pair-column, --id-column;
//          RFC 4180 quoting ("a, ""b""" and newlines inside quotes)
// A bad record (invalid JSON or UTF-8, a missing field, an empty line) comes back with
// `error` set and its line number, so the caller can report it and go on.
#pragma once
#include <cstdint>
#include <istream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tools/io_options.h"

namespace vkcls::cli {

struct Record {
  size_t index = 0;  // 0-based position among all inputs (bad ones and other shards' included)
  size_t line = 0;   // 1-based line where it starts; 0 for a text given as an argument
  std::optional<nlohmann::json> id;
  std::string text;
  std::optional<std::string> text_pair;
  std::optional<std::string> query;  // rerank: query + documents
  std::vector<std::string> documents;
  std::optional<ChatInput> chat;  // {"messages": [...]} (CommonOptions::accept_messages)
  std::string error;              // non-empty: the record is bad, the fields above may be unset
  // "line 12" or "input 3" (arguments), for messages
  std::string where() const;
};

class InputReader {
 public:
  // allow_rerank: accept {"query", "documents"} records (score).
  InputReader(const CommonOptions& options, const std::vector<std::string>& texts,
              bool allow_rerank);
  // Fixed records (e.g. a rerank request built from the arguments).
  explicit InputReader(std::vector<Record> records);
  ~InputReader();
  // Up to n records; empty at the end.
  std::vector<Record> next(size_t n);
  // Fraction of the input consumed, when the size is known (a file or the arguments); else -1.
  double progress() const;

 private:
  bool in_shard(size_t index) const;  // --shard I/N: index % N == I
  bool read_line(std::string& line);  // one physical line, its end stripped; counts lines and bytes
  std::string too_long_error() const;
  bool read_csv_record(std::vector<std::string>& fields, size_t& start_line, std::string& error);
  Record parse_jsonl(const std::string& line, size_t line_no);
  void read_header();

  const CommonOptions* o_ = nullptr;
  bool allow_rerank_;
  std::vector<std::string> texts_;  // from arguments
  std::vector<Record> preset_;
  size_t next_text_ = 0;
  std::unique_ptr<std::istream> file_;
  std::istream* in_ = nullptr;
  std::string format_;                  // resolved: lines | jsonl | csv | tsv
  std::optional<std::string> pending_;  // first line read while sniffing the format
  bool pending_too_long_ = false;
  bool line_too_long_ = false;  // the last line read was over max_line_bytes (and dropped)
  size_t line_no_ = 0, index_ = 0;
  uint64_t bytes_read_ = 0, total_bytes_ = 0;
  int text_col_ = -1, pair_col_ = -1, id_col_ = -1;
  size_t num_columns_ = 0;
};

}  // namespace vkcls::cli
