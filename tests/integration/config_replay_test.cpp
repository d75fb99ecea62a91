// Config clarity (issue 10): every build-affecting flag is recorded in build_config.json and
// accepted by 'modelkit config', so 'build -c' replays a build exactly; 'quantize' takes
// --build-config (a build config) and --hf-config (a checkpoint's config.json) and refuses the
// ambiguous --config.
#include <simdjson.h>

#include "test_support.hpp"

namespace modelkit::test {
namespace {

fs::path bert() { return fs::path(MODELKIT_DEPS_DIR) / "models" / "bert-tiny-like"; }

// Every flag that changes what a build makes.
std::vector<std::string> every_flag(const fs::path& data) {
  return {"--samples", "9", "--sequence-length", "32", "--method", "percentile", "--seed", "3", "--per-channel",
          "--activation-type", "uint8", "--weight-type", "int8", "--op-types", "MatMul,Gemm", "--exclude-nodes",
          ".*pooler.*", "--input-shape", "token_type_ids=1x32", "--calibration-data", data.string(), "--text-column",
          "sentence", "--min-cosine", "0.9", "--image-input", "pixel_values", "--layout", "nchw", "--image-mean",
          "0.5,0.4,0.3", "--image-std", "0.2,0.25,0.3", "--rescale", "0.5", "--bgr", "--resize-mode", "crop"};
}

fs::path write_data(const TempDir& tmp) {
  std::string lines;
  for (int i = 0; i < 20; ++i)
    lines += "{\"sentence\": \"replayed sentence " + std::to_string(i) + " with some words\", \"label\": 0}\n";
  write_file(tmp / "data.jsonl", lines);
  return tmp / "data.jsonl";
}

std::vector<std::string> with(std::vector<std::string> head, const std::vector<std::string>& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

TEST(BuildConfigReplay, BuildDashCReplaysABuildWithEveryFlag) {
  TempDir tmp;
  auto data = write_data(tmp);
  auto first = run_cli(with({"build", "-m", bert().string(), "-o", (tmp / "a").string(), "--quiet"}, every_flag(data)));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  simdjson::dom::parser parser;
  auto recorded = read_text(tmp / "a" / "build_config.json");
  auto c = parser.parse(recorded).value();
  EXPECT_EQ(c["calibration"]["samples"].get_int64().value(), 9);
  EXPECT_EQ(std::string(c["calibration"]["input_shapes"].at(0).get_string().value()), "token_type_ids=1x32");
  EXPECT_EQ(std::string(c["calibration"]["text_column"].get_string().value()), "sentence");
  EXPECT_EQ(std::string(c["calibration"]["image"]["layout"].get_string().value()), "nchw");
  EXPECT_EQ(std::string(c["calibration"]["image"]["resize_mode"].get_string().value()), "crop");
  EXPECT_DOUBLE_EQ(c["calibration"]["image"]["std"].at(1).get_double().value(), 0.25);
  EXPECT_TRUE(c["calibration"]["image"]["bgr"].get_bool().value());
  EXPECT_EQ(std::string(c["quantization"]["op_types"].at(1).get_string().value()), "Gemm");
  EXPECT_EQ(std::string(c["quantization"]["exclude_nodes"].at(0).get_string().value()), ".*pooler.*");
  EXPECT_DOUBLE_EQ(c["validation"]["min_cosine"].get_double().value(), 0.9);

  // Replayed from the output's own record: the same config, the same model, byte for byte.
  auto replay = run_cli({"build", "-c", (tmp / "a" / "build_config.json").string(), "-o", (tmp / "b").string(), "--quiet"});
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_EQ(read_text(tmp / "b" / "build_config.json"), recorded);
  EXPECT_EQ(read_text(tmp / "b" / "model.onnx"), read_text(tmp / "a" / "model.onnx"));

  // 'config' takes the same flags and writes the same settings.
  auto config = run_cli(with({"config", "-m", bert().string(), "-o", (tmp / "c.json").string()}, every_flag(data)));
  ASSERT_EQ(config.exit_code, 0) << config.err;
  auto from_config = run_cli({"build", "-c", (tmp / "c.json").string(), "-o", (tmp / "d").string(), "--quiet"});
  ASSERT_EQ(from_config.exit_code, 0) << from_config.err;
  EXPECT_EQ(read_text(tmp / "d" / "model.onnx"), read_text(tmp / "a" / "model.onnx"));
}

TEST(BuildConfigReplay, QuantizeTakesABuildConfigAndRefusesTheAmbiguousName) {
  TempDir tmp;
  auto data = write_data(tmp);
  auto config = run_cli(with({"config", "-m", bert().string(), "-o", (tmp / "c.json").string()}, every_flag(data)));
  ASSERT_EQ(config.exit_code, 0) << config.err;
  auto q = run_cli({"quantize", "-m", (bert() / "model.onnx").string(), "--build-config", (tmp / "c.json").string(),
                    "-o", (tmp / "q.onnx").string(), "--quiet"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  simdjson::dom::parser parser;
  auto m = parser.load((tmp / "q.manifest.json").string()).value();
  EXPECT_EQ(m["calibration"]["samples"].get_int64().value(), 9);
  EXPECT_EQ(std::string(m["calibration"]["method"].get_string().value()), "percentile");
  EXPECT_EQ(m["op_type_policy"]["op_types"].get_array().size(), 2u);
  EXPECT_TRUE(m["quantization"]["per_channel"].get_bool().value());

  auto ambiguous = run_cli({"quantize", "-m", (bert() / "model.onnx").string(), "--config", (tmp / "c.json").string(),
                            "-o", (tmp / "x.onnx").string()});
  EXPECT_EQ(ambiguous.exit_code, 2);
  EXPECT_NE(ambiguous.err.find("option '--config' is ambiguous for 'modelkit quantize': use --hf-config FILE for a "
                               "checkpoint's config.json, or --build-config FILE for a build config written by "
                               "'modelkit config'"),
            std::string::npos)
      << ambiguous.err;
  // --hf-config resolves the task from a checkpoint's config.json.
  auto hf = run_cli({"quantize", "-m", (bert() / "model.onnx").string(), "--hf-config", (bert() / "config.json").string(),
                     "-o", (tmp / "h.onnx").string(), "--samples", "4", "--quiet"});
  ASSERT_EQ(hf.exit_code, 0) << hf.err;
  auto h = parser.load((tmp / "h.manifest.json").string()).value();
  EXPECT_EQ(std::string(h["resolution"]["task"].get_string().value()), "feature-extraction");
  // A build config given as --hf-config is not silently read as one.
  auto wrong = run_cli({"quantize", "-m", (bert() / "model.onnx").string(), "--hf-config", (tmp / "c.json").string(),
                        "-o", (tmp / "w.onnx").string(), "--samples", "4", "--quiet"});
  EXPECT_EQ(wrong.exit_code, 2) << wrong.err;
  EXPECT_NE(wrong.err.find("is a build config written by 'modelkit config', not a checkpoint's config.json; pass it "
                           "with --build-config"),
            std::string::npos)
      << wrong.err;
}

}  // namespace
}  // namespace modelkit::test
