// config.json -> ModelConfig; sentence-transformers files -> SentenceTransformersInfo.
#include "models/config.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/json_bounded.h"

namespace vkcls {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json read_json_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw ConfigError(fmt::format("cannot open {}", path.string()));
  std::ostringstream text;
  text << f.rdbuf();
  try {
    return json_parse_bounded<json>(text.str(), kJsonConfigLimits);
  } catch (const JsonParseError& e) {
    throw ConfigError(fmt::format("{} is not valid JSON ({})", path.string(), e.what()));
  }
}

// Typed field access: absent or null -> nullopt; wrong type -> ConfigError naming field and file.
struct Fields {
  const json& j;
  const std::string& file;

  const json* find(const char* key) const {
    auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
  }
  ConfigError wrong(const char* key, const char* want) const {
    return ConfigError(
        fmt::format("{}: field \"{}\" must be {} (got {})", file, key, want, j.at(key).dump()));
  }
  std::optional<int64_t> int_(const char* key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (v->is_number_integer()) return v->get<int64_t>();  // includes unsigned
    if (v->is_number_float()) {                            // e.g. 768.0
      double d = v->get<double>();
      if (std::nearbyint(d) == d && std::fabs(d) < 9e15) return int64_t(d);
    }
    throw wrong(key, "an integer");
  }
  std::optional<double> double_(const char* key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_number()) throw wrong(key, "a number");
    return v->get<double>();
  }
  std::optional<std::string> string_(const char* key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) throw wrong(key, "a string");
    return v->get<std::string>();
  }
  std::optional<bool> bool_(const char* key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) throw wrong(key, "true or false");
    return v->get<bool>();
  }
  int64_t required_int(const char* key) const {
    if (auto v = int_(key)) return *v;
    throw ConfigError(fmt::format("{}: missing field \"{}\"", file, key));
  }
};

// transformers' class defaults for fields older or hand-written files may omit.
struct FamilyDefaults {
  const char* hidden_act = "gelu";
  double layer_norm_eps = 1e-12;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  int64_t pad_token_id = 0;
  double rope_theta = 10000.0;
  int64_t head_dim = 0;  // 0: hidden_size / num_attention_heads
  const char* position_embedding_type = "absolute";
};

FamilyDefaults family_defaults(const std::string& t) {
  FamilyDefaults d;
  if (t == "roberta" || t == "xlm-roberta" || t == "camembert") {
    d.pad_token_id = 1;
  } else if (t == "distilbert") {
    d.type_vocab_size = 0;
  } else if (t == "modernbert") {
    d.layer_norm_eps = 1e-5, d.max_position_embeddings = 8192, d.type_vocab_size = 0,
    d.pad_token_id = 50283;
    d.rope_theta = 160000.0, d.position_embedding_type = "rope";
  } else if (t == "new") {  // GTE (Alibaba-NLP/new-impl)
    d.type_vocab_size = 0, d.position_embedding_type = "rope";
  } else if (t == "gpt2") {
    d.hidden_act = "gelu_new", d.layer_norm_eps = 1e-5, d.max_position_embeddings = 1024;
    d.type_vocab_size = 0, d.pad_token_id = -1;
  } else if (t == "llama" || t == "llama_bidirec" || t == "mistral" || t == "qwen2" ||
             t == "qwen3" || t == "gemma" || t == "gemma2" || t == "gemma3_text") {
    d.hidden_act = t.rfind("gemma", 0) == 0 ? "gelu_pytorch_tanh" : "silu";
    d.max_position_embeddings = t == "llama" ? 2048 : t.rfind("qwen", 0) == 0 ? 32768 : 8192;
    d.type_vocab_size = 0, d.pad_token_id = -1, d.position_embedding_type = "rope";
    d.head_dim = t == "qwen3" ? 128 : t.rfind("gemma", 0) == 0 ? 256 : 0;
  }
  return d;
}

// Very old configs lack model_type; transformers then guesses from names. We use the architecture.
std::string model_type_from_architecture(const std::string& arch) {
  static const std::pair<const char*, const char*> prefixes[] = {
      {"XLMRoberta", "xlm-roberta"},
      {"DistilBert", "distilbert"},
      {"Roberta", "roberta"},
      {"Bert", "bert"},
      {"Electra", "electra"},
      {"Ernie", "ernie"},
      {"ModernBert", "modernbert"},
      {"GPT2", "gpt2"},
      {"Llama", "llama"},
      {"Qwen3", "qwen3"},
      {"Qwen2", "qwen2"},
      {"Gemma", "gemma"},
  };
  for (auto [p, t] : prefixes)
    if (arch.rfind(p, 0) == 0) return t;
  return "";
}

}  // namespace

