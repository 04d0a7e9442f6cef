// Post-processors: add the model's special tokens around the sequence(s) and
// set type ids. They receive [first] or [first, second] and return a list of
// encodings that the caller merges (tokenizers' process_encodings).
#include <map>
#include <memory>

#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace vkcls::tok {

char32_t byte_level_char(uint8_t b);  // pre_tokenizer.cpp

void byte_level_process_offsets(Encoding& e, bool add_prefix_space) {
  const char32_t space = byte_level_char(' ');  // 'Ġ'
  auto is_space = [&](char32_t c) { return c == space || is_whitespace(c); };
  // Width in the original text: 'Ġ' stands for one byte, a real whitespace for itself.
  auto width = [&](char32_t c) { return c == space ? size_t{1} : utf8_len(c); };
  for (size_t i = 0; i < e.tokens.size(); ++i) {
    const std::string& tok = e.tokens[i];
    std::vector<char32_t> chars;
    size_t p = 0;
    while (p < tok.size()) chars.push_back(utf8_next(tok, p));
    size_t lead = 0, lead_bytes = 0, trail = 0, trail_bytes = 0;
    while (lead < chars.size() && is_space(chars[lead])) lead_bytes += width(chars[lead++]);
    while (trail < chars.size() && is_space(chars[chars.size() - 1 - trail]))
      trail_bytes += width(chars[chars.size() - 1 - trail++]);
    if (lead == 0 && trail == 0) continue;
    Offset& co = e.char_offsets[i];
    Offset& bo = e.offsets[i];
    if (lead > 0) {
      // Keep the one space ByteLevel itself prepended to the first word.
      bool is_first = i == 0 || co.start == 0;
      if (is_first && add_prefix_space && lead == 1) lead = lead_bytes = 0;
      co.start = std::min<uint32_t>(co.start + static_cast<uint32_t>(lead), co.end);
      bo.start = std::min<uint32_t>(bo.start + static_cast<uint32_t>(lead_bytes), bo.end);
    }
    if (trail > 0 && co.end >= trail)
      co.end = std::max<uint32_t>(co.end - static_cast<uint32_t>(trail), co.start);
    if (trail_bytes > 0 && bo.end >= trail_bytes)
      bo.end = std::max<uint32_t>(bo.end - static_cast<uint32_t>(trail_bytes), bo.start);
  }
}

namespace {

void trim_all(std::vector<Encoding>& encs, bool add_prefix_space) {
  for (Encoding& e : encs) {
    byte_level_process_offsets(e, add_prefix_space);
    for (Encoding& o : e.overflowing) byte_level_process_offsets(o, add_prefix_space);
  }
}

// [pre] e [post] without overflowing; type ids of e forced when force_type >= 0.
Encoding wrap(const Encoding& e, const Encoding* pre, const Encoding& post, int32_t force_type) {
  Encoding r = pre ? *pre : Encoding{};
  r.overflowing.clear();
  Encoding body = e;
  body.overflowing.clear();
  if (force_type >= 0) body.type_ids.assign(body.ids.size(), force_type);
  encoding_merge(r, std::move(body));
  encoding_merge(r, post);
  return r;
}

// BertProcessing / RobertaProcessing: [CLS] A [SEP] (+ B [SEP] / [SEP] B [SEP]).
class ClsSepProcessor final : public PostProcessor {
 public:
  ClsSepProcessor(std::string sep, int32_t sep_id, std::string cls, int32_t cls_id, bool roberta,
                  bool trim_offsets, bool add_prefix_space)
      : sep_(std::move(sep)), cls_(std::move(cls)), sep_id_(sep_id), cls_id_(cls_id),
        roberta_(roberta), trim_(trim_offsets), add_prefix_space_(add_prefix_space) {}

  size_t added_tokens(bool pair) const override { return pair ? (roberta_ ? 4 : 3) : 2; }

