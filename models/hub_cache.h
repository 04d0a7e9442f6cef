// Models where people keep them: Hugging Face hub ids resolved from the local hub
// cache, laid out as huggingface_hub lays it out (no network; see hub_download.h):
//
//   <cache>/models--<org>--<name>/
//     refs/<revision>              a file holding the commit sha a branch or tag points at
//     snapshots/<sha>/<file>       symlinks into blobs/ (or plain files on filesystems without
//     links) blobs/<etag>                 the file contents, named by their ETag
//
// <cache> is chosen as huggingface_hub (constants.py) chooses it: $HF_HUB_CACHE, else the
// legacy $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub,
// else ~/.cache/huggingface/hub; a leading ~ is expanded.
//
// No engine dependency: Engine::open and the CLI call resolve_model_path() on --model.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

namespace vkcls {

class HubError : public std::runtime_error {
 public:
  enum class Kind {
    not_found,  // not a directory, not in the cache; or (download) repo / revision / file not on
                // the hub
    bad_id,     // not a valid repo id or revision
    auth,       // 401 / 403: private or gated repository, token missing or without access
    http,       // another HTTP status, or a response that breaks the hub's protocol
    network,    // connection, TLS (certificate verification included) or timeout
    limit,      // a size limit was hit
    io,         // writing the cache failed
    offline,    // HF_HUB_OFFLINE is set and a download was asked for
  };
  HubError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

const char* hub_error_kind_name(HubError::Kind k);

// The hub cache directory, and which variable chose it ("HF_HUB_CACHE", ..., "default").
struct HubCacheDir {
  std::string path;
  std::string source;
};
HubCacheDir hub_cache_dir();

// huggingface_hub's HF_HOME: $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface
// (where its token file lives).
std::string hf_home_dir();

// "ORG/NAME" or "NAME" as huggingface_hub's validate_repo_id accepts them: letters, digits,
// '-', '_', '.'; each part starts and ends with a letter, digit or '_'; the name at most 96
// characters; no "--" or ".."; not ending in ".git".
bool is_hub_repo_id(const std::string& s);

// "models--ORG--NAME" (huggingface_hub's repo_folder_name for a model repository).
std::string hub_repo_folder_name(const std::string& repo_id);

// True for a 40-character lowercase hex commit sha.
bool is_commit_sha(const std::string& s);

// Throws HubError(bad_id) unless `revision` is usable as a path under refs/: non-empty, no
// empty, "." or ".." components, no backslash, not absolute ("refs/pr/1" is fine).
void check_hub_revision(const std::string& revision);

// <cache>/models--ORG--NAME/snapshots/<sha> for `revision` (a branch or tag through
// refs/<revision>, or a commit sha directly; "" means "main"). `cache_dir` "" means
// hub_cache_dir(). HubError(not_found) lists every path tried and what was missing there.
std::string hub_cache_snapshot(const std::string& repo_id, const std::string& revision = "",
                               const std::string& cache_dir = "");

// What --model names: an existing directory is returned as is; something shaped like a hub
// id is looked up in the cache (hub_cache_snapshot); anything else is HubError(not_found)
// naming the directory that does not exist and, for hub ids, the cache paths tried.
std::string resolve_model_path(const std::string& model, const std::string& revision = "");

}  // namespace vkcls
