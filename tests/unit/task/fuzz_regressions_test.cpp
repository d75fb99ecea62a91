// Inputs the libFuzzer target config_fuzz found (tests/data/fuzz/config/), replayed through
// the same API: parse config.json, then resolve the task.
#include "fuzz_regressions.hpp"

#include <modelkit/config.hpp>
#include <modelkit/task.hpp>

#include <gtest/gtest.h>

namespace modelkit {
namespace {

TEST(FuzzRegressions, Configs) {
  for (const auto& [name, input] : test::fuzz_inputs("config")) {
    auto config = parse_model_config(input);
    if (!config) {
      test::expect_one_line(config.error(), name);
      continue;
    }
    ModelFacts facts;
    facts.config = std::move(*config);
    auto r = resolve_task(facts, {});
    if (!r) test::expect_one_line(r.error(), name);
  }
}

TEST(FuzzRegressions, ConfigKeyWithNewlineStaysOnOneLine) {
  // "auto_map": {"\ntoCab_size": 151936, ...}: the key is quoted in the error, escaped.
  auto config = parse_model_config(test::fuzz_input("config", "newline_in_quoted_value.bin"));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message, "field 'auto_map.\\ntoCab_size' must be a string, got a number");
}

}  // namespace
}  // namespace modelkit
