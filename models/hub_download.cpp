// Hub download: URLs and redirects over cpp-httplib, the file selection, and the
// cache writes (temporary file + rename, relative symlinks).
#include "models/hub_download.h"

#include <fmt/format.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "common/json_bounded.h"

namespace vkcls {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using Kind = HubError::Kind;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// ---------------------------------------------------------------------------
// URLs
// ---------------------------------------------------------------------------

struct Url {
  std::string scheme, host, path;  // path includes the query, starts with '/'
  int port = 0;
  std::string origin() const { return fmt::format("{}://{}:{}", scheme, host, port); }
  std::string str() const { return origin() + path; }
};

Url parse_url(const std::string& s) {
  Url u;
  size_t sep = s.find("://");
  if (sep == std::string::npos)
    throw HubError(Kind::bad_id, fmt::format("\"{}\" is not an http(s) URL", s));
  u.scheme = s.substr(0, sep);
  if (u.scheme != "https" && u.scheme != "http")
    throw HubError(Kind::bad_id,
                   fmt::format("\"{}\": only https:// and http:// URLs are supported", s));
  size_t host_begin = sep + 3, path_begin = s.find('/', host_begin);
  std::string authority = s.substr(
      host_begin, path_begin == std::string::npos ? std::string::npos : path_begin - host_begin);
  u.path = path_begin == std::string::npos ? "/" : s.substr(path_begin);
  size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
    std::string port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos)
      throw HubError(Kind::bad_id, fmt::format("\"{}\" has a bad port", s));
    u.port = std::stoi(port);
    authority.resize(colon);
  } else {
    u.port = u.scheme == "https" ? 443 : 80;
  }
  if (authority.empty() || authority.find('@') != std::string::npos)
    throw HubError(Kind::bad_id, fmt::format("\"{}\" has no usable host", s));
  u.host = authority;
  return u;
}

// A Location header against the URL it came from: absolute, or an absolute path on the same origin.
Url follow(const Url& from, const std::string& location) {
  if (location.find("://") != std::string::npos) return parse_url(location);
  Url u = from;
  if (location.starts_with("/")) {
    u.path = location;
  } else {
    u.path = from.path.substr(0, from.path.rfind('/') + 1) + location;
  }
  return u;
}

