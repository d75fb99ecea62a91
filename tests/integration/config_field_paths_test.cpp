// A `-c` build config with a bad field: exit 1, one line naming the file and the field by its
// dotted path from the top ("calibration.samples"), what was expected and what was there.
#include "test_support.hpp"

#include <gmock/gmock.h>

namespace modelkit::test {
namespace {

using ::testing::HasSubstr;

struct FieldCase {
  const char* name;
  const char* from;  // text of the written config to replace
  const char* to;
  const char* says;
};
void PrintTo(const FieldCase& c, std::ostream* os) { *os << c.name; }

class ConfigFieldPaths : public ::testing::TestWithParam<FieldCase> {};

TEST_P(ConfigFieldPaths, NameTheFieldByItsDottedPath) {
  TempDir tmp;
  auto config = (tmp / "build.json").string();
  auto written = run_cli({"config", "--model-type", "bert", "-o", config});
  ASSERT_EQ(written.exit_code, 0) << written.err;
  auto text = read_text(config);
  auto at = text.find(GetParam().from);
  ASSERT_NE(at, std::string::npos) << GetParam().from << " in " << text;
  text.replace(at, std::string(GetParam().from).size(), GetParam().to);
  write_file(config, text);

  auto r = run_cli({"build", "-c", config, "-o", (tmp / "out").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  EXPECT_THAT(r.err, HasSubstr("'" + config + "': "));
  EXPECT_THAT(r.err, HasSubstr(GetParam().says));
  EXPECT_FALSE(fs::exists(tmp / "out"));
}

INSTANTIATE_TEST_SUITE_P(
    BuildConfig, ConfigFieldPaths,
    ::testing::Values(
        FieldCase{"samples_a_string", "\"samples\": 100", "\"samples\": \"x\"",
                  "field 'calibration.samples' must be an integer, got a string"},
        FieldCase{"samples_negative", "\"samples\": 100", "\"samples\": -3",
                  "field 'calibration.samples' must be from 1 to 1000000, got -3"},
        FieldCase{"percentile_a_list", "\"percentile\": 99.999", "\"percentile\": [1]",
                  "field 'calibration.percentile' must be a number"},
        FieldCase{"task_a_number", "\"task\": \"feature-extraction\",\n    \"optimum_task\"",
                  "\"task\": 7,\n    \"optimum_task\"", "field 'resolution.task' must be a string"},
        FieldCase{"image_layout_a_bool", "\"layout\": null", "\"layout\": true",
                  "field 'calibration.image.layout' must be a string"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace modelkit::test
