// Inputs the libFuzzer target build_config_fuzz found (tests/data/fuzz/build_config/),
// replayed through the same API: parse a build config; what parses writes back to JSON that
// parses again to the same JSON.
#include "fuzz_regressions.hpp"

#include <modelkit/plan.hpp>

#include <gtest/gtest.h>

namespace modelkit {
namespace {

TEST(FuzzRegressions, BuildConfigs) {
  for (const auto& [name, input] : test::fuzz_inputs("build_config")) {
    auto config = parse_build_config(input);
    if (!config) {
      test::expect_one_line(config.error(), name);
      continue;
    }
    auto json = build_config_json(*config);
    auto again = parse_build_config(json);
    ASSERT_TRUE(again.ok()) << name << ": " << again.error().message;
    EXPECT_EQ(build_config_json(*again), json) << name;
  }
}

TEST(FuzzRegressions, MethodWithNewlineStaysOnOneLine) {
  auto config = parse_build_config(test::fuzz_input("build_config", "newline_in_quoted_value.bin"));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message,
            "field 'calibration.method' must be one of minmax, percentile, entropy, got 'perc\\ntile'");
}

}  // namespace
}  // namespace modelkit
