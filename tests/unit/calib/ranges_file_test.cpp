// The ranges file: round trip and one-line errors that name the field.
#include <modelkit/calib_stats.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

namespace modelkit::calib {
namespace {

TEST(RangesFile, RoundTripIsBitExact) {
  TensorRanges r;
  r.method = CalibrationMethod::entropy;
  r.samples = 42;
  r.model = "model.onnx";
  r.source = "random: 42 samples";
  r.tensors["a/b:0"] = Range{-0.1f, 3.3333333f};
  r.tensors["x"] = Range{1e-30f, 7e30f};
  auto back = ranges_from_json(ranges_to_json(r));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->method, CalibrationMethod::entropy);
  EXPECT_EQ(back->samples, 42u);
  EXPECT_EQ(back->model, "model.onnx");
  EXPECT_EQ(back->source, "random: 42 samples");
  ASSERT_EQ(back->tensors.size(), 2u);
  for (const auto& [name, range] : r.tensors) {
    const auto& got = back->tensors.at(name);
    EXPECT_EQ(std::memcmp(&got.min, &range.min, sizeof(float)), 0) << name;
    EXPECT_EQ(std::memcmp(&got.max, &range.max, sizeof(float)), 0) << name;
  }
}

TEST(RangesFile, WriteAndReadAFile) {
  auto path = std::filesystem::temp_directory_path() / ("modelkit-ranges-" + std::to_string(::getpid()) + ".json");
  TensorRanges r;
  r.tensors["t"] = Range{-1, 1};
  ASSERT_TRUE(write_ranges_file(r, path).ok());
  auto back = read_ranges_file(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_FLOAT_EQ(back->tensors.at("t").max, 1.f);
  auto missing = read_ranges_file(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find(path.string()), std::string::npos) << missing.error().message;
}

struct BadCase {
  const char* json;
  const char* expected;  // part of the one-line message
};

TEST(RangesFile, BadFilesNameTheField) {
  const BadCase cases[] = {
      {R"([1, 2])", "must hold a JSON object"},
      {R"({"method": "minmax", "tensors": {}})", "'schema_version' is missing"},
      {R"({"schema_version": 2, "method": "minmax", "tensors": {}})", "'schema_version' is 2"},
      {R"({"schema_version": "1", "method": "minmax", "tensors": {}})", "schema_version"},
      {R"({"schema_version": 1, "tensors": {}})", "'method' is missing"},
      {R"({"schema_version": 1, "method": "kl", "tensors": {}})", "field 'method'"},
      {R"({"schema_version": 1, "method": "minmax"})", "'tensors' is missing"},
      {R"({"schema_version": 1, "method": "minmax", "tensors": []})", "'tensors' must be an object"},
      {R"({"schema_version": 1, "method": "minmax", "tensors": {"x": 1}})", "tensors.'x' must be an object"},
      {R"({"schema_version": 1, "method": "minmax", "tensors": {"x": {"max": 1}}})", "tensors.'x'.min is missing"},
      {R"({"schema_version": 1, "method": "minmax", "tensors": {"x": {"min": "0", "max": 1}}})",
       "tensors.'x'.min must be a number, got a string"},
      {R"({"schema_version": 1, "method": "minmax", "tensors": {"x": {"min": 2, "max": 1}}})", "is greater than max"},
      {R"({"schema_version": 1, "method": "minmax", "tensors": {"x": {"min": 0, "max": 1e300}}})",
       "tensors.'x'.max is not a finite float32"},
      {R"({"schema_version": 1, "method": "minmax", "samples": -1, "tensors": {}})", "'samples' must not be negative"},
      {R"({"schema_version": 1, "method": "minmax", "tensors": {"x": {"min": 0, "max": 1}, "x": {"min": 0, "max": 1}}})",
       "listed twice"},
      {R"({"schema_version": 1,)", "invalid JSON"},
  };
  for (const auto& c : cases) {
    auto r = ranges_from_json(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_NE(r.error().message.find(c.expected), std::string::npos) << c.json << " -> " << r.error().message;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << "one line";
  }
}

}  // namespace
}  // namespace modelkit::calib
