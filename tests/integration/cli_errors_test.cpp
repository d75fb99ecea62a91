// Bad input through the real CLI: one line on stderr naming the thing, exit 2 for
// usage errors and 1 for failures, nothing on stdout, nothing written.
#include "test_support.hpp"

namespace modelkit::test {
namespace {

void expect_one_line_error(const CliResult& r, int code, const std::string& want_substring) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  EXPECT_NE(r.err.find(want_substring), std::string::npos) << r.err;
}

TEST(CliErrors, NoCommandAndUnknownCommand) {
  EXPECT_EQ(run_cli({}).exit_code, 2);
  expect_one_line_error(run_cli({"frobnicate"}), 2, "modelkit: unknown command 'frobnicate'");
}

TEST(CliErrors, UnknownOptionAndMissingValue) {
  expect_one_line_error(run_cli({"inspect", "--bogus"}), 2,
                        "modelkit inspect: unknown option '--bogus' for 'modelkit inspect'");
  expect_one_line_error(run_cli({"inspect", "-m"}), 2, "option '--model' needs a value (PATH|MODEL_ID)");
}

TEST(CliErrors, InvalidTaskRejectedAtParseTime) {
  // Rejected before the model is even looked at (the model does not exist).
  auto r = run_cli({"inspect", "-m", "/nonexistent/x", "--task", "text-clasification"});
  expect_one_line_error(r, 2, "unknown task 'text-clasification' (did you mean 'text-classification'?); valid tasks: ");
}

TEST(CliErrors, NoModelNamed) {
  expect_one_line_error(run_cli({"config"}), 2, "name a model: -m PATH|MODEL_ID, --model-type TYPE or --model-class CLASS");
}

TEST(CliErrors, MissingModel) {
  TempDir tmp;
  expect_one_line_error(run_cli({"inspect", "-m", "org/none"}, {"HF_HUB_CACHE=" + (tmp / "hub").string()}), 1,
                        "model 'org/none' not found");
}

TEST(CliErrors, MalformedConfig) {
  TempDir tmp;
  write_file(tmp / "config.json", "{\"model_type\": \"bert\",");
  expect_one_line_error(run_cli({"inspect", "-m", tmp.path().string()}), 1, "config.json': invalid JSON");
  write_file(tmp / "config.json", "{\"model_type\": [1]}");
  expect_one_line_error(run_cli({"build", "-m", tmp.path().string(), "--dry-run"}), 1,
                        "field 'model_type' must be a string, got a list");
  write_file(tmp / "config.json", std::string("{\"model_type\": \"\xff\"}"));
  expect_one_line_error(run_cli({"config", "-m", tmp.path().string()}), 1, "not valid UTF-8");
}

TEST(CliErrors, HugeConfigIsRefusedWithoutReadingIt) {
  TempDir tmp;
  {
    std::ofstream f(tmp / "config.json");
    f << "{\"x\": \"";
    f.seekp(100 << 20);
    f << "\"}";
  }
  expect_one_line_error(run_cli({"inspect", "-m", tmp.path().string()}), 1, "more than the 67108864 allowed");
}

TEST(CliErrors, TruncatedSafetensors) {
  TempDir tmp;
  write_file(tmp / "config.json", R"({"model_type": "bert", "architectures": ["BertModel"]})");
  write_file(tmp / "model.safetensors", std::string("\xff\xff\x00\x00\x00\x00\x00\x00{", 9));
  expect_one_line_error(run_cli({"inspect", "-m", tmp.path().string()}), 1,
                        "model.safetensors': header length 65535 is larger than the file (9 bytes)");
}

TEST(CliErrors, UnknownModelTypeAndContradiction) {
  expect_one_line_error(run_cli({"inspect", "--model-type", "nosuchtype"}), 2,
                        "unknown model type 'nosuchtype'; see 'modelkit help model-types'");
  expect_one_line_error(run_cli({"config", "--model-type", "dinov3"}), 2,
                        "unknown model type 'dinov3' (did you mean 'dinov2'?); see 'modelkit help model-types'");
  TempDir tmp;
  write_file(tmp / "config.json", R"({"model_type": "bert"})");
  expect_one_line_error(run_cli({"inspect", "-m", tmp.path().string(), "--model-type", "gpt2"}), 2,
                        "--model-type 'gpt2' contradicts model_type 'bert'");
}

TEST(CliErrors, BadFormatAndStrayArgument) {
  expect_one_line_error(run_cli({"inspect", "--model-type", "bert", "--format", "yaml"}), 2,
                        "option '--format': expected one of table, json, got 'yaml'");
  expect_one_line_error(run_cli({"inspect", "some/model"}), 2, "unexpected argument 'some/model'");
}

TEST(CliErrors, BuildWithoutOutputAsksForIt) {
  expect_one_line_error(run_cli({"build", "--model-type", "bert"}), 2, "name the output folder with -o DIR (or use --dry-run)");
}

TEST(CliErrors, BuildFromAModelTypeNeedsAnOnnxModel) {
  expect_one_line_error(run_cli({"build", "--model-type", "bert", "-o", "/tmp/never-written", "--quiet"}), 2,
                        "name the ONNX model to build with --onnx FILE");
}

TEST(ConfigReplay, BuildReplaysAConfigAndChecksItsResolution) {
  TempDir tmp;
  write_file(tmp / "ckpt" / "config.json", R"({"model_type": "bert", "architectures": ["BertForMaskedLM"]})");
  auto cfg_path = (tmp / "build.json").string();
  auto written = run_cli({"config", "-m", (tmp / "ckpt").string(), "--samples", "16", "-o", cfg_path});
  ASSERT_EQ(written.exit_code, 0) << written.err;
  EXPECT_TRUE(written.out.empty());
  auto config_text = read_text(cfg_path);
  EXPECT_NE(config_text.find("\"samples\": 16"), std::string::npos);
  auto replay = run_cli({"build", "-c", cfg_path, "--dry-run", "--format", "json"});
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_NE(replay.out.find("\"task\": \"fill-mask\""), std::string::npos);
  EXPECT_NE(replay.out.find("\"samples\": 16"), std::string::npos);
  // A flag overrides the file.
  auto overridden = run_cli({"build", "-c", cfg_path, "--dry-run", "--format", "json", "--samples", "8"});
  EXPECT_NE(overridden.out.find("\"samples\": 8"), std::string::npos);
  // The checkpoint changed under the config: the replay refuses.
  write_file(tmp / "ckpt" / "config.json", R"({"model_type": "bert", "architectures": ["BertForTokenClassification"]})");
  expect_one_line_error(run_cli({"build", "-c", cfg_path, "--dry-run"}), 1,
                        "the config records task 'fill-mask', class 'BertForMaskedLM', source 'architecture' but the "
                        "model now resolves to task 'token-classification'");
}

TEST(ConfigReplay, BadConfigFileNamesTheField) {
  TempDir tmp;
  write_file(tmp / "c.json", R"({"schema_version": 1, "request": {"model_type": "bert"}, "resolution": {}, "loader": {},
    "calibration": {"kind": "text", "samples": "many"}, "quantization": {}})");
  expect_one_line_error(run_cli({"build", "-c", (tmp / "c.json").string(), "--dry-run"}), 1,
                        "c.json': field 'calibration.samples' must be an integer, got a string");
  write_file(tmp / "c.json", R"({"schema_version": 7})");
  expect_one_line_error(run_cli({"build", "-c", (tmp / "c.json").string(), "--dry-run"}), 1,
                        "schema_version 7 is not supported");
}

