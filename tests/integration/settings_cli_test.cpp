// Settings through the CLI: values come from the settings tables, a precision sets both types,
// contradictions and unknown values are one-line usage errors that list the rows.
#include "test_support.hpp"
#include "util/json_read.hpp"

namespace modelkit::test {
namespace {

std::string quant_field(const std::string& json, const char* field) {
  simdjson::dom::parser parser;
  auto doc = util::parse_json(parser, json);
  EXPECT_TRUE(doc.ok());
  return std::string((*doc)["quantization"][field].get_string().value());
}

TEST(SettingsCli, PrecisionSetsBothTypes) {
  auto r = run_cli({"config", "--model-type", "bert", "--precision", "w8a16"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(quant_field(r.out, "weight_type"), "int8");
  EXPECT_EQ(quant_field(r.out, "activation_type"), "uint16");
  auto agree = run_cli({"config", "--model-type", "bert", "--precision", "int16", "--weight-type", "int16"});
  ASSERT_EQ(agree.exit_code, 0) << agree.err;
  EXPECT_EQ(quant_field(agree.out, "activation_type"), "uint16");
}

TEST(SettingsCli, ContradictionsAndUnknownValuesAreUsageErrors) {
  auto clash = run_cli({"config", "--model-type", "bert", "--precision", "w8a16", "--weight-type", "int16"});
  EXPECT_EQ(clash.exit_code, 2);
  EXPECT_EQ(clash.err, "modelkit config: option '--weight-type' 'int16' contradicts '--precision w8a16' (int8)\n");
  auto unknown = run_cli({"config", "--model-type", "bert", "--precision", "fp32"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(unknown.err,
            "modelkit config: option '--precision': expected one of int8, int16, w8a16, fp16, int4, dynamic, got 'fp32' "
            "(did you mean 'fp16'?)\n");
  auto method = run_cli({"build", "--model-type", "bert", "--dry-run", "--method", "histogram"});
  EXPECT_EQ(method.exit_code, 2);
  EXPECT_NE(method.err.find("expected one of minmax, percentile, entropy, got 'histogram'"), std::string::npos)
      << method.err;
}

}  // namespace
}  // namespace modelkit::test
