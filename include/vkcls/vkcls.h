/* vkcls — the C API: Hugging Face classification models on Vulkan, from C and from anything
 * that calls C (C#, Rust, Swift, Python ctypes). Link with libvkcls.so (pkg-config vkcls, or
 * CMake find_package(vkcls) -> vkcls::vkcls).
 *
 *   vkcls_options o;
 *   vkcls_options_init(&o);
 *   o.model_dir = "models/sentiment";
 *   vkcls_engine* e;
 *   if (vkcls_engine_open(&o, &e) != VKCLS_OK) { puts(vkcls_last_error()); return 1; }
 *   const char* texts[] = {"I loved it", "Dreadful."};
 *   vkcls_classify_result* r;
 *   if (vkcls_classify(e, texts, 2, NULL, &r) == VKCLS_OK)
 *     for (size_t i = 0; i < r->count; ++i)
 *       if (r->items[i].status == VKCLS_OK) printf("%s\n", r->items[i].label);
 *   vkcls_classify_result_free(r);
 *   vkcls_engine_close(e);
 *
 * Conventions
 * - Every function that can fail returns a vkcls_status; VKCLS_OK is 0. On failure
 *   vkcls_last_error() (this thread's) says what went wrong, naming the field and the limit.
 * - Calls take a batch and give one result item per input, in input order. Bad input (empty
 *   text, invalid UTF-8, too many tokens) fails only its own item (item.status, item.error);
 *   the call still returns VKCLS_OK and the rest of the batch completes. A call-level status
 *   says the request as a whole could not run (NULL argument, parameter out of range, a task
 *   the model cannot do, the queue full).
 * - Results belong to the caller: free each with its own *_free function (NULL is allowed).
 *   They do not depend on the engine and may outlive it. *out is set on VKCLS_OK and on
 *   VKCLS_ERROR_CANCELLED (the items that ran hold their results, the others status
 *   VKCLS_ERROR_CANCELLED); on any other status *out is set to NULL.
 * - Strings are NUL-terminated UTF-8. Character offsets (start, end) count code points.
 * - ABI growth: vkcls_options and vkcls_params start with struct_size; fill them with
 *   vkcls_options_init / vkcls_params_init, which set it. A field the library does not know
 *   (struct_size larger than its own) is refused; fields past a smaller struct_size keep their
 *   defaults. Result structs change only with the library's SONAME.
 * - No C++ exception crosses this boundary.
 *
 * Thread safety (per function below): an engine may be used from any number of threads at
 * once; their calls are packed into shared device batches. vkcls_engine_close must not race
 * with other calls on the same engine. Callbacks run on the engine's own thread.
 */
#ifndef VKCLS_VKCLS_H
#define VKCLS_VKCLS_H

#include <stddef.h>
#include <stdint.h>

#if defined(VKCLS_BUILDING_LIBRARY)
#define VKCLS_API __attribute__((visibility("default")))
#else
#define VKCLS_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header; vkcls_version() gives the library's. */
#define VKCLS_VERSION_MAJOR 0
#define VKCLS_VERSION_MINOR 1
#define VKCLS_VERSION_PATCH 0
#define VKCLS_VERSION_STRING "0.1.0"

/* What went wrong. Values are stable: new ones are only appended. */
typedef enum vkcls_status {
  VKCLS_OK = 0,
  VKCLS_ERROR_INVALID_ARGUMENT = 1, /* the C API was misused: NULL pointer, bad struct_size */
  VKCLS_ERROR_INVALID_INPUT = 2,    /* a field is malformed or out of range */
  VKCLS_ERROR_TOO_LONG = 3,         /* more tokens than the model or the budget allows */
  VKCLS_ERROR_UNSUPPORTED = 4,      /* the model cannot do this task */
  VKCLS_ERROR_NOT_FOUND = 5,        /* a model folder or file that does not exist */
  VKCLS_ERROR_MODEL = 6,            /* the model folder is broken or not runnable */
  VKCLS_ERROR_OVERLOADED = 7,       /* max_queued_requests are waiting */
  VKCLS_ERROR_CANCELLED = 8,        /* a vkcls_cancel_token was cancelled */
  VKCLS_ERROR_DEVICE_LOST = 9,      /* the Vulkan device failed; nothing more runs on it */
  VKCLS_ERROR_OUT_OF_MEMORY = 10,   /* device or host memory exhausted */
  VKCLS_ERROR_INTERNAL = 11         /* a bug */
} vkcls_status;