ModelConfig parse_model_config(const json& j, const std::string& file) {
  if (!j.is_object()) throw ConfigError(fmt::format("{}: not a JSON object", file));
  Fields f{j, file};
  ModelConfig c;
  c.raw = j;

  if (const json* a = f.find("architectures")) {
    if (!a->is_array()) throw f.wrong("architectures", "a list of strings");
    for (const auto& s : *a) {
      if (!s.is_string()) throw f.wrong("architectures", "a list of strings");
      c.architectures.push_back(s.get<std::string>());
    }
  }
  c.model_type = f.string_("model_type").value_or("");
  if (c.model_type.empty() && !c.architectures.empty())
    c.model_type = model_type_from_architecture(c.architectures[0]);
  if (c.model_type.empty())
    throw ConfigError(fmt::format("{}: missing field \"model_type\"", file));
  const std::string& t = c.model_type;
  const FamilyDefaults d = family_defaults(t);

  // Sizes, under each family's own names.
  const bool distil = t == "distilbert", gpt2 = t == "gpt2";
  c.hidden_size = f.required_int(distil ? "dim" : gpt2 ? "n_embd" : "hidden_size");
  c.num_hidden_layers = f.required_int(distil ? "n_layers"
                                       : gpt2 ? "n_layer"
                                              : "num_hidden_layers");
  c.num_attention_heads = f.required_int(distil ? "n_heads"
                                         : gpt2 ? "n_head"
                                                : "num_attention_heads");
  c.vocab_size = f.required_int("vocab_size");
  if (gpt2)  // n_inner: null means 4 * n_embd
    c.intermediate_size = f.int_("n_inner").value_or(4 * c.hidden_size);
  else
    c.intermediate_size = f.required_int(distil ? "hidden_dim" : "intermediate_size");
  c.num_key_value_heads = f.int_("num_key_value_heads").value_or(c.num_attention_heads);
  c.max_position_embeddings =
      f.int_(gpt2 ? "n_positions" : "max_position_embeddings").value_or(d.max_position_embeddings);
  c.type_vocab_size = f.int_("type_vocab_size").value_or(d.type_vocab_size);
  c.pad_token_id = f.int_("pad_token_id").value_or(d.pad_token_id);
  if (f.find("head_dim"))
    c.head_dim = *f.int_("head_dim");
  else if (d.head_dim)
    c.head_dim = d.head_dim;
  else if (c.num_attention_heads > 0)
    c.head_dim = c.hidden_size / c.num_attention_heads;
  if (!f.find("head_dim") && !d.head_dim && c.num_attention_heads > 0 &&
      c.hidden_size % c.num_attention_heads != 0)
    throw ConfigError(fmt::format("{}: hidden_size {} is not a multiple of num_attention_heads {}",
                                  file, c.hidden_size, c.num_attention_heads));

  // Activation and norms.
  if (distil) {
    c.hidden_act = f.string_("activation").value_or(d.hidden_act);
    c.layer_norm_eps = 1e-12;  // hard-coded in transformers' DistilBERT
  } else {
    std::optional<std::string> act;
    if (t == "modernbert" || t.rfind("gemma", 0) == 0)
      act = f.string_("hidden_activation");  // wins over hidden_act
    if (!act) act = gpt2 ? f.string_("activation_function") : f.string_("hidden_act");
    if (t == "gemma" && !f.find("hidden_activation"))
      act = "gelu_pytorch_tanh";  // transformers overrides "gelu"
    c.hidden_act = act.value_or(d.hidden_act);
    c.layer_norm_eps = gpt2 ? f.double_("layer_norm_epsilon").value_or(d.layer_norm_eps)
                       : t == "modernbert" ? f.double_("norm_eps").value_or(d.layer_norm_eps)
                                           : f.double_("layer_norm_eps").value_or(d.layer_norm_eps);
  }
  c.rms_norm_eps = f.double_("rms_norm_eps").value_or(1e-6);
  if (t == "modernbert") {
    c.rope_theta = f.double_("global_rope_theta").value_or(d.rope_theta);
  } else if (auto r = f.double_("rope_theta")) {
    c.rope_theta = *r;
  } else if (const json* rp = f.find("rope_parameters"); rp && rp->is_object() &&
                                                         rp->contains("rope_theta") &&
                                                         (*rp)["rope_theta"].is_number()) {
    c.rope_theta = (*rp)["rope_theta"].get<double>();  // transformers >= 5 nests it
  } else {
    c.rope_theta = d.rope_theta;
  }
  c.position_embedding_type =
      f.string_("position_embedding_type").value_or(d.position_embedding_type);

  // Family extras.
  c.use_task_id = f.bool_("use_task_id").value_or(false);
  c.task_type_vocab_size = f.int_("task_type_vocab_size").value_or(t == "ernie" ? 3 : 0);
  c.embedding_size = f.int_("embedding_size").value_or(t == "electra" ? 128 : c.hidden_size);
  c.torch_dtype = f.string_("torch_dtype").value_or(f.string_("dtype").value_or(""));

  // Labels. id2label wins over num_labels (as in transformers); neither -> 2 labels.
  if (const json* m = f.find("id2label")) {
    if (!m->is_object()) throw f.wrong("id2label", "an object {\"0\": \"label\", ...}");
    for (const auto& [key, value] : m->items()) {
      size_t pos = 0;
      long long id = -1;
      try {
        id = std::stoll(key, &pos);
      } catch (...) {
      }
      if (pos != key.size() || id < 0 || id >= (1 << 20))
        throw ConfigError(fmt::format("{}: id2label key \"{}\" is not a label index", file, key));
      if (!value.is_string())
        throw ConfigError(
            fmt::format("{}: id2label[\"{}\"] must be a string (got {})", file, key, value.dump()));
      if (size_t(id) >= c.id2label.size()) c.id2label.resize(size_t(id) + 1);
      c.id2label[size_t(id)] = value.get<std::string>();
    }
    c.has_id2label = true;
    c.num_labels = int64_t(c.id2label.size());
  } else {
    c.num_labels = f.int_("num_labels").value_or(2);
    if (c.num_labels < 1 || c.num_labels >= (1 << 20))
      throw ConfigError(fmt::format("{}: num_labels {} out of range", file, c.num_labels));
    for (int64_t i = 0; i < c.num_labels; i++)
      c.id2label.push_back(fmt::format("LABEL_{}", i));  // transformers' default
  }
  c.problem_type = f.string_("problem_type").value_or("");
  if (!c.problem_type.empty() && c.problem_type != "single_label_classification" &&
      c.problem_type != "multi_label_classification" && c.problem_type != "regression")
    throw ConfigError(
        fmt::format("{}: field \"problem_type\" is \"{}\"; expected single_label_classification, "
                    "multi_label_classification or regression",
                    file, c.problem_type));

  // Sanity: every size positive, heads consistent.
  auto positive = [&](const char* name, int64_t v) {
    if (v <= 0) throw ConfigError(fmt::format("{}: {} must be positive (got {})", file, name, v));
  };
  positive("hidden_size", c.hidden_size);
  positive("num_hidden_layers", c.num_hidden_layers);
  positive("num_attention_heads", c.num_attention_heads);
  positive("num_key_value_heads", c.num_key_value_heads);
  positive("intermediate_size", c.intermediate_size);
  positive("vocab_size", c.vocab_size);
  positive("max_position_embeddings", c.max_position_embeddings);
  positive("head_dim", c.head_dim);
  positive("embedding_size", c.embedding_size);
  if (c.type_vocab_size < 0)
    throw ConfigError(fmt::format("{}: type_vocab_size is negative", file));
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    throw ConfigError(
        fmt::format("{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", file,
                    c.num_attention_heads, c.num_key_value_heads));
  return c;
}