// Percent-encoding as urllib.parse.quote: unreserved characters stay, and '/' when `keep_slash`.
std::string quote(const std::string& s, bool keep_slash) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += char(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// HTTP: one request at a time, redirects decided here
// ---------------------------------------------------------------------------

struct Reply {
  int status = 0;
  httplib::Headers headers;
  std::string body;  // non-2xx bodies (for messages) and in-memory GETs, bounded
  Url url;
  std::string header(const char* name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// Receives a 200 response's body; returns false to cancel the transfer.
using Sink = std::function<bool(const char* data, size_t n)>;

class Http {
 public:
  Http(const HubDownloadOptions& o, std::string token, const Url& endpoint)
      : o_(o), token_(std::move(token)), endpoint_(endpoint) {}

  // One request, no redirect followed. `sink` (GET only) receives a 200 response's body;
  // otherwise up to `max_body` bytes are kept in Reply::body (more is an error for 200s).
  Reply request(const std::string& method, const Url& url, uint64_t max_body,
                const Sink& sink = nullptr) {
    httplib::Client cli(url.origin());
    cli.set_connection_timeout(o_.connect_timeout_s, 0);
    cli.set_read_timeout(o_.read_timeout_s, 0);
    cli.set_write_timeout(o_.read_timeout_s, 0);
    cli.set_follow_location(false);
    if (url.scheme == "https") {
      cli.enable_server_certificate_verification(true);
      if (!ca_bundle().empty()) cli.set_ca_cert_path(ca_bundle());
    }
    httplib::Headers headers{{"User-Agent", "vkcls/0.1"}, {"Accept-Encoding", "identity"}};
    if (!token_.empty() && url.origin() == endpoint_.origin())
      headers.emplace("Authorization", "Bearer " + token_);

    Reply r;
    r.url = url;
    bool too_big = false;
    auto on_response = [&](const httplib::Response& res) {
      r.status = res.status;
      r.headers = res.headers;
      return true;
    };
    auto on_data = [&](const char* data, size_t n) {
      if (r.status == 200 && sink) return sink(data, n);  // false cancels the transfer
      if (r.body.size() + n > max_body) {
        too_big = r.status == 200;
        if (too_big) return false;
        r.body.append(data, max_body - r.body.size());
        return true;
      }
      r.body.append(data, n);
      return true;
    };
    httplib::Result res = method == "HEAD" ? cli.Head(url.path, headers)
                                           : cli.Get(url.path, headers, on_response, on_data);
    if (too_big)
      throw HubError(
          Kind::limit,
          fmt::format("{} returned more than {} bytes (HubDownloadOptions::max_metadata_bytes)",
                      url.str(), max_body));
    if (!res) throw HubError(Kind::network, network_message(res.error(), url));
    if (method == "HEAD") {
      r.status = res->status;
      r.headers = res->headers;
    }
    return r;
  }

  // GET or HEAD, following up to max_redirects redirects (`relative_only`: stop at one that
  // leaves the origin, as huggingface_hub does for metadata). Returns the last reply.
  Reply follow_redirects(const std::string& method, Url url, bool relative_only, uint64_t max_body,
                         const Sink& sink = nullptr) {
    for (int hop = 0;; hop++) {
      Reply r = request(method, url, max_body, sink);
      if (r.status < 300 || r.status >= 400 || r.status == 304) return r;
      std::string loc = r.header("Location");
      if (loc.empty())
        throw HubError(Kind::http,
                       fmt::format("{} {} without a Location header", r.status, url.str()));
      Url next = follow(url, loc);
      if (relative_only && next.origin() != url.origin()) return r;
      if (hop >= o_.max_redirects)
        throw HubError(Kind::http,
                       fmt::format("more than {} redirects from {}", o_.max_redirects, url.str()));
      url = next;
    }
  }

  const std::string& token() const { return token_; }

 private:
  std::string ca_bundle() const {
    return o_.ca_bundle.empty() ? env("VKCLS_CA_BUNDLE") : o_.ca_bundle;
  }

  std::string network_message(httplib::Error e, const Url& url) const {
    std::string msg = fmt::format("cannot reach {}: {}", url.str(), httplib::to_string(e));
    if (e == httplib::Error::SSLServerVerification || e == httplib::Error::SSLConnection)
      msg += fmt::format(
          " (the server's certificate did not verify against {}; point VKCLS_CA_BUNDLE or "
          "SSL_CERT_FILE at the CA bundle to trust)",
          ca_bundle().empty() ? "the system's CA store" : ca_bundle());
    if (e == httplib::Error::SSLLoadingCerts)
      msg += fmt::format(" (cannot load CA bundle {})", ca_bundle());
    return msg;
  }

  const HubDownloadOptions& o_;
  std::string token_;
  Url endpoint_;
};

// 4xx / 5xx as typed errors, with the hub's X-Error-Code / X-Error-Message when present.
[[noreturn]] void throw_status(const Reply& r, const std::string& what, const std::string& token) {
  std::string code = r.header("X-Error-Code"), detail = r.header("X-Error-Message");
  if (detail.empty() && r.body.size() < 300) detail = r.body;
  std::string tail = detail.empty() ? "" : fmt::format(" ({})", detail);
  if (r.status == 401)
    throw HubError(
        Kind::auth,
        fmt::format("{}: 401 Unauthorized from {}{}: the repository is private or gated, or does "
                    "not exist; {}",
                    what, r.url.str(), tail,
                    token.empty() ? "no token was sent: set HF_TOKEN to a token with access"
                                  : "the token was not accepted"));
  if (r.status == 403)
    throw HubError(
        Kind::auth,
        fmt::format("{}: 403 Forbidden from {}{}: the token has no access (for a gated model, "
                    "accept its conditions on its hub page first)",
                    what, r.url.str(), tail));
  if (r.status == 404) {
    std::string which = code == "RepoNotFound"       ? "repository not found"
                        : code == "RevisionNotFound" ? "revision not found"
                        : code == "EntryNotFound"    ? "file not found"
                                                     : "not found";
    throw HubError(Kind::not_found,
                   fmt::format("{}: {} (404 from {}){}", what, which, r.url.str(), tail));
  }
  throw HubError(Kind::http,
                 fmt::format("{}: HTTP {} from {}{}", what, r.status, r.url.str(), tail));
}

// ---------------------------------------------------------------------------
// The cache
// ---------------------------------------------------------------------------

std::string unique_suffix() {
  static std::atomic<unsigned> counter{0};
  return fmt::format(".{}.{}.incomplete", getpid(), counter++);
}

void write_atomic(const fs::path& path, const std::string& content) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  fs::path tmp = path.string() + unique_suffix();
  {
    std::ofstream f(tmp, std::ios::binary);
    f << content;
    if (!f) throw HubError(Kind::io, fmt::format("cannot write {}", tmp.string()));
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp);
    throw HubError(Kind::io, fmt::format("cannot rename {} to {}: {}", tmp.string(), path.string(),
                                         ec.message()));
  }
}

// snapshots/<commit>/<file> -> ../../blobs/<etag> (relative, one more ../ per folder in <file>, as
// huggingface_hub makes it); a copy where the filesystem has no symlinks.
void link_snapshot(const fs::path& blob, const fs::path& pointer, const std::string& file) {
  std::error_code ec;
  fs::create_directories(pointer.parent_path(), ec);
  if (ec)
    throw HubError(Kind::io, fmt::format("cannot create {}: {}", pointer.parent_path().string(),
                                         ec.message()));
  std::string target;
  for (size_t i = 0, n = 2 + size_t(std::count(file.begin(), file.end(), '/')); i < n; i++)
    target += "../";
  target += "blobs/" + blob.filename().string();
  fs::path tmp = pointer.string() + unique_suffix();
  fs::create_symlink(target, tmp, ec);
  if (ec) fs::copy_file(blob, tmp, ec);
  if (!ec) fs::rename(tmp, pointer, ec);
  if (ec) {
    fs::remove(tmp);
    throw HubError(Kind::io, fmt::format("cannot create {}: {}", pointer.string(), ec.message()));
  }
}

// huggingface_hub's _normalize_etag: W/"x" and "x" -> x. Used as a file name, so checked.
std::string blob_name(const std::string& etag, const std::string& file) {
  std::string e = etag;
  if (e.starts_with("W/")) e = e.substr(2);
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  bool ok = !e.empty() && e.size() <= 128 && e != "." && e != "..";
  for (char c : e)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  if (!ok)
    throw HubError(
        Kind::http,
        fmt::format("{}: the server's ETag \"{:.80}\" is not usable as a blob name", file, etag));
  return e;
}

bool is_sha256(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isdigit(c) || (c >= 'a' && c <= 'f');
         });
}