/* "0.1.0": the library's version. Thread safe; the string is static. */
VKCLS_API const char* vkcls_version(void);
/* "ok", "invalid_argument", ... ("unknown" for a value not listed). Thread safe, static. */
VKCLS_API const char* vkcls_status_name(vkcls_status status);
/* The message of this thread's last failed call ("" after a call that succeeded). Valid until
 * this thread's next vkcls call. Thread safe (thread-local). */
VKCLS_API const char* vkcls_last_error(void);
/* The field the last error is about ("input", "truncate_prompt_tokens", ...), or "". */
VKCLS_API const char* vkcls_last_error_param(void);

/* ---- devices ---------------------------------------------------------------------------- */

/* VkPhysicalDeviceType's values */
typedef enum vkcls_device_type {
  VKCLS_DEVICE_OTHER = 0,
  VKCLS_DEVICE_INTEGRATED_GPU = 1,
  VKCLS_DEVICE_DISCRETE_GPU = 2,
  VKCLS_DEVICE_VIRTUAL_GPU = 3,
  VKCLS_DEVICE_CPU = 4
} vkcls_device_type;

typedef struct vkcls_device {
  uint32_t index; /* what vkcls_options.device takes */
  const char* name;
  vkcls_device_type type;
  const char* type_name; /* "discrete GPU", "CPU", ... */
  uint32_t vendor_id, device_id;
  const char* driver_name;
  const char* api_version;     /* "1.3.255" */
  uint64_t device_local_bytes; /* the largest device-local heap */
  int fp16;                    /* 16-bit storage: f16 weights possible */
} vkcls_device;

typedef struct vkcls_device_list {
  size_t count;
  const vkcls_device* devices;
  int chosen;         /* what vkcls_options.device = -1 opens (VKCLS_DEVICE=N counted) */
  const char* reason; /* why that one */
} vkcls_device_list;

/* The Vulkan devices the loader lists. Thread safe. Free with vkcls_device_list_free. */
VKCLS_API vkcls_status vkcls_devices(vkcls_device_list** out);
VKCLS_API void vkcls_device_list_free(vkcls_device_list* list);

/* ---- engines ---------------------------------------------------------------------------- */

typedef struct vkcls_engine vkcls_engine;

typedef struct vkcls_options {
  size_t struct_size; /* sizeof(vkcls_options): set by vkcls_options_init */
  /* A Hugging Face model folder (config.json, *.safetensors or pytorch_model.bin,
   * tokenizer.json), or a hub id ORG/NAME found in the local hub cache. Required. */
  const char* model_dir;
  const char* revision;           /* hub id: branch, tag or commit; NULL: main */
  int download;                   /* hub id: download into the hub cache when missing (0: no) */
  int device;                     /* a vkcls_device.index; -1 (default): the best */
  const char* dtype;              /* "auto" (NULL) | "f32" | "f16" */
  int64_t max_batch_tokens;       /* tokens per device batch; 0 (default): the device's */
  const char* pooler_config_json; /* vLLM's --pooler-config, a JSON object; NULL: none */
  const char* hf_overrides_json;  /* vLLM's --hf-overrides, merged into config.json; NULL */
  size_t max_queued_requests;     /* 0: unbounded; else beyond it calls fail OVERLOADED */
  int validation;                 /* 1: Khronos validation layer (debugging) */
  /* Bytes of any one text, checked before tokenizing (an input over it fails on its own,
   * INVALID_ARGUMENT); default 1 MiB; 0: no limit. A struct_size that ends before this field
   * gets the default. */
  size_t max_input_bytes;
  /* Causal decoders: bytes of the paged KV cache (0: the default, a quarter of the device memory
   * past the weights), and 1 to turn the prefix cache off. */
  uint64_t kv_cache_memory;
  int no_prefix_cache;
} vkcls_options;