  void process(std::vector<Encoding>& encs, bool add_special_tokens) const override {
    if (roberta_) {
      if (trim_) trim_all(encs, add_prefix_space_);
      // RoBERTa uses type id 0 everywhere.
      for (Encoding& e : encs) e.type_ids.assign(e.ids.size(), 0);
    }
    if (!add_special_tokens) return;
    for (size_t i = 0; i < encs.size(); ++i) {
      Encoding& e = encs[i];
      const bool first = i == 0;
      int32_t special_type = (first || roberta_) ? 0 : 1;
      Encoding cls = special_encoding({cls_id_}, {cls_}, 0);
      Encoding sep_pre = special_encoding({sep_id_}, {sep_}, 0);
      Encoding sep = special_encoding({sep_id_}, {sep_}, special_type);
      const Encoding* pre = first ? &cls : (roberta_ ? &sep_pre : nullptr);
      int32_t force = roberta_ ? 0 : -1;
      Encoding out = wrap(e, pre, sep, force);
      for (const Encoding& o : e.overflowing) out.overflowing.push_back(wrap(o, pre, sep, force));
      e = std::move(out);
    }
  }

 private:
  std::string sep_, cls_;
  int32_t sep_id_, cls_id_;
  bool roberta_, trim_, add_prefix_space_;
};

class ByteLevelProcessor final : public PostProcessor {
 public:
  ByteLevelProcessor(bool trim, bool add_prefix_space) : trim_(trim), add_prefix_space_(add_prefix_space) {}
  size_t added_tokens(bool) const override { return 0; }
  void process(std::vector<Encoding>& encs, bool) const override {
    if (trim_) trim_all(encs, add_prefix_space_);
  }

 private:
  bool trim_, add_prefix_space_;
};

class TemplateProcessor final : public PostProcessor {
 public:
  struct Piece {
    bool special;
    std::string id;  // special token name, or "A" / "B"
    int32_t type_id;
  };
  struct Special {
    std::vector<int32_t> ids;
    std::vector<std::string> tokens;
  };

  TemplateProcessor(std::vector<Piece> single, std::vector<Piece> pair,
                    std::map<std::string, Special> specials)
      : single_(std::move(single)), pair_(std::move(pair)), specials_(std::move(specials)) {}

  size_t added_tokens(bool pair) const override {
    size_t n = 0;
    for (const Piece& p : pair ? pair_ : single_)
      if (p.special) n += specials_.at(p.id).ids.size();
    return n;
  }

  void process(std::vector<Encoding>& encs, bool add_special_tokens) const override {
    const auto& tmpl = encs.size() == 2 ? pair_ : single_;
    std::vector<Encoding> out;
    for (const Piece& p : tmpl) {
      if (p.special) {
        if (!add_special_tokens) continue;
        const Special& s = specials_.at(p.id);
        out.push_back(special_encoding(s.ids, s.tokens, p.type_id));
      } else {
        size_t i = p.id == "A" ? 0 : 1;
        if (i >= encs.size()) throw TokenizerError("TemplateProcessing: template uses $B without a pair");
        // Only the encoding itself gets the template's type id; its
        // overflowing windows keep theirs, as in tokenizers.
        encs[i].type_ids.assign(encs[i].ids.size(), p.type_id);
        out.push_back(encs[i]);
      }
    }
    encs = std::move(out);
  }