std::string read_token() {
  if (std::string t = env("HF_TOKEN"); !t.empty()) return t;
  std::string path = env("HF_TOKEN_PATH");
  if (path.empty()) path = (fs::path(hf_home_dir()) / "token").string();
  std::ifstream f(path);
  std::string t;
  std::getline(f, t);
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  return t;
}

// One download_model call.
class Downloader {
 public:
  Downloader(const std::string& repo, const HubDownloadOptions& o)
      : repo_(repo), o_(o), endpoint_(parse_url(o.endpoint)), http_(o, o.token, endpoint_) {}

  std::string run(const std::string& revision);

 private:
  uint64_t fetch(const std::string& file);  // returns its size
  std::string fetch_small(const std::string& file);

  std::string repo_;
  const HubDownloadOptions& o_;
  Url endpoint_;
  Http http_;
  std::string commit_;
  fs::path repo_dir_;
  uint64_t total_ = 0;
};

std::string Downloader::run(const std::string& revision) {
  Url api = endpoint_;
  api.path =
      fmt::format("{}/api/models/{}/revision/{}", endpoint_.path == "/" ? "" : endpoint_.path,
                  repo_, quote(revision, false));
  Reply info_reply = http_.follow_redirects("GET", api, true, o_.max_metadata_bytes);
  if (info_reply.status != 200)
    throw_status(info_reply, fmt::format("{} at revision {}", repo_, revision), http_.token());
  json info;
  try {
    info = json_parse_bounded<json>(info_reply.body, kJsonConfigLimits);
  } catch (const JsonParseError& e) {
    throw HubError(Kind::http,
                   fmt::format("{}: the model info is not JSON ({})", api.str(), e.what()));
  }
  if (!info.is_object() || !info.contains("sha") || !info["sha"].is_string() ||
      !is_commit_sha(info["sha"].get<std::string>()))
    throw HubError(Kind::http, fmt::format("{}: the model info has no commit \"sha\"", api.str()));
  commit_ = info["sha"].get<std::string>();
  std::vector<std::string> siblings;
  if (info.contains("siblings") && info["siblings"].is_array())
    for (const auto& s : info["siblings"])
      if (s.is_object() && s.contains("rfilename") && s["rfilename"].is_string())
        siblings.push_back(s["rfilename"]);

  repo_dir_ = fs::path(o_.cache_dir) / hub_repo_folder_name(repo_);
  std::vector<std::string> files = hub_select_files(siblings);
  if (std::find(files.begin(), files.end(), "config.json") == files.end())
    throw HubError(
        Kind::not_found,
        fmt::format("{} at {} has no config.json: not a transformers model", repo_, commit_));
  const std::set<std::string> listed(siblings.begin(), siblings.end());
  for (size_t i = 0; i < files.size(); i++) {
    const std::string file = files[i];
    if (!file.ends_with(".index.json")) {
      fetch(file);
      continue;
    }
    // {"weight_map": {tensor: shard}}: the shards are plain names next to the index.
    json index;
    try {
      index = json_parse_bounded<json>(fetch_small(file), kJsonConfigLimits);
    } catch (const JsonParseError& e) {
      throw HubError(Kind::http, fmt::format("{}: not JSON ({})", file, e.what()));
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      throw HubError(Kind::http, fmt::format("{} has no \"weight_map\" object", file));
    for (const auto& [tensor, shard] : index["weight_map"].items()) {
      std::string name = shard.is_string() ? shard.get<std::string>() : "";
      if (name.empty() || name.find('/') != std::string::npos ||
          name.find('\\') != std::string::npos || name == "." || name == "..")
        throw HubError(Kind::http,
                       fmt::format("{}: shard \"{:.80}\" of '{}' is not a plain file name", file,
                                   name, tensor));
      if (!listed.count(name))
        throw HubError(
            Kind::not_found,
            fmt::format("{} names shard {}, which the repository does not have", file, name));
      if (std::find(files.begin(), files.end(), name) == files.end()) files.push_back(name);
    }
  }
  if (revision != commit_) write_atomic(repo_dir_ / "refs" / revision, commit_);
  return (repo_dir_ / "snapshots" / commit_).string();
}

std::string Downloader::fetch_small(const std::string& file) {
  uint64_t size = fetch(file);
  if (size > o_.max_metadata_bytes)
    throw HubError(
        Kind::limit,
        fmt::format("{} is {} bytes, more than {} (HubDownloadOptions::max_metadata_bytes)", file,
                    size, o_.max_metadata_bytes));
  std::ifstream f(repo_dir_ / "snapshots" / commit_ / file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

uint64_t Downloader::fetch(const std::string& file) {
  // Metadata: HEAD on the resolve URL, following same-origin redirects only.
  Url url = endpoint_;
  url.path = fmt::format("{}/{}/resolve/{}/{}", endpoint_.path == "/" ? "" : endpoint_.path, repo_,
                         commit_, quote(file, true));
  Reply head = http_.follow_redirects("HEAD", url, true, 4096);
  if (head.status >= 400) throw_status(head, fmt::format("{} of {}", file, repo_), http_.token());
  std::string commit = head.header("X-Repo-Commit");
  if (!commit.empty() && commit != commit_)
    throw HubError(Kind::http,
                   fmt::format("{}: served from commit {}, expected {}", file, commit, commit_));
  std::string etag = head.header("X-Linked-Etag");
  if (etag.empty()) etag = head.header("ETag");
  if (etag.empty())
    throw HubError(Kind::http,
                   fmt::format("{}: no ETag in the response from {}", file, head.url.str()));
  const std::string blob_id = blob_name(etag, file);
  std::string size_header = head.header("X-Linked-Size");
  if (size_header.empty()) size_header = head.header("Content-Length");
  uint64_t expected = 0;
  bool known = !size_header.empty() && size_header.size() < 20 &&
               size_header.find_first_not_of("0123456789") == std::string::npos;
  if (known) expected = std::stoull(size_header);
  if (known && expected > o_.max_file_bytes)
    throw HubError(Kind::limit,
                   fmt::format("{} is {} bytes, more than {} (HubDownloadOptions::max_file_bytes)",
                               file, expected, o_.max_file_bytes));
  Url from = head.status >= 300 && head.status < 400 ? follow(head.url, head.header("Location"))
                                                     : head.url;

  const fs::path blob = repo_dir_ / "blobs" / blob_id;
  const fs::path pointer = repo_dir_ / "snapshots" / commit_ / file;
  std::error_code ec;
  if (fs::is_regular_file(blob, ec) && (!known || fs::file_size(blob, ec) == expected)) {
    link_snapshot(blob, pointer, file);
    return fs::file_size(blob, ec);
  }

  // The body, streamed into a temporary file next to the blob, then renamed.
  fs::create_directories(blob.parent_path(), ec);
  if (ec)
    throw HubError(Kind::io,
                   fmt::format("cannot create {}: {}", blob.parent_path().string(), ec.message()));
  const fs::path tmp = blob.string() + unique_suffix();
  struct Cleanup {
    fs::path p;
    bool keep = false;
    ~Cleanup() {
      std::error_code e;
      if (!keep) fs::remove(p, e);
    }
  } cleanup{tmp};
  std::ofstream out(tmp, std::ios::binary);
  if (!out) throw HubError(Kind::io, fmt::format("cannot write {}", tmp.string()));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sha(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const bool check_sha = is_sha256(blob_id);
  if (check_sha) EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr);
  uint64_t got = 0;
  std::optional<HubError> stopped;  // why the sink cancelled the transfer
  auto sink = [&](const char* data, size_t n) {
    got += n;
    total_ += n;
    if (got > o_.max_file_bytes || (known && got > expected)) {
      stopped.emplace(Kind::limit, fmt::format("{}: more than {} bytes arrived{}", file,
                                               known ? expected : o_.max_file_bytes,
                                               known ? " (the announced size)"
                                                     : " (HubDownloadOptions::max_file_bytes)"));
      return false;
    }
    if (total_ > o_.max_total_bytes) {
      stopped.emplace(
          Kind::limit,
          fmt::format(
              "{}: the download passed {} bytes in all (HubDownloadOptions::max_total_bytes)", file,
              o_.max_total_bytes));
      return false;
    }
    out.write(data, std::streamsize(n));
    if (check_sha) EVP_DigestUpdate(sha.get(), data, n);
    if (o_.progress) o_.progress(file, got, expected);
    return true;
  };
  Reply body;
  try {
    body = http_.follow_redirects("GET", from, false, 4096, sink);
  } catch (const HubError&) {
    if (stopped) throw *stopped;
    throw;
  }
  if (stopped) throw *stopped;
  if (body.status != 200) throw_status(body, fmt::format("{} of {}", file, repo_), http_.token());
  out.close();
  if (!out) throw HubError(Kind::io, fmt::format("cannot write {}", tmp.string()));
  if (known && got != expected)
    throw HubError(Kind::network,
                   fmt::format("{}: {} bytes arrived, {} were announced", file, got, expected));
  if (check_sha) {
    unsigned char digest[32];
    unsigned len = 0;
    EVP_DigestFinal_ex(sha.get(), digest, &len);
    std::string hex;
    for (unsigned i = 0; i < len; i++) hex += fmt::format("{:02x}", digest[i]);
    if (hex != blob_id)
      throw HubError(Kind::http, fmt::format("{}: the content's SHA-256 is {}, the hub says {}",
                                             file, hex, blob_id));
  }
  fs::rename(tmp, blob, ec);
  if (ec)
    throw HubError(Kind::io, fmt::format("cannot rename {} to {}: {}", tmp.string(), blob.string(),
                                         ec.message()));
  cleanup.keep = true;
  link_snapshot(blob, pointer, file);
  return got;
}

// "<N>_<Module>" folders of a sentence-transformers model (1_Pooling, 2_Dense, 2_Normalize, ...).
bool is_module_dir(const std::string& d) {
  size_t u = d.find('_');
  if (u == 0 || u == std::string::npos || u + 1 == d.size()) return false;
  for (size_t i = 0; i < d.size(); i++) {
    char c = d[i];
    if (i < u ? !std::isdigit(static_cast<unsigned char>(c))
              : !(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
      return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> hub_select_files(const std::vector<std::string>& siblings) {
  const std::set<std::string> have(siblings.begin(), siblings.end());
  std::vector<std::string> out;
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json",
                        "special_tokens_map.json", "chat_template.jinja", "modules.json",
                        "sentence_bert_config.json", "config_sentence_transformers.json"})
    if (have.count(f)) out.push_back(f);
  for (const char* w : {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                        "pytorch_model.bin.index.json"}) {
    if (have.count(w)) {
      out.push_back(w);
      break;
    }
  }
  // Module folders: their config.json, and their weights (safetensors preferred).
  std::set<std::string> dirs;
  for (const auto& s : siblings) {
    size_t slash = s.find('/');
    if (slash != std::string::npos && s.find('/', slash + 1) == std::string::npos &&
        is_module_dir(s.substr(0, slash)))
      dirs.insert(s.substr(0, slash));
  }
  for (const auto& d : dirs) {
    if (have.count(d + "/config.json")) out.push_back(d + "/config.json");
    if (have.count(d + "/model.safetensors"))
      out.push_back(d + "/model.safetensors");
    else if (have.count(d + "/pytorch_model.bin"))
      out.push_back(d + "/pytorch_model.bin");
  }
  return out;
}

std::string download_model(const std::string& repo_id, const std::string& revision_in,
                           const HubDownloadOptions& options) {
  if (std::string off = env("HF_HUB_OFFLINE");
      off == "1" || off == "ON" || off == "YES" || off == "TRUE" || off == "true")
    throw HubError(Kind::offline,
                   fmt::format("cannot download {}: HF_HUB_OFFLINE is set", repo_id));
  if (!is_hub_repo_id(repo_id) || repo_id.find('/') == std::string::npos)
    throw HubError(Kind::bad_id,
                   fmt::format("\"{}\" is not a Hugging Face repo id (ORG/NAME)", repo_id));
  const std::string revision = revision_in.empty() ? "main" : revision_in;
  check_hub_revision(revision);
  HubDownloadOptions o = options;
  if (o.endpoint.empty()) o.endpoint = env("HF_ENDPOINT");
  if (o.endpoint.empty()) o.endpoint = "https://huggingface.co";
  while (o.endpoint.size() > 1 && o.endpoint.back() == '/') o.endpoint.pop_back();
  if (o.token.empty()) o.token = read_token();
  if (o.cache_dir.empty()) o.cache_dir = hub_cache_dir().path;
  Downloader d(repo_id, o);
  return d.run(revision);
}

}  // namespace vkcls