/* Defaults, struct_size set. Thread safe. */
VKCLS_API void vkcls_options_init(vkcls_options* options);

/* Loads the model onto the device (seconds). Thread safe (engines are independent). Errors:
 * NOT_FOUND (no such folder or file), MODEL (broken or unsupported), INVALID_ARGUMENT. */
VKCLS_API vkcls_status vkcls_engine_open(const vkcls_options* options, vkcls_engine** out);
/* Frees the engine and its device memory. NULL is allowed. Not while other calls on the same
 * engine are running (results already returned stay valid). */
VKCLS_API void vkcls_engine_close(vkcls_engine* engine);

typedef struct vkcls_model_info {
  const char* model_dir;
  const char* model_type;   /* config.json's model_type: "bert", "qwen2", ... */
  const char* architecture; /* "BertForSequenceClassification", ... */
  size_t num_labels;
  const char* const* labels; /* id2label in index order (LABEL_<i> when the config has none) */
  int has_labels;            /* labels came from config.json */
  size_t num_tasks;
  const char* const* tasks; /* of "classify", "token_classify", "score", "embed" */
  const char* default_task;
  const char* activation;    /* classify / score: "softmax" | "sigmoid" | "identity" */
  const char* seq_pooling;   /* "CLS" | "MEAN" | "LAST" */
  const char* embed_pooling; /* the same, for embed */
  const char* tok_pooling;   /* "ALL" | "STEP" */
  const char* dtype;         /* device weights: "f32" | "f16" */
  const char* device;        /* device name */
  int64_t hidden_size, max_model_len, vocab_size, max_batch_tokens;
  uint64_t weight_bytes; /* device memory held by the weights */
} vkcls_model_info;

/* What the engine runs. *out belongs to the engine and lives until vkcls_engine_close.
 * Thread safe. */
VKCLS_API vkcls_status vkcls_engine_info(const vkcls_engine* engine, const vkcls_model_info** out);

/* ---- cancellation and progress ------------------------------------------------------------ */

typedef struct vkcls_cancel_token vkcls_cancel_token;

/* A token to pass in vkcls_params.cancel; one token may serve several calls. Thread safe. */
VKCLS_API vkcls_status vkcls_cancel_token_new(vkcls_cancel_token** out);
/* Cancels every call using the token, now and later (tokens do not reset). Work not yet on the
 * device is dropped and its items fail with VKCLS_ERROR_CANCELLED; a batch already on the
 * device finishes; the cancelled call returns VKCLS_ERROR_CANCELLED soon after. Safe from any
 * thread, and from a progress callback (it then takes effect before the next device batch). */
VKCLS_API vkcls_status vkcls_cancel(vkcls_cancel_token* token);
/* Only once no call uses it. NULL is allowed. */
VKCLS_API void vkcls_cancel_token_free(vkcls_cancel_token* token);

/* Called on the engine's thread after each device batch that advanced the call: sequences done
 * and in all (a long input run as windows counts once per window). Keep it short: the engine
 * waits for it. It may call vkcls_cancel, and no other vkcls function. */
typedef void (*vkcls_progress_fn)(size_t done, size_t total, void* user_data);

/* ---- per-call parameters (vLLM's names) --------------------------------------------------- */

/* token_classify: entity spans, as the Hugging Face NER pipeline's aggregation_strategy */
typedef enum vkcls_aggregation {
  VKCLS_AGGREGATION_OFF = 0,  /* no entities */
  VKCLS_AGGREGATION_NONE = 1, /* one entity per labelled token */
  VKCLS_AGGREGATION_SIMPLE = 2,
  VKCLS_AGGREGATION_FIRST = 3,
  VKCLS_AGGREGATION_AVERAGE = 4,
  VKCLS_AGGREGATION_MAX = 5
} vkcls_aggregation;

