// Tokenizer: loads tokenizer.json and runs the pipeline of tokenizers'
// TokenizerImpl::encode_char_offsets:
//   added tokens -> normalizer -> pre-tokenizer -> model   (per sequence)
//   -> truncation -> post-processor -> merge               (whole input)
#include "tokenizer/tokenizer.h"

#include <atomic>
#include <fstream>
#include <sstream>

#include "common/json_bounded.h"
#include "tokenizer/added_vocabulary.h"
#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace vkcls {
namespace tok {

struct TokenizerImpl {
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<Model> model;
  std::unique_ptr<PostProcessor> post_processor;
  std::unique_ptr<Decoder> decoder;
  AddedVocabulary added;
  TruncationParams truncation;
  PaddingParams padding;
  size_t model_max_length = 0;

  Encoding encode_sequence(std::string_view text, int32_t seq) const;
  Encoding post_process(Encoding a, Encoding* b, bool add_special, const TruncationParams& t) const;
};

namespace {

// Byte offsets -> code point offsets over one original text, with the edge
// cases of tokenizers' BytesToCharOffsetConverter.
class CharOffsets {
 public:
  explicit CharOffsets(std::string_view s) : char_of_byte_(s.size()) {
    uint32_t c = 0;
    size_t i = 0;
    while (i < s.size()) {
      size_t n = std::min(utf8_seq_len(static_cast<unsigned char>(s[i])), s.size() - i);
      for (size_t k = 0; k < n; ++k) char_of_byte_[i + k] = c;
      i += n;
      ++c;
    }
  }
  Offset convert(Offset b) const {
    size_t n = char_of_byte_.size();
    if (b.start >= n) return b;  // not in the map: tokenizers keeps the byte offsets
    uint32_t start = char_of_byte_[b.start];
    if (b.end < n) return {start, char_of_byte_[b.end]};
    uint32_t last = b.end >= 1 && b.end - 1 < n ? char_of_byte_[b.end - 1] : start + 1;
    return {start, last + 1};
  }

