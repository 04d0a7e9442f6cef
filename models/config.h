// config.json (Hugging Face) and sentence-transformers metadata, normalised to
// one set of field names. Family-specific extras stay reachable through `raw`.
//
// Normalisation: DistilBERT (dim, n_layers, n_heads, hidden_dim, activation),
// GPT-2 (n_embd, n_layer, n_head, n_inner, n_positions, layer_norm_epsilon,
// activation_function), ModernBERT (norm_eps, hidden_activation,
// global_rope_theta) and Gemma (hidden_activation) are mapped onto the common
// fields. Missing fields take transformers' defaults for that model_type.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace vkcls {

class ConfigError : public std::runtime_error {
  using runtime_error::runtime_error;
};

struct ModelConfig {
  std::string model_type;  // "bert", "roberta", "xlm-roberta", "distilbert", "qwen3", ...
  std::vector<std::string> architectures;  // e.g. "BertForSequenceClassification"

  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // default: num_attention_heads
  int64_t intermediate_size = 0;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  int64_t type_vocab_size = 0;  // 0: no token_type embeddings (DistilBERT, decoders)
  int64_t pad_token_id = -1;    // -1: none
  int64_t head_dim = 0;         // default: hidden_size / num_attention_heads

  std::string hidden_act;  // "gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu", ...
  double layer_norm_eps = 1e-12;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  std::string position_embedding_type = "absolute";

  int64_t num_labels = 2;             // id2label size, else num_labels, else 2
  std::vector<std::string> id2label;  // index -> label as the file says; "" for missing indices
  bool has_id2label = false;          // id2label was in the file
  std::string problem_type;  // "", "single_label_classification", "multi_label_classification",
                             // "regression"

  bool use_task_id = false;          // ERNIE: task_type_embeddings present
  int64_t task_type_vocab_size = 0;  // ERNIE (default 3)
  int64_t embedding_size =
      0;  // ELECTRA: may differ from hidden_size (embeddings_project); else hidden_size

  std::string torch_dtype;  // "float32", "bfloat16", ... ("dtype" in newer files); "" if absent
  nlohmann::json raw;       // the whole file
};

// Reads <model_dir>/config.json. Errors (ConfigError) name the field and the file.
// hf_overrides: a JSON object merged into the file first, as vLLM's --hf-overrides (objects
// merge key by key, anything else replaces); "" for none.
ModelConfig load_model_config(const std::string& model_dir, const std::string& hf_overrides = "");
// The merge itself (exposed for tests).
void merge_overrides(nlohmann::json& config, const nlohmann::json& overrides);
// The same from already-parsed JSON; `file` is only used in messages.
ModelConfig parse_model_config(const nlohmann::json& j, const std::string& file);

// sentence-transformers metadata; every part optional.
struct SentenceTransformersInfo {
  bool present = false;  // modules.json exists
  // From the Pooling module's config (1_Pooling/config.json): "cls" | "mean" | "max" | "lasttoken"
  // | "mean_sqrt_len_tokens" | "weightedmean" | "" (none); several modes on at once are joined with
  // '+'.
  std::string pooling_mode;
  bool normalize = false;  // modules.json has a sentence_transformers.models.Normalize module
  bool has_dense = false;  // modules.json has a Dense module (its weights are not loaded here)
  // Cross-encoders: config.json "sentence_transformers": {"activation_fn": ...} (v4+), else the
  // older config.json "sbert_ce_default_activation_function", else
  // config_sentence_transformers.json "activation_fn". e.g. "torch.nn.modules.activation.Sigmoid";
  // "" when none is named.
  std::string activation_fn;
  int64_t max_seq_length = 0;  // sentence_bert_config.json; 0 when absent
  bool do_lower_case = false;  // sentence_bert_config.json
};

SentenceTransformersInfo load_sentence_transformers_info(const std::string& model_dir);

}  // namespace vkcls
