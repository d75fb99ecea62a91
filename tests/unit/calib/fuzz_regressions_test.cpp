// Inputs the libFuzzer target calib_ranges_fuzz found (tests/data/fuzz/calib_ranges/),
// replayed through the same API: read a ranges file; what reads is finite with min <= max and
// writes back to the same file.
#include "fuzz_regressions.hpp"

#include <modelkit/calib_stats.hpp>

#include <gtest/gtest.h>

#include <cmath>

namespace modelkit::calib {
namespace {

TEST(FuzzRegressions, RangesFiles) {
  for (const auto& [name, input] : test::fuzz_inputs("calib_ranges")) {
    auto ranges = ranges_from_json(input);
    if (!ranges) {
      test::expect_one_line(ranges.error(), name);
      continue;
    }
    for (const auto& [tensor, r] : ranges->tensors)
      EXPECT_TRUE(std::isfinite(r.min) && std::isfinite(r.max) && r.min <= r.max) << name << ": " << tensor;
    auto json = ranges_to_json(*ranges);
    auto again = ranges_from_json(json);
    ASSERT_TRUE(again.ok()) << name << ": " << again.error().message;
    EXPECT_EQ(ranges_to_json(*again), json) << name;
  }
}

TEST(FuzzRegressions, MethodWithNewlineStaysOnOneLine) {
  auto ranges = ranges_from_json(test::fuzz_input("calib_ranges", "newline_in_quoted_value.bin"));
  ASSERT_FALSE(ranges.ok());
  EXPECT_EQ(ranges.error().message,
            "field 'method': expected one of minmax, percentile, entropy, got 'mi\\nax' (did you mean 'minmax'?)");
}

TEST(FuzzRegressions, NegativeZeroReadsBackBitIdentical) {
  // -0.0 (and -1e-50, which rounds to it) was written as "-0", which reads back as +0.
  auto ranges = ranges_from_json(test::fuzz_input("calib_ranges", "negative_zero_round_trip.bin"));
  ASSERT_TRUE(ranges.ok()) << ranges.error().message;
  for (const char* name : {"x", "underflow"}) {
    ASSERT_TRUE(ranges->tensors.count(name)) << name;
    EXPECT_TRUE(std::signbit(ranges->tensors.at(name).min)) << name;
  }
  auto again = ranges_from_json(ranges_to_json(*ranges));
  ASSERT_TRUE(again.ok()) << again.error().message;
  for (const char* name : {"x", "underflow"}) {
    EXPECT_EQ(again->tensors.at(name).min, 0.0F) << name;
    EXPECT_TRUE(std::signbit(again->tensors.at(name).min)) << name;
  }
}

}  // namespace
}  // namespace modelkit::calib