typedef struct vkcls_params {
  size_t struct_size; /* sizeof(vkcls_params): set by vkcls_params_init */
  /* 0 (default): an input longer than the model's limit fails; -1: truncate to the limit;
   * k > 0: keep k tokens */
  int64_t truncate_prompt_tokens;
  const char* truncation_side;      /* "right" (NULL) | "left" */
  int add_special_tokens;           /* 1 (default) | 0 */
  int use_activation;               /* -1 (default): the model's; 0: raw logits; 1 */
  int64_t priority;                 /* lower runs first; 0 */
  int64_t top_k;                    /* classify: the k best labels in item.top_k; -1 all; 0 */
  int normalize;                    /* embed: -1 (default: use_activation); 0; 1 */
  int64_t dimensions;               /* embed: Matryoshka dimensions; 0: all */
  int aggregation;                  /* token_classify: a vkcls_aggregation; OFF (0) */
  const char* const* ignore_labels; /* token_classify: left out of entities; NULL: {"O"} */
  size_t num_ignore_labels;
  int64_t stride;             /* token_classify: overlapping windows for long texts; 0: off */
  vkcls_progress_fn progress; /* NULL: none */
  void* progress_user_data;
  vkcls_cancel_token* cancel; /* NULL: not cancellable */
} vkcls_params;

/* Defaults, struct_size set. Thread safe. A call given NULL params uses these. */
VKCLS_API void vkcls_params_init(vkcls_params* params);

/* ---- classify ----------------------------------------------------------------------------- */

typedef struct vkcls_label_score {
  const char* label;
  float score;
  int64_t index;
} vkcls_label_score;

typedef struct vkcls_classify_item {
  vkcls_status status; /* VKCLS_OK, or why this input failed (the fields below are unset) */
  const char* error;   /* "" when ok */
  int64_t label_index; /* argmax */
  const char* label;
  int has_label; /* the label came from config.json */
  size_t num_classes;
  const float* probs; /* [num_classes]: activated scores, or logits (use_activation = 0) */
  size_t num_top_k;
  const vkcls_label_score* top_k; /* params.top_k, best first */
  int64_t prompt_tokens;
} vkcls_classify_item;

typedef struct vkcls_classify_result {
  size_t count;
  const vkcls_classify_item* items;
} vkcls_classify_result;

/* Sequence classification of `count` texts. Thread safe. */
VKCLS_API vkcls_status vkcls_classify(vkcls_engine* engine, const char* const* texts, size_t count,
                                      const vkcls_params* params, vkcls_classify_result** out);
/* The same for text pairs (NLI): text_pairs[i] may be NULL for a single text. */
VKCLS_API vkcls_status vkcls_classify_pairs(vkcls_engine* engine, const char* const* texts,
                                            const char* const* text_pairs, size_t count,
                                            const vkcls_params* params,
                                            vkcls_classify_result** out);
/* The same for token ids used as given: ids[i] has lengths[i] ids. Thread safe. */
VKCLS_API vkcls_status vkcls_classify_ids(vkcls_engine* engine, const int32_t* const* ids,
                                          const size_t* lengths, size_t count,
                                          const vkcls_params* params, vkcls_classify_result** out);
VKCLS_API void vkcls_classify_result_free(vkcls_classify_result* result);

/* ---- token classification (NER) ----------------------------------------------------------- */

typedef struct vkcls_token {
  int32_t id;
  const char* text;   /* the tokenizer's token string */
  int64_t start, end; /* code points into the input; 0, 0 for special tokens */
  int special;
  const float* probs; /* [num_labels of the item] */
} vkcls_token;

typedef struct vkcls_entity {
  const char* entity; /* the label (aggregation NONE) or the entity group */
  float score;
  int64_t index; /* aggregation NONE: the token's position; else -1 */
  const char* word;
  int64_t start, end; /* code points */
} vkcls_entity;

typedef struct vkcls_token_item {
  vkcls_status status;
  const char* error;
  size_t num_labels;
  const char* const* labels; /* column names of vkcls_token.probs */
  size_t num_tokens;
  const vkcls_token* tokens;
  size_t num_entities;
  const vkcls_entity* entities; /* params.aggregation */
  int64_t prompt_tokens;
} vkcls_token_item;

