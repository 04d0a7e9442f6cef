// download_model against a local HTTPS stand-in for the hub (hub_test_server.py) on loopback,
// with a self-signed certificate made by `openssl` at test time: the cache layout written,
// only the files vkcls reads, redirects (relative, and cross-host to a "CDN" that must not see
// the token), gated repos, errors, limits, certificate verification. No network needed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>

#include "models/hub_cache.h"
#include "models/hub_download.h"
#include "models/safetensors.h"

namespace fs = std::filesystem;
using namespace vkcls;
using Kind = HubError::Kind;

namespace {

const fs::path kData = fs::path(VKCLS_TEST_DATA);
const std::string kToken = "hf_test_token_123";

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

template <typename F>
void expect_hub_error(F&& f, Kind kind, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected " << hub_error_kind_name(kind);
  } catch (const HubError& e) {
    EXPECT_EQ(e.kind(), kind) << hub_error_kind_name(e.kind()) << ": " << e.what();
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << "\nmissing: " << p;
  }
}

// The server and its files, shared by the suite: started once, stopped at the end.
class HubDownload : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("vkcls_hub_download_" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    // Two self-signed certificates: the server's (for 127.0.0.1 and localhost), and an unrelated
    // one.
    for (const char* name : {"server", "other"}) {
      std::string cmd = fmt_cmd(name);
      if (std::system(cmd.c_str()) != 0) {
        setup_error_ = "openssl failed: " + cmd;
        return;
      }
    }
    // Repo 1: the bert-seqcls fixture plus files vkcls does not need.
    fs::path a = root_ / "repo_a";
    fs::create_directories(a / "1_Pooling");
    fs::create_directories(a / "onnx");
    for (const auto& e : fs::directory_iterator(kData / "models" / "bert-seqcls"))
      if (!e.path().filename().string().starts_with("reference"))
        fs::copy_file(e.path(), a / e.path().filename());
    fs::copy_file(kData / "torch_bin" / "bert-seqcls" / "pytorch_model.bin",
                  a / "pytorch_model.bin");  // safetensors wins
    std::ofstream(a / "1_Pooling" / "config.json") << R"({"pooling_mode_mean_tokens": true})";
    std::ofstream(a / "modules.json")
        << R"([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}])";
    std::ofstream(a / "README.md") << "# a model card\n";
    std::ofstream(a / "onnx" / "model.onnx") << "not needed";
    // Repo 2: gated, sharded pytorch_model.bin only.
    fs::path b = root_ / "repo_b";
    fs::create_directories(b);
    fs::copy_file(kData / "models" / "bert-seqcls" / "config.json", b / "config.json");
    for (const auto& e : fs::directory_iterator(kData / "torch_bin" / "bert-seqcls-sharded"))
      fs::copy_file(e.path(), b / e.path().filename());

    int out[2];
    if (pipe(out) != 0) {
      setup_error_ = "pipe failed";
      return;
    }
    const std::string script = std::string(VKCLS_SOURCE_DIR) + "/tests/models/hub_test_server.py";
    std::vector<std::string> args = {"python3",   script,
                                     "--cert",    (root_ / "server.pem").string(),
                                     "--key",     (root_ / "server.key").string(),
                                     "--token",   kToken,
                                     "--log",     (root_ / "requests.log").string(),
                                     "--repo",    "vkcls-test/bert=" + a.string(),
                                     "--repo",    "vkcls-test/bert-bin=" + b.string(),
                                     "--repo",    "vkcls-test/corrupt=" + a.string(),
                                     "--repo",    "vkcls-test/slow=" + a.string(),
                                     "--gated",   "vkcls-test/bert-bin",
                                     "--alias",   "old-name/bert=vkcls-test/bert",
                                     "--corrupt", "vkcls-test/corrupt",
                                     "--stall",   "vkcls-test/slow"};
    server_ = fork();
    if (server_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      std::vector<char*> argv;
      for (auto& s : args) argv.push_back(s.data());
      argv.push_back(nullptr);
      execvp("python3", argv.data());
      _exit(127);
    }
    close(out[1]);
    // The server prints "PORT <n>" once it listens: a blocking read, no polling.
    FILE* f = fdopen(out[0], "r");
    char line[64] = {0};
    if (!f || !std::fgets(line, sizeof line, f) || std::sscanf(line, "PORT %d", &port_) != 1) {
      setup_error_ = std::string("the test server did not start: ") + line;
      return;
    }
    fclose(f);
  }

  static std::string fmt_cmd(const char* name) {
    fs::path key = root_ / (std::string(name) + ".key"),
             cert = root_ / (std::string(name) + ".pem");
    return "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
           "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
           key.string() + " -out " + cert.string() + " >/dev/null 2>&1";
  }

  static void TearDownTestSuite() {
    if (server_ > 0) {
      kill(server_, SIGTERM);
      waitpid(server_, nullptr, 0);
    }
    fs::remove_all(root_);
  }

  void SetUp() override {
    if (!setup_error_.empty()) GTEST_FAIL() << setup_error_;
    cache_ = root_ / ("cache_" +
                      std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(cache_);
  }

  HubDownloadOptions options(const std::string& token = "") const {
    HubDownloadOptions o;
    o.endpoint = "https://127.0.0.1:" + std::to_string(port_);
    o.cache_dir = cache_.string();
    o.ca_bundle = (root_ / "server.pem").string();
    o.token =
        token.empty()
            ? "-"
            : token;  // "-": a token the server ignores for public repos, never the environment's
    o.read_timeout_s = 3;
    return o;
  }

  // Every request the server has seen, as "METHOD PATH auth=N".
  static std::vector<std::string> requests() {
    std::ifstream f(root_ / "requests.log");
    std::vector<std::string> out;
    for (std::string l; std::getline(f, l);) out.push_back(l);
    return out;
  }

  static inline fs::path root_;
  static inline pid_t server_ = -1;
  static inline int port_ = 0;
  static inline std::string setup_error_;
  fs::path cache_;
};

}  // namespace

