#include "tools/io_input.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <fstream>
#include <iostream>
#include <stdexcept>

#include "common/json_bounded.h"
#include "tokenizer/unicode.h"

namespace vkcls::cli {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool blank(const std::string& s) {
  return s.find_first_not_of(" \t") == std::string::npos;
}

std::string check_utf8(const std::string& s) {
  size_t bad = tok::utf8_find_invalid(s);
  return bad == std::string::npos ? "" : fmt::format("invalid UTF-8 at byte {}", bad);
}

// A string field: missing / null -> nullopt; another type -> throws naming the field.
std::optional<std::string> string_field(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_string())
    throw std::invalid_argument(
        fmt::format("field \"{}\" must be a string, got {}", name, it->type_name()));
  return it->get<std::string>();
}

}  // namespace

std::string Record::where() const {
  return line ? fmt::format("line {}", line) : fmt::format("input {}", index + 1);
}

InputReader::InputReader(const CommonOptions& o, const std::vector<std::string>& texts,
                         bool allow_rerank)
    : o_(&o), allow_rerank_(allow_rerank), texts_(texts) {
  if (!texts_.empty()) {
    format_ = "args";
    return;
  }
  if (o.input.empty() || o.input == "-") {
    in_ = &std::cin;
    std::ios::sync_with_stdio(false);
  } else {
    struct stat st;
    if (stat(o.input.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      throw std::invalid_argument(
          fmt::format("--input: '{}' is a directory, not a file of inputs", o.input));
    auto f = std::make_unique<std::ifstream>(o.input, std::ios::binary);
    if (!*f) throw std::invalid_argument(fmt::format("--input: cannot open '{}'", o.input));
    if (stat(o.input.c_str(), &st) == 0 && S_ISREG(st.st_mode)) total_bytes_ = uint64_t(st.st_size);
    file_ = std::move(f);
    in_ = file_.get();
  }
  format_ = o.input_format;
  if (format_ == "auto") {
    if (ends_with(o.input, ".jsonl") || ends_with(o.input, ".json"))
      format_ = "jsonl";
    else if (ends_with(o.input, ".csv"))
      format_ = "csv";
    else if (ends_with(o.input, ".tsv"))
      format_ = "tsv";
    else {
      std::string first;
      if (read_line(first)) pending_ = first, pending_too_long_ = line_too_long_;
      size_t p = first.find_first_not_of(" \t");
      format_ = p != std::string::npos && first[p] == '{' ? "jsonl" : "lines";
    }
  }
  if (format_ == "csv" || format_ == "tsv") read_header();
}

InputReader::InputReader(std::vector<Record> records)
    : allow_rerank_(true), preset_(std::move(records)), format_("preset") {}

InputReader::~InputReader() = default;

// Lines end at \n, \r\n or a lone \r (old Mac files). A line over max_line_bytes is not kept:
// its bytes are read and dropped up to its end, so memory stays flat whatever comes in (a 50 MB
// line, /dev/zero), and line_too_long_ says so. A UTF-8 byte order mark opening the input is
// dropped (spreadsheets write one).
bool InputReader::read_line(std::string& line) {
  if (pending_) {
    line = std::move(*pending_);
    pending_.reset();
    line_too_long_ = pending_too_long_;
    return true;
  }
  line.clear();
  line_too_long_ = false;
  std::streambuf* sb = in_->rdbuf();
  const size_t limit = o_ ? o_->max_line_bytes : SIZE_MAX;
  uint64_t n = 0;
  for (;;) {
    int c = sb->sbumpc();
    if (c == std::char_traits<char>::eof()) {
      if (n == 0) return false;
      break;
    }
    ++n;
    if (c == '\n') break;
    if (c == '\r') {
      if (sb->sgetc() == '\n') sb->sbumpc(), ++n;
      break;
    }
    if (line.size() < limit)
      line += char(c);
    else
      line_too_long_ = true;
  }
  if (line_too_long_) line.clear();
  if (line_no_ == 0 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
  ++line_no_;
  bytes_read_ += n;
  return true;
}

std::string InputReader::too_long_error() const {
  return fmt::format("the line is longer than the limit of {} bytes (--max-line-bytes)",
                     o_->max_line_bytes);
}

// One CSV/TSV record: fields split at the delimiter outside quotes; a quoted field may
// hold the delimiter, "" for a quote, and newlines (the record then spans several lines).
bool InputReader::read_csv_record(std::vector<std::string>& fields, size_t& start_line,
                                  std::string& error) {
  const char delim = format_ == "tsv" ? '\t' : ',';
  std::string line;
  if (!read_line(line)) return false;
  start_line = line_no_;
  fields.assign(1, "");
  bool quoted = false, was_quoted = false;
  for (;;) {
    if (line_too_long_) {
      error = too_long_error();
      return true;
    }
    for (size_t i = 0; i < line.size(); ++i) {
      char c = line[i];
      if (quoted) {
        if (c == '"' && i + 1 < line.size() && line[i + 1] == '"')
          fields.back() += '"', ++i;
        else if (c == '"')
          quoted = false;
        else
          fields.back() += c;
      } else if (c == '"' && fields.back().empty() && !was_quoted) {
        quoted = was_quoted = true;
      } else if (c == delim) {
        fields.emplace_back();
        was_quoted = false;
      } else {
        fields.back() += c;
      }
    }
    if (!quoted) return true;
    if (!read_line(line)) {
      error = "unterminated quoted field at the end of the input";
      return true;
    }
    fields.back() += '\n';
  }
}

void InputReader::read_header() {
  std::vector<std::string> header;
  size_t line = 0;
  std::string error;
  if (!read_csv_record(header, line, error)) return;  // empty input
  num_columns_ = header.size();
  for (size_t c = 0; c < header.size(); ++c) {
    if (header[c] == o_->text_column) text_col_ = int(c);
    if (header[c] == o_->pair_column) pair_col_ = int(c);
    if (header[c] == o_->id_column) id_col_ = int(c);
  }
  if (text_col_ < 0)
    throw std::invalid_argument(
        fmt::format("--text-column: no column '{}' in the header (columns: {})", o_->text_column,
                    fmt::join(header, ", ")));
}

Record InputReader::parse_jsonl(const std::string& line, size_t line_no) {
  Record r;
  r.line = line_no;
  nlohmann::json j;
  try {
    j = json_parse_bounded<nlohmann::json>(line);
  } catch (const JsonParseError& e) {
    r.error = fmt::format("invalid JSON: {}", e.what());
    return r;
  }
  try {
    if (!j.is_object())
      throw std::invalid_argument(fmt::format("expected a JSON object, got {}", j.type_name()));
    if (auto it = j.find("id"); it != j.end()) r.id = *it;
    if (allow_rerank_ && j.contains("query")) {
      r.query = string_field(j, "query");
      if (!r.query) throw std::invalid_argument("field \"query\" must be a string");
      auto docs = j.find("documents");
      if (docs == j.end() || !docs->is_array())
        throw std::invalid_argument(
            "field \"documents\" (an array of strings) is missing next to \"query\"");
      for (const auto& d : *docs) {
        if (!d.is_string())
          throw std::invalid_argument("field \"documents\" must hold only strings");
        r.documents.push_back(d.get<std::string>());
      }
      return r;
    }
    if (auto m = j.find("messages"); m != j.end()) {
      if (!o_->accept_messages)
        throw std::invalid_argument(
            fmt::format("field \"messages\": {} takes texts, not conversations", o_->command));
      if (j.contains("text"))
        throw std::invalid_argument("give \"messages\" or \"text\", not both");
      if (!m->is_array())
        throw std::invalid_argument(
            fmt::format("field \"messages\" must be an array of messages, got {}", m->type_name()));
      ChatInput chat = o_->chat;
      chat.messages_json = m->dump();
      auto flag = [&](const char* name, bool& out) {
        auto it = j.find(name);
        if (it == j.end() || it->is_null()) return;
        if (!it->is_boolean())
          throw std::invalid_argument(
              fmt::format("field \"{}\" must be true or false, got {}", name, it->type_name()));
        out = it->get<bool>();
      };
      flag("add_generation_prompt", chat.add_generation_prompt);
      flag("continue_final_message", chat.continue_final_message);
      flag("add_special_tokens", chat.add_special_tokens);
      if (auto kw = j.find("chat_template_kwargs"); kw != j.end() && !kw->is_null()) {
        if (!kw->is_object())
          throw std::invalid_argument(fmt::format(
              "field \"chat_template_kwargs\" must be an object, got {}", kw->type_name()));
        chat.chat_template_kwargs_json = kw->dump();
      }
      r.chat = std::move(chat);
      return r;
    }
    auto text = string_field(j, "text");
    if (!text)
      throw std::invalid_argument(
          allow_rerank_ ? "field \"text\" is missing (or give \"query\" and \"documents\")"
                        : "field \"text\" is missing");
    r.text = std::move(*text);
    r.text_pair = string_field(j, "text_pair");
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  return r;
}

// --shard I/N: every record is read (and counted in `index`), but only those of index I mod N
// are checked, parsed and returned; another part's bad record is that part's to report.
bool InputReader::in_shard(size_t index) const {
  return !o_ || o_->shard_count <= 1 || index % o_->shard_count == o_->shard_index;
}

std::vector<Record> InputReader::next(size_t n) {
  std::vector<Record> out;
  while (out.size() < n) {
    Record r;
    const bool mine = in_shard(index_);
    if (format_ == "preset") {
      if (next_text_ >= preset_.size()) break;
      r = std::move(preset_[next_text_++]);
    } else if (format_ == "args") {
      if (next_text_ >= texts_.size()) break;
      if (!mine) {
        ++next_text_, ++index_;
        continue;
      }
      r.text = texts_[next_text_++];
      r.error = check_utf8(r.text);
      if (r.error.empty() && r.text.empty()) r.error = "empty text";
    } else if (format_ == "csv" || format_ == "tsv") {
      std::vector<std::string> fields;
      size_t line = 0;
      if (!read_csv_record(fields, line, r.error)) break;
      if (!mine) {
        ++index_;
        continue;
      }
      r.line = line;
      if (!r.error.empty()) {
      } else if (fields.size() == 1 && fields[0].empty()) {
        r.error = "empty line";
      } else if (fields.size() != num_columns_) {
        r.error = fmt::format("{} fields, the header has {}", fields.size(), num_columns_);
      } else {
        r.text = fields[size_t(text_col_)];
        if (pair_col_ >= 0) r.text_pair = fields[size_t(pair_col_)];
        if (id_col_ >= 0) r.id = fields[size_t(id_col_)];
        r.error = check_utf8(r.text + (r.text_pair ? *r.text_pair : ""));
        if (r.error.empty() && r.text.empty())
          r.error = fmt::format("column '{}' is empty", o_->text_column);
      }
    } else {
      std::string line;
      if (!read_line(line)) break;
      if (!mine) {
        ++index_;
        continue;
      }
      size_t line_no = line_no_ ? line_no_ : 1;
      if (line_too_long_) {
        r.line = line_no;
        r.error = too_long_error();
      } else if (std::string bad = check_utf8(line); !bad.empty()) {
        r.line = line_no;
        r.error = bad;
      } else if (blank(line)) {
        r.line = line_no;
        r.error = "empty line";
      } else if (format_ == "jsonl") {
        r = parse_jsonl(line, line_no);
      } else {
        r.line = line_no;
        r.text = std::move(line);
      }
    }
    r.index = index_++;
    out.push_back(std::move(r));
  }
  return out;
}

double InputReader::progress() const {
  if (format_ == "preset")
    return preset_.empty() ? 1.0 : double(next_text_) / double(preset_.size());
  if (format_ == "args") return texts_.empty() ? 1.0 : double(next_text_) / double(texts_.size());
  if (total_bytes_ == 0) return -1;
  return std::min(1.0, double(bytes_read_) / double(total_bytes_));
}

}  // namespace vkcls::cli