 private:
  std::vector<uint32_t> char_of_byte_;
};

}  // namespace

Encoding TokenizerImpl::encode_sequence(std::string_view text, int32_t seq) const {
  if (size_t bad = utf8_find_invalid(text); bad != std::string_view::npos)
    throw TokenizerError("invalid UTF-8 at byte " + std::to_string(bad));
  PreTokenizedString pts;
  added.extract_and_normalize(normalizer.get(), text, pts);
  if (pre_tokenizer) pre_tokenizer->pre_tokenize(pts);

  CharOffsets conv(text);
  Encoding e;
  std::vector<Token> toks;
  for (Split& sp : pts.splits) {
    if (!sp.has_tokens) {
      toks.clear();
      model->tokenize(sp.ns.get(), toks);
    }
    const std::vector<Token>& list = sp.has_tokens ? sp.tokens : toks;
    for (const Token& t : list) {
      Offset o;
      if (!sp.ns.to_original(t.start, t.end, o)) o = {t.start, t.end};
      e.ids.push_back(t.id);
      e.tokens.push_back(t.value);
      e.offsets.push_back(o);
      e.char_offsets.push_back(conv.convert(o));
    }
  }
  size_t n = e.ids.size();
  e.type_ids.assign(n, seq);
  e.sequence_ids.assign(n, seq);
  e.special_tokens_mask.assign(n, 0);
  return e;
}

Encoding TokenizerImpl::post_process(Encoding a, Encoding* b, bool add_special,
                                     const TruncationParams& t) const {
  if (t.max_length > 0) {
    // tokenizers checks the stride against the single-sequence budget when
    // truncation is configured (with_truncation).
    size_t n_single = post_processor ? post_processor->added_tokens(false) : 0;
    if (t.max_length >= n_single && t.max_length - n_single < t.stride)
      throw TokenizerError("truncation: stride " + std::to_string(t.stride) +
                           " is greater than or equal to the effective max length " +
                           std::to_string(t.max_length - n_single) + " (= max_length " +
                           std::to_string(t.max_length) + " - " + std::to_string(n_single) +
                           " special tokens)");
    size_t n_added = post_processor ? post_processor->added_tokens(b != nullptr) : 0;
    TruncationParams p = t;
    if (add_special && n_added > 0) p.max_length -= std::min(p.max_length, n_added);
    // A budget smaller than the special tokens wraps around in tokenizers
    // (usize arithmetic), which means: no truncation at all.
    if (!(add_special && n_added > t.max_length)) truncate_encodings(a, b, p);
  }
  std::vector<Encoding> encs;
  encs.push_back(std::move(a));
  if (b) encs.push_back(std::move(*b));
  if (post_processor) post_processor->process(encs, add_special);
  Encoding out;
  for (Encoding& e : encs) encoding_merge(out, std::move(e));
  return out;
}

// ---- loading --------------------------------------------------------------------

std::unique_ptr<Model> model_from_json(const json& j, const std::string& path) {
  if (!j.is_object()) json_fail(path, "expected an object");
  // Old files omit "type": tell the models apart by their fields.
  std::string type;
  if (j.contains("type")) {
    type = json_type(j, path);
  } else if (j.contains("merges")) {
    type = "BPE";
  } else if (j.contains("vocab") && j["vocab"].is_array()) {
    type = "Unigram";
  } else if (j.contains("continuing_subword_prefix") || j.contains("max_input_chars_per_word")) {
    type = "WordPiece";
  } else {
    type = "WordLevel";
  }
  if (type == "WordPiece") return make_wordpiece_from_json(j, path);
  if (type == "WordLevel") return make_wordlevel_from_json(j, path);
  if (type == "BPE") return make_bpe_from_json(j, path);
  if (type == "Unigram") return make_unigram_from_json(j, path);
  json_fail(path + ".type", "unknown model type '" + type + "'");
}

static TruncationParams parse_truncation(const json& j) {
  TruncationParams t;
  if (j.is_null()) return t;
  const std::string path = "truncation";
  int64_t max_len = json_int(j, "max_length", path);
  if (max_len < 0) json_fail(path + ".max_length", "must be >= 0");
  t.max_length = static_cast<size_t>(max_len);
  int64_t stride = json_int(j, "stride", path, 0);
  if (stride < 0) json_fail(path + ".stride", "must be >= 0");
  t.stride = static_cast<size_t>(stride);
  std::string s = json_string(j, "strategy", path, "LongestFirst");
  if (s == "LongestFirst")
    t.strategy = TruncationStrategy::LongestFirst;
  else if (s == "OnlyFirst")
    t.strategy = TruncationStrategy::OnlyFirst;
  else if (s == "OnlySecond")
    t.strategy = TruncationStrategy::OnlySecond;
  else
    json_fail(path + ".strategy", "unknown strategy '" + s + "'");
  std::string d = json_string(j, "direction", path, "Right");
  if (d == "Right")
    t.side = TruncationSide::Right;
  else if (d == "Left")
    t.side = TruncationSide::Left;
  else
    json_fail(path + ".direction", "unknown direction '" + d + "'");
  return t;
}

static PaddingParams parse_padding(const json& j) {
  PaddingParams p;
  if (j.is_null()) return p;
  const std::string path = "padding";
  p.enabled = true;
  p.pad_id = static_cast<int32_t>(json_int(j, "pad_id", path, 0));
  p.pad_type_id = static_cast<int32_t>(json_int(j, "pad_type_id", path, 0));
  p.pad_token = json_string(j, "pad_token", path, "[PAD]");
  p.pad_left = json_string(j, "direction", path, "Right") == "Left";
  if (j.contains("pad_to_multiple_of") && !j["pad_to_multiple_of"].is_null())
    p.pad_to_multiple_of = static_cast<size_t>(json_int(j, "pad_to_multiple_of", path));
  if (j.contains("strategy") && j["strategy"].is_object() && j["strategy"].contains("Fixed"))
    p.fixed_length =
        j["strategy"]["Fixed"].is_number_unsigned() ? j["strategy"]["Fixed"].get<size_t>() : 0;
  return p;
}

static std::vector<AddedToken> parse_added_tokens(const json& j) {
  std::vector<AddedToken> out;
  if (j.is_null()) return out;
  if (!j.is_array()) json_fail("added_tokens", "expected an array");
  for (size_t i = 0; i < j.size(); ++i) {
    std::string path = "added_tokens[" + std::to_string(i) + "]";
    AddedToken t;
    t.content = json_string(j[i], "content", path);
    t.special = json_bool(j[i], "special", path, false);
    t.single_word = json_bool(j[i], "single_word", path, false);
    t.lstrip = json_bool(j[i], "lstrip", path, false);
    t.rstrip = json_bool(j[i], "rstrip", path, false);
    t.normalized = json_bool(j[i], "normalized", path, !t.special);
    if (j[i].contains("id")) (void)json_int(j[i], "id", path);
    out.push_back(std::move(t));
  }
  return out;
}

static std::shared_ptr<TokenizerImpl> load_json(const json& root) {
  if (!root.is_object()) json_fail("$", "expected a JSON object");
  auto impl = std::make_shared<TokenizerImpl>();
  auto field = [&](const char* k) -> const json& {
    static const json null_json;
    auto it = root.find(k);
    return it == root.end() ? null_json : *it;
  };
  impl->normalizer = normalizer_from_json(field("normalizer"), "normalizer");
  impl->pre_tokenizer = pre_tokenizer_from_json(field("pre_tokenizer"), "pre_tokenizer");
  impl->model = model_from_json(json_at(root, "model", "$"), "model");
  impl->post_processor = post_processor_from_json(field("post_processor"), "post_processor");
  impl->decoder = decoder_from_json(field("decoder"), "decoder");
  impl->truncation = parse_truncation(field("truncation"));
  impl->padding = parse_padding(field("padding"));
  impl->added.add(parse_added_tokens(field("added_tokens")), *impl->model, impl->normalizer.get());
  return impl;
}

}  // namespace tok