TEST(HubSelect, OnlyWhatVkclsReads) {
  std::vector<std::string> s = {"README.md",
                                "config.json",
                                "model.safetensors",
                                "pytorch_model.bin",
                                "tf_model.h5",
                                "tokenizer.json",
                                "vocab.txt",
                                "onnx/model.onnx",
                                "1_Pooling/config.json",
                                "2_Dense/config.json",
                                "2_Dense/model.safetensors",
                                "2_Dense/pytorch_model.bin",
                                "3_Normalize/x/config.json",
                                "../config.json",
                                "modules.json",
                                "chat_template.jinja"};
  std::vector<std::string> want = {"config.json",         "tokenizer.json",
                                   "chat_template.jinja", "modules.json",
                                   "model.safetensors",   "1_Pooling/config.json",
                                   "2_Dense/config.json", "2_Dense/model.safetensors"};
  EXPECT_EQ(hub_select_files(s), want);
  // No safetensors: the .bin index; a sharded safetensors index is preferred over a single .bin.
  EXPECT_EQ(hub_select_files({"config.json", "pytorch_model.bin.index.json",
                              "pytorch_model-00001-of-00002.bin"}),
            (std::vector<std::string>{"config.json", "pytorch_model.bin.index.json"}));
  EXPECT_EQ(hub_select_files({"config.json", "pytorch_model.bin", "model.safetensors.index.json"}),
            (std::vector<std::string>{"config.json", "model.safetensors.index.json"}));
}

