// Helpers shared by the test binaries: temporary folders, file writing, and running
// the real CLI binary with its exit code, stdout and stderr.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace modelkit::test {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "modelkit-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const fs::path& path() const { return path_; }
  [[nodiscard]] fs::path operator/(const std::string& rel) const { return path_ / rel; }

 private:
  fs::path path_;
};

inline void write_file(const fs::path& path, std::string_view content) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline fs::path data_dir() { return fs::path(MODELKIT_TEST_DATA_DIR); }

// Quotes `s` for /bin/sh.
inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

// Runs a shell command; on failure returns its combined output (for the assertion message).
inline std::optional<std::string> run_command(const std::string& command) {
  TempDir tmp;
  const fs::path log = tmp / "log";
  const int rc = std::system((command + " >" + shell_quote(log.string()) + " 2>&1").c_str());
  if (rc == 0) return std::nullopt;
  return "command failed (status " + std::to_string(rc) + "): " + command + "\n" + read_text(log);
}

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

#ifdef MODELKIT_CLI_PATH
// The unprivileged user tests switch to when they run as root (CI does): permissions bind it.
inline constexpr uid_t kNobodyUid = 65534;
inline constexpr gid_t kNobodyGid = 65534;

// Runs the modelkit binary with args and optional extra environment ("NAME=value"). With
// `unprivileged` and root, the forked child drops to nobody (groups, gid, then uid) before exec;
// a failed drop exits 126.
inline CliResult run_cli(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
                         bool unprivileged = false) {
  TempDir tmp;
  auto out_path = tmp / "stdout";
  auto err_path = tmp / "stderr";
  pid_t pid = ::fork();
  if (pid == 0) {
    FILE* o = std::freopen(out_path.c_str(), "w", stdout);
    FILE* e = std::freopen(err_path.c_str(), "w", stderr);
    (void)o;
    (void)e;
    if (unprivileged && ::geteuid() == 0 &&
        (::setgroups(0, nullptr) != 0 || ::setgid(kNobodyGid) != 0 || ::setuid(kNobodyUid) != 0 || ::setuid(0) == 0))
      std::_Exit(126);
    for (const auto& kv : env) ::putenv(const_cast<char*>(kv.c_str()));
    std::vector<char*> argv;
    std::string bin = MODELKIT_CLI_PATH;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    std::_Exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_text(out_path);
  r.err = read_text(err_path);
  return r;
}
#endif

// A Hugging Face cache layout: <hub>/models--org--name/{refs/main, snapshots/<rev>/...}.
inline fs::path make_cache_snapshot(const fs::path& hub, const std::string& model_id, const std::string& rev = "0123abc") {
  std::string folder = "models--";
  for (char c : model_id) folder += (c == '/') ? std::string("--") : std::string(1, c);
  auto repo = hub / folder;
  write_file(repo / "refs" / "main", rev + "\n");
  auto snap = repo / "snapshots" / rev;
  fs::create_directories(snap);
  return snap;
}

}  // namespace modelkit::test
