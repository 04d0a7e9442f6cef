// Hub ids from the local Hugging Face cache: the cache directory's precedence, repo ids and
// revisions, and a fake cache laid out as huggingface_hub writes it (blobs/, snapshots/ with
// relative symlinks, refs/) built in a temporary directory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "models/hub_cache.h"
#include "models/safetensors.h"

namespace fs = std::filesystem;
using namespace vkcls;

namespace {

const fs::path kData = fs::path(VKCLS_TEST_DATA);
const std::string kSha = "0123456789abcdef0123456789abcdef01234567";
const std::string kSha2 = "fedcba9876543210fedcba9876543210fedcba98";

// Sets environment variables for one scope and restores them afterwards.
class ScopedEnv {
 public:
  ScopedEnv(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (auto [k, v] : vars) {
      const char* old = std::getenv(k);
      saved_.emplace(k, old ? std::optional<std::string>(old) : std::nullopt);
      if (v)
        setenv(k, v, 1);
      else
        unsetenv(k);
    }
  }
  ~ScopedEnv() {
    for (const auto& [k, v] : saved_) {
      if (v)
        setenv(k.c_str(), v->c_str(), 1);
      else
        unsetenv(k.c_str());
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

// Every variable that picks the cache, unset.
ScopedEnv no_cache_env() {
  return ScopedEnv{{"HF_HUB_CACHE", nullptr},
                   {"HUGGINGFACE_HUB_CACHE", nullptr},
                   {"HF_HOME", nullptr},
                   {"XDG_CACHE_HOME", nullptr}};
}

template <typename F>
void expect_hub_error(F&& f, HubError::Kind kind, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected " << hub_error_kind_name(kind);
  } catch (const HubError& e) {
    EXPECT_EQ(e.kind(), kind) << hub_error_kind_name(e.kind()) << ": " << e.what();
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << "\nmissing: " << p;
  }
}

class HubCache : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("vkcls_hub_cache_") + info->name() + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // <cache>/models--org--name with blobs, a snapshot of symlinks for kSha (the bert-seqcls
  // fixture) and one for kSha2 (config only), refs main -> kSha, v2 -> kSha2, refs/pr/1 -> kSha2.
  fs::path make_repo(const fs::path& cache, const std::string& folder = "models--org--name") {
    fs::path repo = cache / folder;
    fs::create_directories(repo / "blobs");
    for (const auto& [sha, files] : std::map<std::string, std::vector<std::string>>{
             {kSha, {"config.json", "model.safetensors", "tokenizer.json"}},
             {kSha2, {"config.json"}}}) {
      fs::create_directories(repo / "snapshots" / sha);
      for (const auto& f : files) {
        std::string etag =
            sha.substr(0, 8) + "-" + f;  // blob names are ETags; any stable name will do here
        fs::copy_file(kData / "models" / "bert-seqcls" / f, repo / "blobs" / etag,
                      fs::copy_options::overwrite_existing);
        fs::create_symlink(fs::path("..") / ".." / "blobs" / etag, repo / "snapshots" / sha / f);
      }
    }
    fs::create_directories(repo / "refs" / "refs" / "pr");
    std::ofstream(repo / "refs" / "main") << kSha;  // huggingface_hub writes no newline
    std::ofstream(repo / "refs" / "v2") << kSha2 << "\n";
    std::ofstream(repo / "refs" / "refs" / "pr" / "1") << kSha2;
    return repo;
  }

  fs::path dir_;
};

}  // namespace

TEST(HubCacheDir, PrecedenceAsHuggingfaceHub) {
  auto clean = no_cache_env();
  ScopedEnv home{{"HOME", "/home/someone"}};
  EXPECT_EQ(hub_cache_dir().path, "/home/someone/.cache/huggingface/hub");
  EXPECT_EQ(hub_cache_dir().source, "default");
  EXPECT_EQ(hf_home_dir(), "/home/someone/.cache/huggingface");
  {
    ScopedEnv e{{"XDG_CACHE_HOME", "/xdg"}};
    EXPECT_EQ(hub_cache_dir().path, "/xdg/huggingface/hub");
    EXPECT_EQ(hf_home_dir(), "/xdg/huggingface");
    ScopedEnv h{{"HF_HOME", "~/hf"}};  // HF_HOME beats XDG_CACHE_HOME; ~ is expanded
    EXPECT_EQ(hub_cache_dir().path, "/home/someone/hf/hub");
    EXPECT_EQ(hub_cache_dir().source, "HF_HOME");
    ScopedEnv l{{"HUGGINGFACE_HUB_CACHE", "/legacy"}};
    EXPECT_EQ(hub_cache_dir().path, "/legacy");
    ScopedEnv c{{"HF_HUB_CACHE", "/hub"}};  // the newest name wins
    EXPECT_EQ(hub_cache_dir().path, "/hub");
    EXPECT_EQ(hub_cache_dir().source, "HF_HUB_CACHE");
    EXPECT_EQ(hf_home_dir(), "/home/someone/hf");
  }
}

TEST(HubCacheIds, RepoIdsAndRevisions) {
  for (const char* ok : {"org/name", "bert-base-uncased", "BAAI/bge-reranker-v2-m3", "a/b",
                         "user_1/model.v2", "x/y_"})
    EXPECT_TRUE(is_hub_repo_id(ok)) << ok;
  for (const char* bad :
       {"", "/abs", "org/", "/name", "a/b/c", "./dir", "../dir", "org--x/name", "org/na..me",
        "org/name.git", "-org/name", "org/name-", "org/na me", "~/models", "org/.name"})
    EXPECT_FALSE(is_hub_repo_id(bad)) << bad;
  EXPECT_FALSE(is_hub_repo_id("org/" + std::string(97, 'a')));
  EXPECT_EQ(hub_repo_folder_name("org/name"), "models--org--name");
  EXPECT_EQ(hub_repo_folder_name("gpt2"), "models--gpt2");
  EXPECT_TRUE(is_commit_sha(kSha));
  EXPECT_FALSE(is_commit_sha(kSha.substr(1)));
  EXPECT_FALSE(is_commit_sha("0123456789ABCDEF0123456789abcdef01234567"));
  for (const char* ok : {"main", "v1.0", "refs/pr/1", "feature/x"})
    EXPECT_NO_THROW(check_hub_revision(ok)) << ok;
  for (const char* bad : {"", "/etc", "../x", "a/../../x", "a//b", "a/", "a\\b", "."})
    expect_hub_error([&] { check_hub_revision(bad); }, HubError::Kind::bad_id, {"revision"});
}

TEST_F(HubCache, ResolvesBranchesTagsShasAndPullRequests) {
  fs::path repo = make_repo(dir_);
  const std::string snap = (repo / "snapshots" / kSha).string(),
                    snap2 = (repo / "snapshots" / kSha2).string();
  EXPECT_EQ(hub_cache_snapshot("org/name", "", dir_.string()), snap);
  EXPECT_EQ(hub_cache_snapshot("org/name", "main", dir_.string()), snap);
  EXPECT_EQ(hub_cache_snapshot("org/name", "v2", dir_.string()),
            snap2);  // trailing newline tolerated
  EXPECT_EQ(hub_cache_snapshot("org/name", "refs/pr/1", dir_.string()), snap2);
  EXPECT_EQ(hub_cache_snapshot("org/name", kSha2, dir_.string()), snap2);  // a sha needs no ref

  // From the environment, through resolve_model_path, into a WeightStore over the symlinks.
  ScopedEnv e{{"HF_HUB_CACHE", dir_.c_str()}};
  std::string path = resolve_model_path("org/name");
  EXPECT_EQ(path, snap);
  EXPECT_TRUE(fs::is_symlink(fs::path(path) / "model.safetensors"));
  WeightStore s = WeightStore::open_dir(path);
  EXPECT_TRUE(s.has("classifier.weight"));
  EXPECT_EQ(resolve_model_path("org/name", "v2"), snap2);
}

TEST_F(HubCache, ExistingDirectoriesWinAndMissesListThePathsTried) {
  make_repo(dir_);
  ScopedEnv e{{"HF_HUB_CACHE", dir_.c_str()}};
  const std::string fixture = (kData / "models" / "bert-seqcls").string();
  EXPECT_EQ(resolve_model_path(fixture), fixture);
  EXPECT_EQ(resolve_model_path(fixture, "v2"), fixture);  // a directory is used as it is
  // A relative directory that exists, shaped like ORG/NAME: the directory wins over the cache.
  fs::create_directories(dir_ / "org" / "name");
  fs::path cwd = fs::current_path();
  fs::current_path(dir_);
  EXPECT_EQ(resolve_model_path("org/name"), "org/name");
  fs::current_path(cwd);

  const std::string repo = (dir_ / "models--org--name").string();
  expect_hub_error(
      [&] { resolve_model_path("org/name", "nope"); }, HubError::Kind::not_found,
      {"org/name at revision nope", repo + "/refs/nope (no such file)", "HF_HUB_CACHE"});
  expect_hub_error(
      [&] { resolve_model_path("org/other"); }, HubError::Kind::not_found,
      {"models--org--other/refs/main", "the repo folder itself is missing", "is not a directory"});
  const std::string missing_sha = "1111111111111111111111111111111111111111";
  expect_hub_error([&] { resolve_model_path("org/name", missing_sha); }, HubError::Kind::not_found,
                   {repo + "/snapshots/" + missing_sha + " (no such directory)"});
  std::ofstream(dir_ / "models--org--name" / "refs" / "bad") << "../../../../etc";
  expect_hub_error([&] { resolve_model_path("org/name", "bad"); }, HubError::Kind::not_found,
                   {"does not hold a commit sha"});
  expect_hub_error([&] { resolve_model_path("org/name", "../main"); }, HubError::Kind::bad_id,
                   {"revision"});
  // Not a directory and not shaped like a hub id.
  expect_hub_error([&] { resolve_model_path("./no/such/dir"); }, HubError::Kind::not_found,
                   {"model directory ./no/such/dir does not exist"});
}
