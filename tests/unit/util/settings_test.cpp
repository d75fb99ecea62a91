// The settings tables (settings.hpp): every enumerator has exactly one row, names are unique,
// and parsing, listing and errors come from the rows.
#include <modelkit/settings.hpp>

#include <gtest/gtest.h>

#include <set>

namespace modelkit {
namespace {

template <class E>
void expect_complete(int enumerators) {
  std::set<int> values;
  std::set<std::string_view> names;
  for (const auto& row : SettingTable<E>::rows) {
    values.insert(static_cast<int>(row.value));
    names.insert(row.name);
    EXPECT_FALSE(row.help.empty()) << row.name;
    auto parsed = parse_setting<E>(row.name);
    ASSERT_TRUE(parsed.ok()) << row.name;
    EXPECT_EQ(*parsed, row.value);
    EXPECT_EQ(setting_name(row.value), row.name);
  }
  EXPECT_EQ(static_cast<int>(values.size()), enumerators);
  EXPECT_EQ(static_cast<int>(names.size()), enumerators);
  EXPECT_EQ(*values.begin(), 0);
  EXPECT_EQ(*values.rbegin(), enumerators - 1);
}

TEST(Settings, TablesAreComplete) {
  expect_complete<QuantType>(4);
  expect_complete<CalibrationKind>(4);
  expect_complete<CalibrationMethod>(3);
  expect_complete<OutputFormat>(2);
  expect_complete<ImageLayout>(2);
  expect_complete<ResizeMode>(2);
  expect_complete<Precision>(6);
  expect_complete<OptimizeLevel>(3);
  // setting_info indexes rows by enumerator (the quantizer asks per element): keep them in order.
  for (std::size_t i = 0; i < std::size(kQuantTypes); ++i) EXPECT_EQ(static_cast<std::size_t>(kQuantTypes[i].value), i);
  for (std::size_t i = 0; i < std::size(kCalibrationKinds); ++i) EXPECT_EQ(static_cast<std::size_t>(kCalibrationKinds[i].value), i);
}

TEST(Settings, QuantTypeRowsDescribeTheTypes) {
  EXPECT_EQ(setting_info(QuantType::int8).bits, 8);
  EXPECT_TRUE(setting_info(QuantType::int8).is_signed);
  EXPECT_EQ(setting_info(QuantType::uint16).element_type, ElementType::uint16);
  EXPECT_EQ(setting_info(QuantType::uint16).min_opset, 21);
}

TEST(Settings, UnknownValueListsTheRowsAndSuggests) {
  auto r = parse_option_setting<CalibrationMethod>("--method", "entropi");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().exit_code(), 2);
  EXPECT_EQ(r.error().message,
            "option '--method': expected one of minmax, percentile, entropy, got 'entropi' (did you mean 'entropy'?)");
  auto far = parse_setting<QuantType>("float64");
  ASSERT_FALSE(far.ok());
  EXPECT_EQ(far.error().message, "expected one of uint8, int8, uint16, int16, got 'float64'");
  EXPECT_EQ(setting_list<OutputFormat>("|"), "table|json");
}

}  // namespace
}  // namespace modelkit
