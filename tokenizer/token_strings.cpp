#include "tokenizer/token_strings.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "common/json_bounded.h"

namespace vkcls {

namespace {

namespace fs = std::filesystem;

nlohmann::json read_json(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return nullptr;
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  try {
    return json_parse_bounded<nlohmann::json>(text, kJsonConfigLimits);
  } catch (const JsonParseError&) {
    return nullptr;  // discarded when invalid (tokenizer.json is the authority)
  }
}

// "unk_token": "[UNK]" or {"content": "[UNK]", ...}
std::optional<std::string> token_name(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return std::nullopt;
  const auto& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

// GPT-2's bytes_to_unicode, inverted: the code point that stands for each byte -> the byte.
const std::map<uint32_t, uint8_t>& byte_level_chars() {
  static const std::map<uint32_t, uint8_t> m = [] {
    std::map<uint32_t, uint8_t> out;
    uint32_t n = 0;
    for (uint32_t b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      out[printable ? b : 256 + n++] = uint8_t(b);
    }
    return out;
  }();
  return m;
}

// Decodes UTF-8 code points; false on a malformed sequence (token strings are valid UTF-8).
bool code_points(const std::string& s, std::vector<uint32_t>& out) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += size_t(n);
  }
  return true;
}

// Rust's String::from_utf8_lossy: each maximal invalid subsequence becomes U+FFFD.
std::string utf8_lossy(const std::string& b) {
  std::string out;
  for (size_t i = 0; i < b.size();) {
    unsigned char c = b[i];
    int need = c < 0x80 ? 0 : (c >= 0xC2 && c <= 0xDF) ? 1 : (c >= 0xE0 && c <= 0xEF) ? 2 : (c >= 0xF0 && c <= 0xF4) ? 3 : -1;
    if (need == 0) {
      out += char(c);
      ++i;
      continue;
    }
    size_t ok = 1;  // bytes of a valid prefix seen
    if (need > 0) {
      for (int k = 1; k <= need && i + k < b.size(); ++k) {
        unsigned char d = b[i + k];
        unsigned char lo = 0x80, hi = 0xBF;
        if (k == 1 && c == 0xE0) lo = 0xA0;
        if (k == 1 && c == 0xED) hi = 0x9F;
        if (k == 1 && c == 0xF0) lo = 0x90;
        if (k == 1 && c == 0xF4) hi = 0x8F;
        if (d < lo || d > hi) break;
        ++ok;
      }
      if (ok == size_t(need) + 1) {
        out.append(b, i, ok);
        i += ok;
        continue;
      }
    }
    out += "\xEF\xBF\xBD";
    i += ok;
  }
  return out;
}

// tokenizers' WordPiece decoder cleanup (clean_up_tokenization)
std::string cleanup(std::string s) {
  static const std::pair<const char*, const char*> kRules[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
      {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (auto [from, to] : kRules) {
    std::string f = from, t = to, out;
    size_t pos = 0;
    for (size_t hit; (hit = s.find(f, pos)) != std::string::npos; pos = hit + f.size()) out.append(s, pos, hit - pos) += t;
    s = out + s.substr(pos);
  }
  return s;
}

}  // namespace

TokenStrings::TokenStrings(const Tokenizer& tok, const std::string& model_dir) : tok_(tok) {
  fs::path dir(model_dir);
  nlohmann::json tj = read_json(dir / "tokenizer.json");
  if (tj.is_object()) {
    const auto& model = tj.value("model", nlohmann::json::object());
    bool wordpiece = model.value("type", std::string()) == "WordPiece";
    auto prefix = model.find("continuing_subword_prefix");
    if ((prefix != model.end() && prefix->is_string() && !prefix->get<std::string>().empty()) ||
        (wordpiece && prefix == model.end()))
      subword_prefix_ = true;
    const auto& dec = tj.value("decoder", nlohmann::json());
    if (dec.is_object()) {
      decoder_ = dec.value("type", std::string("other"));
      if (decoder_ == "WordPiece") {
        wordpiece_prefix_ = dec.value("prefix", std::string("##"));
        wordpiece_cleanup_ = dec.value("cleanup", true);
      }
    }
    if (auto unk = token_name(model, "unk_token")) unk_id_ = tok_.token_to_id(*unk);
  } else {  // vocab.txt: a BERT WordPiece tokenizer
    subword_prefix_ = true;
    decoder_ = "WordPiece";
  }
  // the Python tokenizer's unk_token comes from tokenizer_config.json / special_tokens_map.json
  for (const char* file : {"tokenizer_config.json", "special_tokens_map.json"})
    if (auto unk = token_name(read_json(dir / file), "unk_token")) {
      unk_id_ = tok_.token_to_id(*unk);
      break;
    }
}

std::string TokenStrings::tokens_to_string(const std::vector<std::string>& tokens) const {
  if (decoder_ == "WordPiece") {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string t = tokens[i];
      if (i > 0) t = t.rfind(wordpiece_prefix_, 0) == 0 ? t.substr(wordpiece_prefix_.size()) : " " + t;
      out += wordpiece_cleanup_ ? cleanup(t) : t;
    }
    return out;
  }
  if (decoder_ == "ByteLevel") {
    const auto& chars = byte_level_chars();
    std::string bytes;
    for (const std::string& t : tokens) {
      std::vector<uint32_t> cps;
      std::string mapped;
      bool all = code_points(t, cps);
      for (uint32_t cp : cps) {
        auto it = chars.find(cp);
        if (it == chars.end()) {
          all = false;
          break;
        }
        mapped += char(it->second);
      }
      bytes += all ? mapped : t;  // a token with a character outside the byte alphabet goes as it is
    }
    return utf8_lossy(bytes);
  }
  if (decoder_.empty()) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
    return out;
  }
  // other decoders (Metaspace, ...): decode the ids of runs of known tokens
  std::string out;
  std::vector<int32_t> run;
  auto flush = [&] {
    if (!run.empty()) out += tok_.decode(run, false);
    run.clear();
  };
  for (const std::string& t : tokens) {
    if (auto id = tok_.token_to_id(t)) {
      run.push_back(*id);
    } else {
      flush();
      out += t;
    }
  }
  flush();
  return out;
}

}  // namespace vkcls