using tok::json;

Tokenizer::Tokenizer(std::shared_ptr<const tok::TokenizerImpl> impl) : impl_(std::move(impl)) {}

static std::atomic<uint64_t> g_loads{0};
uint64_t Tokenizer::loads() {
  return g_loads.load();
}

Tokenizer Tokenizer::from_json(const std::string& json_text) {
  json root;
  try {
    root = json_parse_bounded<json>(json_text, kTokenizerJsonLimits);
  } catch (const JsonParseError& e) {
    throw TokenizerError(std::string("tokenizer.json: invalid JSON: ") + e.what());
  }
  try {
    ++g_loads;
    return Tokenizer(tok::load_json(root));
  } catch (const TokenizerError&) {
    throw;
  } catch (const std::exception& e) {
    // Anything nlohmann (or a component) throws on a malformed file.
    throw TokenizerError(std::string("tokenizer.json: ") + e.what());
  }
}

static std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw TokenizerError("cannot open " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Tokenizer Tokenizer::from_file(const std::string& path) {
  std::string text = read_file(path);  // "cannot open <path>" already names the file
  try {
    return from_json(text);
  } catch (const TokenizerError& e) {
    throw TokenizerError(path + ": " + e.what());
  }
}

Tokenizer Tokenizer::from_model_dir(const std::string& dir) {
  auto exists = [](const std::string& p) { return std::ifstream(p).good(); };
  std::string base = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  json config = json::object();
  if (exists(base + "tokenizer_config.json")) {
    try {
      config =
          json_parse_bounded<json>(read_file(base + "tokenizer_config.json"), kJsonConfigLimits);
    } catch (const JsonParseError& e) {
      throw TokenizerError(base + "tokenizer_config.json: invalid JSON: " + e.what());
    }
    if (!config.is_object())
      throw TokenizerError(base + "tokenizer_config.json: expected an object");
  }
  size_t max_len = 0;
  if (config.contains("model_max_length") && config["model_max_length"].is_number()) {
    double v = config["model_max_length"].get<double>();
    // transformers writes 1e30 for "no limit".
    if (v > 0 && v < 1e9) max_len = static_cast<size_t>(v);
  }

  if (exists(base + "tokenizer.json")) {
    Tokenizer t = from_file(base + "tokenizer.json");
    auto impl = std::const_pointer_cast<tok::TokenizerImpl>(t.impl_);
    impl->model_max_length = max_len;
    // transformers registers the special tokens tokenizer_config.json names (bos_token, ...,
    // additional_special_tokens) as added tokens, so "[SEP]" written in a text or by a chat
    // template is one token even when tokenizer.json lists no added tokens. Only tokens the
    // vocabulary has: a new id would be outside the model's embedding table.
    std::vector<tok::AddedToken> specials;
    auto add_special = [&](const json& v) {
      std::string content = v.is_string() ? v.get<std::string>()
                            : v.is_object() && v.contains("content") && v["content"].is_string()
                                ? v["content"].get<std::string>()
                                : "";
      if (content.empty() || impl->added.token_to_id(content) || !impl->model->token_to_id(content))
        return;
      tok::AddedToken a;
      a.content = content;
      a.special = true;
      a.normalized = false;
      specials.push_back(a);
    };
    for (const char* k : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                          "cls_token", "mask_token"})
      if (config.contains(k)) add_special(config[k]);
    if (config.contains("additional_special_tokens") &&
        config["additional_special_tokens"].is_array())
      for (const json& v : config["additional_special_tokens"]) add_special(v);
    if (!specials.empty()) impl->added.add(specials, *impl->model, impl->normalizer.get());
    return t;
  }
  if (!exists(base + "vocab.txt"))
    throw TokenizerError(dir + ": neither tokenizer.json nor vocab.txt found");

  // Old BERT folder: rebuild what transformers' BertTokenizerFast converter makes.
  auto cfg_bool = [&](const char* k, bool d) {
    return config.contains(k) && config[k].is_boolean() ? config[k].get<bool>() : d;
  };
  auto cfg_token = [&](const char* k, const char* d) -> std::string {
    if (!config.contains(k)) return d;
    const json& v = config[k];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object() && v.contains("content") && v["content"].is_string())
      return v["content"].get<std::string>();
    return d;
  };
  bool lower = cfg_bool("do_lower_case", true);
  std::optional<bool> strip;
  if (config.contains("strip_accents") && config["strip_accents"].is_boolean())
    strip = config["strip_accents"].get<bool>();

  tok::StrMap vocab;
  {
    std::istringstream in(read_file(base + "vocab.txt"));
    std::string line;
    int32_t id = 0;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      vocab.emplace(line, id++);
    }
  }
  std::string unk = cfg_token("unk_token", "[UNK]"), sep = cfg_token("sep_token", "[SEP]"),
              pad = cfg_token("pad_token", "[PAD]"), cls = cfg_token("cls_token", "[CLS]"),
              mask = cfg_token("mask_token", "[MASK]");
  for (const std::string* s : {&unk, &sep, &cls})
    if (!vocab.count(*s)) throw TokenizerError(base + "vocab.txt: missing special token " + *s);

  auto impl = std::make_shared<tok::TokenizerImpl>();
  impl->normalizer =
      tok::make_bert_normalizer(true, cfg_bool("tokenize_chinese_chars", true), strip, lower);
  impl->pre_tokenizer = tok::make_bert_pre_tokenizer();
  int32_t sep_id = vocab.at(sep), cls_id = vocab.at(cls);
  impl->model = tok::make_wordpiece(std::move(vocab), unk, "##", 100);
  impl->post_processor = tok::make_bert_processing(sep, sep_id, cls, cls_id);
  impl->decoder = tok::make_wordpiece_decoder("##", true);
  impl->model_max_length = max_len;
  std::vector<tok::AddedToken> specials;
  for (const std::string& s : {pad, unk, cls, sep, mask}) {
    tok::AddedToken t;
    t.content = s;
    t.special = true;
    t.normalized = false;
    specials.push_back(t);
  }
  impl->added.add(specials, *impl->model, impl->normalizer.get());
  return Tokenizer(impl);
}

