// run_build as a library call: the stages run in the order of kBuildStages, each recorded (ran
// or skipped with a reason) in the result and the manifest; settings are typed, so a bad type
// can no longer reach the pipeline (the string -> enum parse is tested in settings_test.cpp).
#include <modelkit/build.hpp>

#include "test_support.hpp"
#include "util/json_read.hpp"

namespace modelkit::test {
namespace {

TEST(Pipeline, StagesRunInTableOrderAndAreRecorded) {
  TempDir tmp;
  BuildRequest req;
  req.onnx = fs::path(MODELKIT_DEPS_DIR) / "models" / "cnn-tiny" / "model.onnx";
  req.config.calibration.samples = 4;
  req.validation_samples = 2;
  req.output = tmp / "out.onnx";
  req.output_is_file = true;
  std::vector<std::string> events;
  req.events.stage = [&](std::string_view s) { events.emplace_back(s); };
  auto r = run_build(std::move(req));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->stages.size(), std::size(kBuildStages));
  for (std::size_t i = 0; i < r->stages.size(); ++i) EXPECT_EQ(r->stages[i].stage, kBuildStages[i].name);
  // export does not apply when an ONNX model is given, optimize not at --optimize none, evaluate
  // not without --eval-data; every other stage ran and was timed.
  ASSERT_TRUE(r->stages[1].skipped.has_value());
  EXPECT_NE(r->stages[1].skipped->find("using the ONNX model"), std::string::npos) << *r->stages[1].skipped;
  ASSERT_TRUE(r->stages[2].skipped.has_value());
  EXPECT_EQ(*r->stages[2].skipped, "--optimize none");
  const auto evaluate = static_cast<std::size_t>(BuildStage::evaluate);
  ASSERT_TRUE(r->stages[evaluate].skipped.has_value());
  EXPECT_EQ(*r->stages[evaluate].skipped, "no --eval-data");
  EXPECT_TRUE(r->evaluation_json.empty());
  ASSERT_EQ(r->timings.size(), std::size(kBuildStages) - 3);
  EXPECT_EQ(r->timings.front().stage, "resolve");
  EXPECT_EQ(r->timings.back().stage, "write");
  // Progress events name the stages in the same order, the skipped one with its reason.
  ASSERT_EQ(events.size(), std::size(kBuildStages));
  EXPECT_EQ(events[0], "resolve");
  EXPECT_EQ(events[1].rfind("export: skipped (", 0), 0u) << events[1];
  EXPECT_EQ(events[2], "optimize: skipped (--optimize none)");
  EXPECT_EQ(events[3], "plan");

  simdjson::dom::parser parser;
  auto doc = util::parse_json(parser, r->manifest_json);
  ASSERT_TRUE(doc.ok());
  auto stages = (*doc)["stages"].get_array();
  ASSERT_FALSE(stages.error());
  ASSERT_EQ(stages.size(), std::size(kBuildStages));
  EXPECT_EQ(std::string_view(stages.at(1)["status"].get_string().value()), "skipped");
  EXPECT_EQ(std::string_view(stages.at(4)["name"].get_string().value()), "calibrate");
  EXPECT_EQ(std::string_view(stages.at(4)["status"].get_string().value()), "ran");
  EXPECT_TRUE((*doc)["timings"]["calibrate"].is_double());
  // Peak resident memory of the build, beside the sizes of the float and quantized models.
  auto resources = (*doc)["resources"];
  ASSERT_FALSE(resources.error()) << "manifest lacks 'resources'";
  EXPECT_GT(resources["peak_rss_bytes"].get_uint64().value(), 0u);
  EXPECT_EQ(resources["float_model_bytes"].get_uint64().value(),
            fs::file_size(fs::path(MODELKIT_DEPS_DIR) / "models" / "cnn-tiny" / "model.onnx"));
  EXPECT_EQ(resources["quantized_model_bytes"].get_uint64().value(), fs::file_size(tmp / "out.onnx"));
  EXPECT_GT(resources["peak_rss_over_models"].get_double().value(), 0.0);
  // Validation compared the held-back samples (against float outputs kept by calibration).
  EXPECT_EQ((*doc)["validation"]["report"]["samples"].get_uint64().value(),
            (*doc)["calibration"]["held_back_for_validation"].get_uint64().value());
}

TEST(Pipeline, AFailingStageLeavesNothing) {
  TempDir tmp;
  BuildRequest req;
  req.onnx = tmp / "missing.onnx";
  req.output = tmp / "out";
  auto r = run_build(std::move(req));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no ONNX model"), std::string::npos) << r.error().message;
  EXPECT_FALSE(fs::exists(tmp / "out"));
}

}  // namespace
}  // namespace modelkit::test
