// Replaying what the libFuzzer targets (fuzz/) found: every input committed under
// tests/data/fuzz/<target>/ goes through the same API as the target, and the invariants the
// target checks are asserted here too (no crash, an error is one non-empty line).
#pragma once

#include "test_support.hpp"

#include <modelkit/result.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace modelkit::test {

// (file name, bytes) of every committed input of a fuzz target, sorted by name.
inline std::vector<std::pair<std::string, std::string>> fuzz_inputs(const std::string& target) {
  std::vector<std::pair<std::string, std::string>> inputs;
  for (const auto& entry : fs::directory_iterator(data_dir() / "fuzz" / target))
    if (entry.is_regular_file()) inputs.emplace_back(entry.path().filename().string(), read_text(entry.path()));
  std::sort(inputs.begin(), inputs.end());
  return inputs;
}

inline std::string fuzz_input(const std::string& target, const std::string& name) {
  auto path = data_dir() / "fuzz" / target / name;
  if (!fs::is_regular_file(path)) throw std::runtime_error("missing fuzz input " + path.string());
  return read_text(path);
}

inline void expect_one_line(const Error& error, const std::string& input_name) {
  EXPECT_FALSE(error.message.empty()) << input_name;
  EXPECT_EQ(error.message.find_first_of("\n\r"), std::string::npos) << input_name << ": " << error.message;
}

}  // namespace modelkit::test