typedef struct vkcls_token_result {
  size_t count;
  const vkcls_token_item* items;
} vkcls_token_result;

/* Token classification of `count` texts. Thread safe. */
VKCLS_API vkcls_status vkcls_token_classify(vkcls_engine* engine, const char* const* texts,
                                            size_t count, const vkcls_params* params,
                                            vkcls_token_result** out);
VKCLS_API vkcls_status vkcls_token_classify_ids(vkcls_engine* engine, const int32_t* const* ids,
                                                const size_t* lengths, size_t count,
                                                const vkcls_params* params,
                                                vkcls_token_result** out);
VKCLS_API void vkcls_token_result_free(vkcls_token_result* result);

/* ---- score and rerank (cross-encoders, rerankers, reward models) -------------------------- */

typedef struct vkcls_score_item {
  vkcls_status status;
  const char* error;
  size_t index; /* the document's position in the call's input */
  float score;  /* activated (sigmoid for one label unless the model says otherwise), or logit */
  int64_t prompt_tokens;
} vkcls_score_item;

typedef struct vkcls_score_result {
  size_t count;
  const vkcls_score_item* items;
} vkcls_score_result;

/* Scores of (query, documents[i]) pairs, in input order. Thread safe. */
VKCLS_API vkcls_status vkcls_score(vkcls_engine* engine, const char* query,
                                   const char* const* documents, size_t count,
                                   const vkcls_params* params, vkcls_score_result** out);
/* Each ids[i] is a whole pair, tokenized by the caller. Thread safe. */
VKCLS_API vkcls_status vkcls_score_ids(vkcls_engine* engine, const int32_t* const* ids,
                                       const size_t* lengths, size_t count,
                                       const vkcls_params* params, vkcls_score_result** out);
/* vLLM's /rerank: the scores sorted best first (ties in input order; failed items last), the
 * top_n best (0: all). item.index says which document. Thread safe. */
VKCLS_API vkcls_status vkcls_rerank(vkcls_engine* engine, const char* query,
                                    const char* const* documents, size_t count, size_t top_n,
                                    const vkcls_params* params, vkcls_score_result** out);
VKCLS_API void vkcls_score_result_free(vkcls_score_result* result);

/* ---- embeddings --------------------------------------------------------------------------- */

typedef struct vkcls_embed_item {
  vkcls_status status;
  const char* error;
  size_t dimensions;
  const float* embedding; /* [dimensions] */
  int64_t prompt_tokens;
} vkcls_embed_item;

typedef struct vkcls_embed_result {
  size_t count;
  const vkcls_embed_item* items;
} vkcls_embed_result;

/* Pooled embeddings of `count` texts. Thread safe. */
VKCLS_API vkcls_status vkcls_embed(vkcls_engine* engine, const char* const* texts, size_t count,
                                   const vkcls_params* params, vkcls_embed_result** out);
VKCLS_API vkcls_status vkcls_embed_ids(vkcls_engine* engine, const int32_t* const* ids,
                                       const size_t* lengths, size_t count,
                                       const vkcls_params* params, vkcls_embed_result** out);
VKCLS_API void vkcls_embed_result_free(vkcls_embed_result* result);

/* ---- the tokenizer ------------------------------------------------------------------------ */

typedef struct vkcls_tokens {
  size_t count;
  const int32_t* ids;
  const char* const* tokens;
  const int64_t* starts; /* code points; 0 for special tokens */
  const int64_t* ends;
} vkcls_tokens;

/* The model's tokenizer on one text (what the *_ids calls take). Thread safe.
 * Errors: INVALID_INPUT for invalid UTF-8 (naming the byte). */
VKCLS_API vkcls_status vkcls_tokenize(vkcls_engine* engine, const char* text,
                                      int add_special_tokens, vkcls_tokens** out);
VKCLS_API void vkcls_tokens_free(vkcls_tokens* tokens);

#ifdef __cplusplus
}
#endif

#endif /* VKCLS_VKCLS_H */