void merge_overrides(json& config, const json& overrides) {
  for (const auto& [key, value] : overrides.items()) {
    auto it = config.find(key);
    if (value.is_object() && it != config.end() && it->is_object())
      merge_overrides(*it, value);
    else
      config[key] = value;
  }
}

ModelConfig load_model_config(const std::string& model_dir, const std::string& hf_overrides) {
  fs::path path = fs::path(model_dir) / "config.json";
  std::error_code ec;
  if (!fs::exists(path, ec)) throw ConfigError(fmt::format("{} has no config.json", model_dir));
  json j = read_json_file(path);
  std::string where = path.string();
  if (!hf_overrides.empty()) {
    json o;
    try {
      o = json_parse_bounded<json>(hf_overrides, kJsonConfigLimits);
    } catch (const JsonParseError& e) {
      throw ConfigError(fmt::format("hf_overrides: invalid JSON ({})", e.what()));
    }
    if (!o.is_object()) throw ConfigError("hf_overrides: expected a JSON object");
    if (j.is_object()) merge_overrides(j, o);
    where += " with hf_overrides";
  }
  return parse_model_config(j, where);
}

// ---------------------------------------------------------------------------
// sentence-transformers
// ---------------------------------------------------------------------------

namespace {

// 1_Pooling/config.json: {"pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true, ...}
std::string pooling_mode_from(const json& p, const std::string& file) {
  if (!p.is_object()) throw ConfigError(fmt::format("{}: not a JSON object", file));
  if (auto it = p.find("pooling_mode"); it != p.end() && it->is_string())
    return it->get<std::string>();
  static const std::pair<const char*, const char*> flags[] = {
      {"pooling_mode_cls_token", "cls"},
      {"pooling_mode_mean_tokens", "mean"},
      {"pooling_mode_max_tokens", "max"},
      {"pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"},
      {"pooling_mode_weightedmean_tokens", "weightedmean"},
      {"pooling_mode_lasttoken", "lasttoken"},
  };
  std::string mode;
  for (auto [key, name] : flags) {
    auto it = p.find(key);
    if (it == p.end() || it->is_null()) continue;
    if (!it->is_boolean())
      throw ConfigError(fmt::format("{}: field \"{}\" must be true or false", file, key));
    if (it->get<bool>()) mode += (mode.empty() ? "" : "+") + std::string(name);
  }
  return mode;
}

}  // namespace

