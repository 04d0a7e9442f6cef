// Hub cache lookup: the cache directory, repo ids, revisions, refs -> snapshots.
#include "models/hub_cache.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <pwd.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace vkcls {
namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string home_dir() {
  std::string h = env("HOME");
  if (!h.empty()) return h;
  if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) return pw->pw_dir;
  return "/";
}

std::string expand_user(const std::string& p) {  // os.path.expanduser for "~" and "~/..."
  if (p == "~" || p.starts_with("~/")) return home_dir() + p.substr(1);
  return p;
}

bool word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// One part of a repo id: [\w\-.]+ that starts and ends with \w (the regex's \b anchors).
bool valid_id_part(const std::string& s, size_t max_len) {
  if (s.empty() || s.size() > max_len || !word_char(s.front()) || !word_char(s.back()))
    return false;
  for (char c : s)
    if (!word_char(c) && c != '-' && c != '.') return false;
  return true;
}

}  // namespace

const char* hub_error_kind_name(HubError::Kind k) {
  switch (k) {
    case HubError::Kind::not_found:
      return "not_found";
    case HubError::Kind::bad_id:
      return "bad_id";
    case HubError::Kind::auth:
      return "auth";
    case HubError::Kind::http:
      return "http";
    case HubError::Kind::network:
      return "network";
    case HubError::Kind::limit:
      return "limit";
    case HubError::Kind::io:
      return "io";
    case HubError::Kind::offline:
      return "offline";
  }
  return "?";
}

std::string hf_home_dir() {
  if (std::string v = env("HF_HOME"); !v.empty()) return expand_user(v);
  if (std::string v = env("XDG_CACHE_HOME"); !v.empty())
    return (fs::path(expand_user(v)) / "huggingface").string();
  return (fs::path(home_dir()) / ".cache" / "huggingface").string();
}

HubCacheDir hub_cache_dir() {
  for (const char* var : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"})
    if (std::string v = env(var); !v.empty()) return {expand_user(v), var};
  if (std::string v = env("HF_HOME"); !v.empty())
    return {(fs::path(expand_user(v)) / "hub").string(), "HF_HOME"};
  if (std::string v = env("XDG_CACHE_HOME"); !v.empty())
    return {(fs::path(expand_user(v)) / "huggingface" / "hub").string(), "XDG_CACHE_HOME"};
  return {(fs::path(home_dir()) / ".cache" / "huggingface" / "hub").string(), "default"};
}

bool is_hub_repo_id(const std::string& s) {
  if (s.find("--") != std::string::npos || s.find("..") != std::string::npos || s.ends_with(".git"))
    return false;
  size_t slash = s.find('/');
  if (slash == std::string::npos) return valid_id_part(s, 96);
  if (s.find('/', slash + 1) != std::string::npos) return false;
  return valid_id_part(s.substr(0, slash), 96) && valid_id_part(s.substr(slash + 1), 96);
}

std::string hub_repo_folder_name(const std::string& repo_id) {
  std::string out = "models";
  std::stringstream parts(repo_id);
  for (std::string part; std::getline(parts, part, '/');) out += "--" + part;
  return out;
}

bool is_commit_sha(const std::string& s) {
  if (s.size() != 40) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) return false;
  return true;
}

void check_hub_revision(const std::string& revision) {
  auto bad = [&](const char* why) {
    return HubError(HubError::Kind::bad_id, fmt::format("revision \"{}\" {}", revision, why));
  };
  if (revision.empty()) throw bad("is empty");
  if (revision.size() > 256) throw bad("is longer than 256 characters");
  if (revision.front() == '/') throw bad("is an absolute path");
  for (char c : revision)
    if (c == '\\' || c == '\0' || static_cast<unsigned char>(c) < 0x20)
      throw bad("contains a backslash or control character");
  std::stringstream parts(revision);
  for (std::string part; std::getline(parts, part, '/');)
    if (part.empty() || part == "." || part == "..")
      throw bad("has an empty, \".\" or \"..\" component");
  if (revision.back() == '/') throw bad("ends with '/'");
}

std::string hub_cache_snapshot(const std::string& repo_id, const std::string& revision_in,
                               const std::string& cache_in) {
  if (!is_hub_repo_id(repo_id))
    throw HubError(HubError::Kind::bad_id,
                   fmt::format("\"{}\" is not a Hugging Face repo id (ORG/NAME)", repo_id));
  const std::string revision = revision_in.empty() ? "main" : revision_in;
  check_hub_revision(revision);
  HubCacheDir cache = cache_in.empty() ? hub_cache_dir() : HubCacheDir{cache_in, "argument"};
  const fs::path repo = fs::path(cache.path) / hub_repo_folder_name(repo_id);

  std::vector<std::string> tried;
  std::error_code ec;
  std::string sha;
  if (is_commit_sha(revision)) {
    sha = revision;
  } else {
    fs::path ref = repo / "refs" / revision;
    if (fs::is_regular_file(ref, ec)) {
      std::ifstream f(ref);
      std::getline(f, sha, '\0');
      while (!sha.empty() && std::isspace(static_cast<unsigned char>(sha.back()))) sha.pop_back();
      if (!is_commit_sha(sha))
        throw HubError(
            HubError::Kind::not_found,
            fmt::format("{} does not hold a commit sha (found \"{:.60}\")", ref.string(), sha));
    } else {
      tried.push_back(
          fmt::format("{} (no such file{})", ref.string(),
                      fs::is_directory(repo, ec) ? "" : "; the repo folder itself is missing"));
    }
  }
  if (!sha.empty()) {
    fs::path snap = repo / "snapshots" / sha;
    if (fs::is_directory(snap, ec)) return snap.string();
    tried.push_back(fmt::format("{} (no such directory)", snap.string()));
  }
  throw HubError(HubError::Kind::not_found,
                 fmt::format("{} at revision {} is not in the Hugging Face hub cache {} (chosen by "
                             "{}); looked for: {}",
                             repo_id, revision, cache.path, cache.source, fmt::join(tried, "; ")));
}

std::string resolve_model_path(const std::string& model, const std::string& revision) {
  std::error_code ec;
  if (fs::is_directory(model, ec)) return model;
  if (!is_hub_repo_id(model))
    throw HubError(HubError::Kind::not_found,
                   fmt::format("model directory {} does not exist", model));
  try {
    return hub_cache_snapshot(model, revision);
  } catch (const HubError& e) {
    if (e.kind() != HubError::Kind::not_found) throw;
    throw HubError(HubError::Kind::not_found,
                   fmt::format("model {} is not a directory ({} does not exist), and {}", model,
                               fs::absolute(model, ec).string(), e.what()));
  }
}

}  // namespace vkcls
