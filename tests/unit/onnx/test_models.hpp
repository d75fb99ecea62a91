// Where setup (scripts/setup.d/30-test-models.sh) puts the real test models.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace modelkit::testing {

inline std::filesystem::path models_dir() { return std::filesystem::path(MODELKIT_DEPS_DIR) / "models"; }

// A model under .deps/models; fails the test (not skips) when setup has not run.
inline std::filesystem::path test_model(const std::string& relative) {
  auto p = models_dir() / relative;
  EXPECT_TRUE(std::filesystem::exists(p)) << p << " is missing: run scripts/setup.sh";
  return p;
}

// A fresh temporary folder removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "modelkit-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace modelkit::testing
