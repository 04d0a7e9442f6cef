// Optional download of a model from the Hugging Face hub into the local hub cache
// (hub_cache.h), laid out as huggingface_hub lays it out, so that Python tools and
// vkcls share one cache. HTTPS through cpp-httplib + OpenSSL.
//
// Protocol (as huggingface_hub speaks it):
//   GET  {endpoint}/api/models/{repo}/revision/{revision}   -> {"sha": <commit>, "siblings":
//   [{"rfilename"}]} HEAD {endpoint}/{repo}/resolve/{commit}/{file}          -> 200 with ETag, or
//   3xx to a CDN with
//        X-Linked-Etag / X-Linked-Size (LFS files); X-Repo-Commit either way; relative 3xx followed
//   GET  the file (following redirects; the token is only sent to the endpoint's own origin)
// Files land in blobs/<etag> (written to a temporary name, then renamed), with
// snapshots/<commit>/<file> a relative symlink to it and refs/<revision> holding the commit.
// A blob already present with the expected size is not fetched again. An LFS file (its
// ETag a SHA-256) is checked against its hash.
//
// Only what vkcls reads is fetched (hub_select_files): config.json, tokenizer.json,
// tokenizer_config.json, special_tokens_map.json, chat_template.jinja, the sentence-transformers
// files (modules.json, sentence_bert_config.json, config_sentence_transformers.json, and each
// "<N>_<Module>/" folder's config.json and weights), and one set of weights, in WeightStore's
// order of preference: model.safetensors, model.safetensors.index.json + its shards,
// pytorch_model.bin, pytorch_model.bin.index.json + its shards.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/hub_cache.h"

namespace vkcls {

struct HubDownloadOptions {
  std::string endpoint;  // "": $HF_ENDPOINT, else https://huggingface.co (http:// is allowed too)
  std::string token;     // "": $HF_TOKEN, else the token file ($HF_TOKEN_PATH, else $HF_HOME/token,
                         // else ~/.cache/huggingface/token); sent as "Authorization: Bearer"
  std::string cache_dir;  // "": hub_cache_dir()
  std::string ca_bundle;  // PEM file of trusted CAs; "": $VKCLS_CA_BUNDLE, else OpenSSL's default
                          // paths (which honour $SSL_CERT_FILE and $SSL_CERT_DIR)
  int connect_timeout_s = 10;
  int read_timeout_s = 60;                           // per read, not per file
  uint64_t max_file_bytes = uint64_t(64) << 30;      // one file
  uint64_t max_total_bytes = uint64_t(256) << 30;    // everything fetched by one call
  uint64_t max_metadata_bytes = uint64_t(16) << 20;  // API responses and index files
  int max_redirects = 10;
  // Called as bytes arrive: (file, bytes so far, expected size or 0 when unknown).
  std::function<void(const std::string& file, uint64_t done, uint64_t total)> progress;
};

// Downloads `repo_id` at `revision` ("" means "main"; a branch, tag or commit sha) into the
// cache and returns the snapshot directory. Honours $HF_HUB_OFFLINE (HubError::Kind::offline).
// Errors are HubError: auth (401 / 403: private or gated, token missing or without access),
// not_found (404: repo, revision or file), network (connection, TLS, timeout), limit, http, io.
std::string download_model(const std::string& repo_id, const std::string& revision = "",
                           const HubDownloadOptions& options = {});

// The files of a repository listing (rfilename values) that vkcls needs, shards excepted
// (those come from the index, once it is downloaded). Exposed for tests.
std::vector<std::string> hub_select_files(const std::vector<std::string>& siblings);

}  // namespace vkcls