SentenceTransformersInfo load_sentence_transformers_info(const std::string& model_dir) {
  SentenceTransformersInfo info;
  fs::path dir(model_dir);
  std::error_code ec;

  // modules.json: [{"idx": 0, "name": "0", "path": "", "type":
  // "sentence_transformers.models.Transformer"},
  //                {"idx": 1, "name": "1", "path": "1_Pooling", "type":
  //                "sentence_transformers.models.Pooling"}, ...]
  if (fs::exists(dir / "modules.json", ec)) {
    info.present = true;
    std::string file = (dir / "modules.json").string();
    json mods = read_json_file(dir / "modules.json");
    if (!mods.is_array()) throw ConfigError(fmt::format("{}: expected a list of modules", file));
    for (const auto& m : mods) {
      if (!m.is_object() || !m.contains("type") || !m["type"].is_string())
        throw ConfigError(fmt::format("{}: module {} has no \"type\"", file, m.dump()));
      std::string type = m["type"].get<std::string>();
      std::string path =
          m.contains("path") && m["path"].is_string() ? m["path"].get<std::string>() : "";
      std::string kind = type.substr(type.rfind('.') + 1);  // "...models.Pooling" -> "Pooling"
      if (kind == "Normalize") info.normalize = true;
      if (kind == "Dense") info.has_dense = true;
      if (kind == "Pooling") {
        fs::path p = dir / (path.empty() ? "1_Pooling" : path) / "config.json";
        if (fs::exists(p, ec)) info.pooling_mode = pooling_mode_from(read_json_file(p), p.string());
      }
    }
  }

  // sentence_bert_config.json: {"max_seq_length": 256, "do_lower_case": false}
  if (fs::exists(dir / "sentence_bert_config.json", ec)) {
    std::string file = (dir / "sentence_bert_config.json").string();
    json j = read_json_file(dir / "sentence_bert_config.json");
    if (!j.is_object()) throw ConfigError(fmt::format("{}: not a JSON object", file));
    Fields f{j, file};
    info.max_seq_length = f.int_("max_seq_length").value_or(0);
    info.do_lower_case = f.bool_("do_lower_case").value_or(false);
  }

  // Cross-encoder activation: config.json first (both spellings), then
  // config_sentence_transformers.json.
  if (fs::exists(dir / "config.json", ec)) {
    std::string file = (dir / "config.json").string();
    json j = read_json_file(dir / "config.json");
    if (j.is_object()) {
      if (auto st = j.find("sentence_transformers"); st != j.end() && st->is_object()) {
        if (auto a = st->find("activation_fn"); a != st->end() && a->is_string())
          info.activation_fn = a->get<std::string>();
      }
      if (info.activation_fn.empty()) {
        if (auto a = j.find("sbert_ce_default_activation_function"); a != j.end() && a->is_string())
          info.activation_fn = a->get<std::string>();
      }
    }
  }
  if (info.activation_fn.empty() && fs::exists(dir / "config_sentence_transformers.json", ec)) {
    json j = read_json_file(dir / "config_sentence_transformers.json");
    if (j.is_object())
      if (auto a = j.find("activation_fn"); a != j.end() && a->is_string())
        info.activation_fn = a->get<std::string>();
  }
  return info;
}

}  // namespace vkcls