TEST(ConfigReplay, UnwritableOutputLeavesNothing) {
  TempDir tmp;
  auto r = run_cli({"config", "--model-type", "bert", "-o", (tmp / "missing-dir" / "c.json").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot write"), std::string::npos);
  EXPECT_FALSE(fs::exists(tmp / "missing-dir"));
}

TEST(Inspect, ListTasks) {
  auto all = run_cli({"inspect", "--list-tasks"});
  ASSERT_EQ(all.exit_code, 0);
  EXPECT_EQ(std::count(all.out.begin(), all.out.end(), '\n'), 40);
  auto bert = run_cli({"inspect", "--model-type", "bert", "--list-tasks", "--format", "json"});
  EXPECT_EQ(bert.out,
            "{\"tasks\": [\"feature-extraction\", \"fill-mask\", \"multiple-choice\", \"question-answering\", "
            "\"text-classification\", \"token-classification\"]}\n");
}

TEST(Inspect, UnresolvedShowsCandidatesAndExitsZero) {
  TempDir tmp;
  write_file(tmp / "config.json", R"({"model_type": "bert", "architectures": ["FooForBar"]})");
  auto r = run_cli({"inspect", "-m", tmp.path().string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("task              unresolved"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("candidates        feature-extraction, fill-mask"), std::string::npos) << r.out;
}

TEST(Inspect, WeightsFromSafetensorsHeaders) {
  TempDir tmp;
  write_file(tmp / "config.json", R"({"model_type": "bert", "architectures": ["BertModel"]})");
  std::string header = R"({"w": {"dtype": "F16", "shape": [1000, 3], "data_offsets": [0, 6000]}})";
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(header.size());
  write_file(tmp / "model.safetensors", bytes + header + std::string(6000, '\0'));
  auto r = run_cli({"inspect", "-m", tmp.path().string(), "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"parameters\": 3000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"dtype\": \"F16\""), std::string::npos);
  auto table = run_cli({"inspect", "-m", tmp.path().string()});
  EXPECT_NE(table.out.find("weights           3.0K parameters, 5.9 KiB in 1 tensors, 1 file(s)"), std::string::npos)
      << table.out;
}

}  // namespace
}  // namespace modelkit::test