Encoding Tokenizer::encode(std::string_view text, bool add_special_tokens,
                           const TruncationParams* trunc) const {
  Encoding a = impl_->encode_sequence(text, 0);
  return impl_->post_process(std::move(a), nullptr, add_special_tokens,
                             trunc ? *trunc : impl_->truncation);
}

Encoding Tokenizer::encode_pair(std::string_view a, std::string_view b, bool add_special_tokens,
                                const TruncationParams* trunc) const {
  Encoding ea = impl_->encode_sequence(a, 0);
  Encoding eb = impl_->encode_sequence(b, 1);
  return impl_->post_process(std::move(ea), &eb, add_special_tokens,
                             trunc ? *trunc : impl_->truncation);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (const tok::AddedToken* a = impl_->added.by_id(id)) {
      if (!(skip_special_tokens && a->special)) tokens.push_back(a->decoded);
      continue;
    }
    std::optional<std::string> t = impl_->model->id_to_token(id);
    if (!t) continue;  // unknown ids are skipped, as tokenizers does
    if (skip_special_tokens && impl_->added.is_special(*t)) continue;
    tokens.push_back(std::move(*t));
  }
  if (!impl_->decoder) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) out += ' ';
      out += tokens[i];
    }
    return out;
  }
  impl_->decoder->decode_chain(tokens);
  std::string out;
  for (auto& t : tokens) out += t;
  return out;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view t) const {
  if (auto id = impl_->added.token_to_id(t)) return id;
  return impl_->model->token_to_id(t);
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  if (const tok::AddedToken* a = impl_->added.by_id(id)) return a->decoded;
  return impl_->model->id_to_token(id);
}

size_t Tokenizer::num_special_tokens_to_add(bool pair) const {
  return impl_->post_processor ? impl_->post_processor->added_tokens(pair) : 0;
}

size_t Tokenizer::vocab_size() const {
  // tokenizers' get_vocab_size(with_added_tokens=true): model + added tokens
  // that are not already in the model vocabulary.
  return impl_->model->vocab_size() + impl_->added.size_not_in_model(*impl_->model);
}

const TruncationParams& Tokenizer::default_truncation() const {
  return impl_->truncation;
}
const PaddingParams& Tokenizer::padding() const {
  return impl_->padding;
}
bool Tokenizer::is_special_token(std::string_view token) const {
  return impl_->added.is_special(token);
}
size_t Tokenizer::model_max_length() const {
  return impl_->model_max_length;
}

}  // namespace vkcls