 private:
  std::vector<Piece> single_, pair_;
  std::map<std::string, Special> specials_;
};

class SequenceProcessor final : public PostProcessor {
 public:
  explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> s) : seq_(std::move(s)) {}
  size_t added_tokens(bool pair) const override {
    size_t n = 0;
    for (auto& p : seq_) n += p->added_tokens(pair);
    return n;
  }
  void process(std::vector<Encoding>& encs, bool add_special_tokens) const override {
    for (auto& p : seq_) p->process(encs, add_special_tokens);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> seq_;
};

std::pair<std::string, int32_t> token_pair(const json& j, const std::string& key,
                                           const std::string& path) {
  const json& v = json_at(j, key, path);
  if (!v.is_array() || v.size() != 2 || !v[0].is_string() || !v[1].is_number_integer())
    json_fail(path + "." + key, "expected [token, id]");
  return {v[0].get<std::string>(), static_cast<int32_t>(v[1].get<int64_t>())};
}

std::vector<TemplateProcessor::Piece> parse_template(const json& j, const std::string& key,
                                                     const std::string& path) {
  const json& arr = json_at(j, key, path);
  std::string apath = path + "." + key;
  std::vector<TemplateProcessor::Piece> out;
  if (!arr.is_array()) json_fail(apath, "expected an array of pieces");
  for (size_t i = 0; i < arr.size(); ++i) {
    std::string ppath = apath + "[" + std::to_string(i) + "]";
    const json& p = arr[i];
    if (p.is_object() && p.contains("SpecialToken")) {
      const json& s = p["SpecialToken"];
      out.push_back({true, json_string(s, "id", ppath + ".SpecialToken"),
                     static_cast<int32_t>(json_int(s, "type_id", ppath + ".SpecialToken", 0))});
    } else if (p.is_object() && p.contains("Sequence")) {
      const json& s = p["Sequence"];
      std::string id = json_string(s, "id", ppath + ".Sequence");
      if (id != "A" && id != "B") json_fail(ppath + ".Sequence.id", "expected \"A\" or \"B\"");
      out.push_back({false, id, static_cast<int32_t>(json_int(s, "type_id", ppath + ".Sequence", 0))});
    } else {
      json_fail(ppath, "expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
    }
  }
  return out;
}

}  // namespace

std::unique_ptr<PostProcessor> make_bert_processing(std::string sep, int32_t sep_id,
                                                    std::string cls, int32_t cls_id) {
  return std::make_unique<ClsSepProcessor>(std::move(sep), sep_id, std::move(cls), cls_id, false,
                                           false, false);
}

std::unique_ptr<PostProcessor> post_processor_from_json(const json& j, const std::string& path) {
  if (j.is_null()) return nullptr;
  std::string type = json_type(j, path);
  if (type == "BertProcessing") {
    auto sep = token_pair(j, "sep", path), cls = token_pair(j, "cls", path);
    return make_bert_processing(sep.first, sep.second, cls.first, cls.second);
  }
  if (type == "RobertaProcessing") {
    auto sep = token_pair(j, "sep", path), cls = token_pair(j, "cls", path);
    return std::make_unique<ClsSepProcessor>(sep.first, sep.second, cls.first, cls.second, true,
                                             json_bool(j, "trim_offsets", path, true),
                                             json_bool(j, "add_prefix_space", path, true));
  }
  if (type == "ByteLevel")
    return std::make_unique<ByteLevelProcessor>(json_bool(j, "trim_offsets", path, true),
                                                json_bool(j, "add_prefix_space", path, true));
  if (type == "TemplateProcessing") {
    auto single = parse_template(j, "single", path);
    auto pair = parse_template(j, "pair", path);
    std::map<std::string, TemplateProcessor::Special> specials;
    const json& sp = json_at(j, "special_tokens", path);
    if (!sp.is_object()) json_fail(path + ".special_tokens", "expected an object");
    for (auto it = sp.begin(); it != sp.end(); ++it) {
      std::string spath = path + ".special_tokens[\"" + it.key() + "\"]";
      const json& ids = json_at(it.value(), "ids", spath);
      const json& toks = json_at(it.value(), "tokens", spath);
      if (!ids.is_array() || !toks.is_array() || ids.size() != toks.size())
        json_fail(spath, "ids and tokens must be arrays of the same length");
      TemplateProcessor::Special s;
      for (auto& v : ids) {
        if (!v.is_number_integer()) json_fail(spath + ".ids", "expected integers");
        s.ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
      }
      for (auto& v : toks) {
        if (!v.is_string()) json_fail(spath + ".tokens", "expected strings");
        s.tokens.push_back(v.get<std::string>());
      }
      specials[json_string(it.value(), "id", spath, it.key())] = std::move(s);
    }
    for (const auto* t : {&single, &pair})
      for (const auto& p : *t)
        if (p.special && !specials.count(p.id))
          json_fail(path + ".special_tokens", "missing special token '" + p.id + "' used in a template");
    return std::make_unique<TemplateProcessor>(std::move(single), std::move(pair), std::move(specials));
  }
  if (type == "Sequence") {
    const json& arr = json_at(j, "processors", path);
    if (!arr.is_array()) json_fail(path + ".processors", "expected an array");
    std::vector<std::unique_ptr<PostProcessor>> seq;
    for (size_t i = 0; i < arr.size(); ++i) {
      auto p = post_processor_from_json(arr[i], path + ".processors[" + std::to_string(i) + "]");
      if (p) seq.push_back(std::move(p));
    }
    return std::make_unique<SequenceProcessor>(std::move(seq));
  }
  json_fail(path + ".type", "unknown post-processor type '" + type + "'");
}

}  // namespace vkcls::tok