TEST_F(HubDownload, WritesTheCacheLayoutWithOnlyTheNeededFiles) {
  std::vector<std::pair<std::string, uint64_t>> progress;
  HubDownloadOptions o = options(kToken);
  o.progress = [&](const std::string& file, uint64_t done, uint64_t) {
    progress.emplace_back(file, done);
  };
  const size_t before = requests().size();
  std::string snap = download_model("vkcls-test/bert", "main", o);

  const fs::path repo = cache_ / "models--vkcls-test--bert";
  const std::string sha = slurp(repo / "refs" / "main");
  ASSERT_TRUE(is_commit_sha(sha)) << sha;
  EXPECT_EQ(snap, (repo / "snapshots" / sha).string());
  const fs::path src = root_ / "repo_a";
  std::set<std::string> got;
  for (const auto& e : fs::recursive_directory_iterator(snap)) {
    if (e.is_directory()) continue;
    std::string rel =
        e.path().lexically_relative(snap).string();  // not fs::relative: it follows the link
    got.insert(rel);
    // A relative symlink into blobs/ with the file's bytes.
    ASSERT_TRUE(fs::is_symlink(e.path())) << rel;
    fs::path target = fs::read_symlink(e.path());
    EXPECT_TRUE(target.is_relative()) << target;
    EXPECT_EQ(fs::weakly_canonical(e.path().parent_path() / target).parent_path(),
              fs::weakly_canonical(repo / "blobs"));
    EXPECT_EQ(slurp(e.path()), slurp(src / rel)) << rel;
  }
  EXPECT_EQ(got, (std::set<std::string>{"config.json", "tokenizer.json", "tokenizer_config.json",
                                        "special_tokens_map.json", "model.safetensors",
                                        "modules.json", "1_Pooling/config.json"}));
  // LFS blobs are named by their SHA-256, small files by their git blob id (40 hex).
  std::string target = fs::read_symlink(fs::path(snap) / "model.safetensors").filename().string();
  EXPECT_EQ(target.size(), 64u);
  EXPECT_EQ(fs::read_symlink(fs::path(snap) / "1_Pooling" / "config.json").string().substr(0, 9),
            "../../../");
  EXPECT_FALSE(progress.empty());
  for (const auto& e : fs::directory_iterator(repo / "blobs"))
    EXPECT_EQ(e.path().string().find(".incomplete"), std::string::npos);

  // The model loads, and resolves from the cache by id.
  EXPECT_TRUE(WeightStore::open_dir(snap).has("classifier.weight"));
  setenv("HF_HUB_CACHE", cache_.c_str(), 1);
  EXPECT_EQ(resolve_model_path("vkcls-test/bert"), snap);
  unsetenv("HF_HUB_CACHE");

  // The token went to the hub, never to the CDN host.
  std::vector<std::string> log = requests();
  int cdn = 0;
  for (size_t i = before; i < log.size(); i++) {
    if (log[i].find(" /cdn/") != std::string::npos) {
      cdn++;
      EXPECT_NE(log[i].find("auth=0"), std::string::npos) << log[i];
    } else {
      EXPECT_NE(log[i].find("auth=1"), std::string::npos) << log[i];
    }
  }
  EXPECT_EQ(cdn, 1);  // model.safetensors

  // Again: blobs are reused (metadata requests only), and a tag lands in refs/ too.
  const size_t second = requests().size();
  EXPECT_EQ(download_model("vkcls-test/bert", "v1", o), snap);
  EXPECT_EQ(slurp(repo / "refs" / "v1"), sha);
  log = requests();
  for (size_t i = second; i < log.size(); i++)
    EXPECT_EQ(log[i].find("GET /cdn"), std::string::npos) << log[i];
  // By commit sha: no ref is written for it.
  EXPECT_EQ(download_model("vkcls-test/bert", sha, o), snap);
  EXPECT_FALSE(fs::exists(repo / "refs" / sha));
}

TEST_F(HubDownload, GatedShardedBinRepo) {
  {
    // No token anywhere (options, HF_TOKEN, the token file): 401, and the message says how to give
    // one.
    HubDownloadOptions none = options();
    none.token.clear();
    const char* old = std::getenv("HF_TOKEN");
    std::optional<std::string> saved = old ? std::optional<std::string>(old) : std::nullopt;
    setenv("HF_TOKEN_PATH", (root_ / "no-such-token").c_str(), 1);
    unsetenv("HF_TOKEN");
    expect_hub_error([&] { download_model("vkcls-test/bert-bin", "main", none); }, Kind::auth,
                     {"401", "private or gated", "set HF_TOKEN"});
    // The token file is read when HF_TOKEN is not set.
    std::ofstream(root_ / "token-file") << kToken << "\n";
    setenv("HF_TOKEN_PATH", (root_ / "token-file").c_str(), 1);
    EXPECT_NO_THROW(download_model("vkcls-test/bert-bin", "main", none));
    unsetenv("HF_TOKEN_PATH");
    if (saved) setenv("HF_TOKEN", saved->c_str(), 1);
    fs::remove_all(cache_);
  }
  expect_hub_error([&] { download_model("vkcls-test/bert-bin", "main", options("wrong")); },
                   Kind::auth, {"403", "no access", "gated"});
  std::string snap = download_model("vkcls-test/bert-bin", "main", options(kToken));
  EXPECT_TRUE(fs::exists(fs::path(snap) / "pytorch_model.bin.index.json"));
  EXPECT_TRUE(fs::exists(fs::path(snap) / "pytorch_model-00002-of-00002.bin"));
  WeightStore bin = WeightStore::open_dir(snap);
  WeightStore twin = WeightStore::open_dir((kData / "models" / "bert-seqcls").string());
  EXPECT_EQ(bin.names(), twin.names());
}

