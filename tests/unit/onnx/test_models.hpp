// Where setup (scripts/setup.d/30-test-models.sh) puts the real test models.
#pragma once

#include "test_support.hpp"

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

using TempDir = modelkit::test::TempDir;

}  // namespace modelkit::testing