TEST_F(HubDownload, RenamedRepoFollowsRelativeRedirects) {
  std::string snap = download_model("old-name/bert", "main", options());
  EXPECT_TRUE(fs::exists(fs::path(snap) / "model.safetensors"));
  EXPECT_NE(snap.find("models--old-name--bert"),
            std::string::npos);  // cached under the name asked for
}

TEST_F(HubDownload, NotFoundErrors) {
  expect_hub_error([&] { download_model("vkcls-test/nope", "main", options()); }, Kind::not_found,
                   {"repository not found"});
  expect_hub_error([&] { download_model("vkcls-test/bert", "no-branch", options()); },
                   Kind::not_found, {"revision not found", "no-branch"});
  expect_hub_error([&] { download_model("not a repo", "main", options()); }, Kind::bad_id,
                   {"not a Hugging Face repo id"});
  expect_hub_error([&] { download_model("vkcls-test/bert", "../x", options()); }, Kind::bad_id,
                   {"revision"});
}

TEST_F(HubDownload, CertificatesAreVerified) {
  HubDownloadOptions o = options();
  o.ca_bundle = (root_ / "other.pem").string();  // trusts a different certificate
  expect_hub_error([&] { download_model("vkcls-test/bert", "main", o); }, Kind::network,
                   {"certificate", "VKCLS_CA_BUNDLE"});
  // The bundle from the environment is honoured too.
  o.ca_bundle.clear();
  setenv("VKCLS_CA_BUNDLE", (root_ / "server.pem").c_str(), 1);
  EXPECT_NO_THROW(download_model("vkcls-test/bert", "main", o));
  setenv("VKCLS_CA_BUNDLE", (root_ / "other.pem").c_str(), 1);
  fs::remove_all(cache_);
  expect_hub_error([&] { download_model("vkcls-test/bert", "main", o); }, Kind::network,
                   {"certificate"});
  unsetenv("VKCLS_CA_BUNDLE");
}

TEST_F(HubDownload, EndpointTokenAndCacheFromTheEnvironment) {
  setenv("HF_ENDPOINT", ("https://127.0.0.1:" + std::to_string(port_) + "/").c_str(), 1);
  setenv("HF_TOKEN", kToken.c_str(), 1);
  setenv("HF_HUB_CACHE", cache_.c_str(), 1);
  setenv("VKCLS_CA_BUNDLE", (root_ / "server.pem").c_str(), 1);
  std::string snap = download_model("vkcls-test/bert-bin");  // gated: the token came from HF_TOKEN
  EXPECT_EQ(snap.rfind(cache_.string(), 0), 0u);
  EXPECT_EQ(resolve_model_path("vkcls-test/bert-bin"), snap);
  setenv("HF_HUB_OFFLINE", "1", 1);
  expect_hub_error([&] { download_model("vkcls-test/bert"); }, Kind::offline, {"HF_HUB_OFFLINE"});
  for (const char* v :
       {"HF_ENDPOINT", "HF_TOKEN", "HF_HUB_CACHE", "VKCLS_CA_BUNDLE", "HF_HUB_OFFLINE"})
    unsetenv(v);
}

TEST_F(HubDownload, LimitsChecksumsAndTimeouts) {
  HubDownloadOptions o = options();
  o.max_file_bytes = 100000;  // model.safetensors is ~300 kB
  expect_hub_error([&] { download_model("vkcls-test/bert", "main", o); }, Kind::limit,
                   {"model.safetensors", "max_file_bytes"});
  o = options();
  o.max_total_bytes = 50000;  // passes while the small files arrive, not with the weights
  expect_hub_error([&] { download_model("vkcls-test/bert", "main", o); }, Kind::limit,
                   {"max_total_bytes"});
  // A corrupted transfer is caught by the SHA-256 of the LFS file, and nothing is left behind.
  expect_hub_error([&] { download_model("vkcls-test/corrupt", "main", options()); }, Kind::http,
                   {"SHA-256"});
  for (const auto& e : fs::recursive_directory_iterator(cache_)) {
    EXPECT_EQ(e.path().string().find(".incomplete"), std::string::npos) << e.path();
    EXPECT_FALSE(e.path().filename().string().size() == 64 &&
                 e.path().parent_path().filename() == "blobs")
        << e.path();
  }
  // A server that does not answer within the read timeout.
  o = options();
  o.read_timeout_s = 1;
  expect_hub_error([&] { download_model("vkcls-test/slow", "main", o); }, Kind::network,
                   {"cannot reach"});
}
