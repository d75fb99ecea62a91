// The precisions that are not static QDQ through the CLI (quantize, build, config -o / build -c):
// no calibration (recorded so), the expected operators in the written model, the settings in
// the manifest, and one-line refusals naming the valid values.
#include "onnx/model_proto.hpp"
#include "test_support.hpp"
#include "util/json_read.hpp"

#include <map>

namespace modelkit::test {
namespace {

fs::path deps_model(const std::string& relative) { return fs::path(MODELKIT_DEPS_DIR) / "models" / relative; }

std::map<std::string, int> op_counts(const fs::path& path) {
  std::map<std::string, int> out;
  auto m = onnx::read_model_proto(path);
  EXPECT_TRUE(m.ok()) << path;
  if (m)
    for (const auto& n : m->graph().node()) ++out[n.op_type()];
  return out;
}

struct Manifest {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  explicit Manifest(const fs::path& path) {
    auto text = read_text(path);
    auto parsed = util::parse_json(parser, text);
    EXPECT_TRUE(parsed.ok()) << path;
    if (parsed) doc = *parsed;
  }
};

TEST(PrecisionsCli, QuantizeFp16AndInt4SkipCalibrationAndRecordTheirSettings) {
  TempDir dir;
  auto fp16 = run_cli({"quantize", "-m", deps_model("cnn-tiny/model.onnx").string(), "--precision", "fp16", "-o",
                       (dir / "cnn-fp16.onnx").string(), "--quiet"});
  ASSERT_EQ(fp16.exit_code, 0) << fp16.err;
  {
    Manifest m(dir / "cnn-fp16.manifest.json");
    EXPECT_EQ(std::string_view(m.doc["quantization"]["precision"]), "fp16");
    EXPECT_TRUE(bool(m.doc["calibration"]["skipped"]));
    EXPECT_EQ(std::string_view(m.doc["stages"].at(4)["name"]), "calibrate");
    EXPECT_EQ(std::string_view(m.doc["stages"].at(4)["status"]), "skipped");
    EXPECT_GE(double(m.doc["validation"]["min_cosine_similarity"]), 0.9999);
  }
  EXPECT_EQ(op_counts(dir / "cnn-fp16.onnx")["Cast"], 2) << "one Cast at the input, one at the output";

  auto int4 = run_cli({"quantize", "-m", deps_model("bert-tiny-like/model.onnx").string(), "--precision", "int4",
                       "--block-size", "32", "--accuracy-level", "4", "-o", (dir / "bert-int4.onnx").string(), "--quiet"});
  ASSERT_EQ(int4.exit_code, 0) << int4.err;
  {
    Manifest m(dir / "bert-int4.manifest.json");
    EXPECT_EQ(std::string_view(m.doc["quantization"]["precision"]), "int4");
    EXPECT_EQ(std::int64_t(m.doc["quantization"]["block_size"]), 32);
    EXPECT_EQ(std::int64_t(m.doc["quantization"]["accuracy_level"]), 4);
  }
  EXPECT_EQ(op_counts(dir / "bert-int4.onnx")["MatMulNBits"], 12);

  auto tables = run_cli({"quantize", "-m", deps_model("bert-tiny-like/model.onnx").string(), "--precision", "int4",
                         "--block-size", "32", "--int4-embeddings", "-o", (dir / "bert-int4e.onnx").string(), "--quiet"});
  ASSERT_EQ(tables.exit_code, 0) << tables.err;
  {
    Manifest m(dir / "bert-int4e.manifest.json");
    EXPECT_TRUE(bool(m.doc["quantization"]["int4_embeddings"]));
  }
  EXPECT_EQ(op_counts(dir / "bert-int4e.onnx")["GatherBlockQuantized"], 3) << "word, position and token type tables";

  // An int4 model is quantized already: int4 again, or fp16, is refused without writing.
  for (const char* precision : {"int4", "fp16"}) {
    auto again = run_cli({"quantize", "-m", (dir / "bert-int4.onnx").string(), "--precision", precision, "-o",
                          (dir / "again.onnx").string()});
    EXPECT_EQ(again.exit_code, 1) << precision;
    EXPECT_NE(again.err.find("is already quantized (com.microsoft.MatMulNBits x12, "), std::string::npos) << again.err;
    EXPECT_FALSE(fs::exists(dir / "again.onnx"));
  }
}

TEST(PrecisionsCli, ConfigReplayCarriesThePrecisionSettings) {
  TempDir dir;
  auto cfg = dir / "cfg.json";
  auto written = run_cli({"config", "-m", deps_model("bert-tiny-like").string(), "--precision", "int4", "--block-size",
                          "64", "--symmetric", "-o", cfg.string()});
  ASSERT_EQ(written.exit_code, 0) << written.err;
  auto built = run_cli({"build", "-c", cfg.string(), "-o", (dir / "out").string(), "--quiet"});
  ASSERT_EQ(built.exit_code, 0) << built.err;
  Manifest m(dir / "out" / "build_manifest.json");
  EXPECT_EQ(std::string_view(m.doc["quantization"]["precision"]), "int4");
  EXPECT_EQ(std::int64_t(m.doc["quantization"]["block_size"]), 64);
  EXPECT_TRUE(bool(m.doc["quantization"]["symmetric"]));
  // Symmetric blocks have no zero-point input.
  auto model = onnx::read_model_proto(dir / "out" / "model.onnx");
  ASSERT_TRUE(model.ok());
  for (const auto& n : model->graph().node()) {
    if (n.op_type() == "MatMulNBits") {
      EXPECT_EQ(n.input_size(), 3) << n.name();
    }
  }
  // A flag overrides the recorded precision.
  auto dynamic = run_cli({"build", "-c", cfg.string(), "--precision", "dynamic", "-o", (dir / "dyn").string(), "--quiet"});
  ASSERT_EQ(dynamic.exit_code, 0) << dynamic.err;
  EXPECT_GT(op_counts(dir / "dyn" / "model.onnx")["MatMulInteger"], 0);
}

// --optimize extended keeps Conv + Relu apart (ONNX Runtime would fuse them into com.microsoft
// FusedConv, which static QDQ leaves float), so every Conv is quantized and the model stays portable.
TEST(PrecisionsCli, OptimizeExtendedLeavesConvsQuantizable) {
  TempDir dir;
  auto r = run_cli({"quantize", "-m", deps_model("cnn-tiny/model.onnx").string(), "--optimize", "extended", "--samples",
                    "4", "-o", (dir / "cnn.onnx").string(), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ops = op_counts(dir / "cnn.onnx");
  EXPECT_EQ(ops["FusedConv"], 0);
  EXPECT_EQ(ops["Conv"], 3);
  EXPECT_GE(ops["DequantizeLinear"], 6) << "each Conv's input and weight";
  Manifest m(dir / "cnn.manifest.json");
  EXPECT_EQ(std::string_view(m.doc["optimize"]["level"]), "extended");
  EXPECT_EQ(std::string_view(m.doc["optimize"]["runtime"]), "portable");
}

TEST(PrecisionsCli, RefusalsAreOneLineUsageErrors) {
  const std::string model = deps_model("bert-tiny-like/model.onnx").string();
  struct Case {
    std::vector<std::string> flags;
    std::string error;
  };
  const Case cases[] = {
      {{"--precision", "int4", "--block-size", "48"},
       "option '--block-size': block size 48 is not a power of two from 16 to 2048 (e.g. 32, 64, 128)"},
      {{"--precision", "int4", "--block-size", "8"},
       "option '--block-size': block size 8 is not a power of two from 16 to 2048 (e.g. 32, 64, 128)"},
      {{"--precision", "fp16", "--weight-type", "int8"},
       "option '--weight-type' 'int8' contradicts '--precision fp16' (which sets its own types; "
       "--weight-type/--activation-type go with int8, int16, w8a16)"},
      {{"--precision", "fp16", "--block-size", "32"},
       "option '--block-size' does not apply to --precision fp16; it goes with int4"},
      {{"--precision", "int4", "--reduce-range"},
       "option '--reduce-range' does not apply to --precision int4; it goes with dynamic, int8, int16, w8a16"},
      {{"--precision", "dynamic", "--symmetric"},
       "option '--symmetric' does not apply to --precision dynamic; it goes with int4, int8, int16, w8a16"},
      {{"--precision", "int4", "--per-channel"},
       "option '--per-channel' does not apply to --precision int4; it goes with int8, int16, w8a16"},
      {{"--precision", "int4", "--accuracy-level", "5"}, "option '--accuracy-level': expected an integer from 0 to 4, got '5'"},
      {{"--precision", "dynamic", "--int4-embeddings"},
       "option '--int4-embeddings' does not apply to --precision dynamic; it goes with int4"},
      {{"--int4-embeddings"}, "option '--int4-embeddings' does not apply to --precision int8; it goes with int4"},
  };
  TempDir dir;
  for (const auto& c : cases) {
    std::vector<std::string> args = {"quantize", "-m", model, "-o", (dir / "x.onnx").string()};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    auto r = run_cli(args);
    EXPECT_EQ(r.exit_code, 2) << c.error;
    EXPECT_EQ(r.err, "modelkit quantize: " + c.error + "\n");
    EXPECT_FALSE(fs::exists(dir / "x.onnx"));
  }
}

}  // namespace
}  // namespace modelkit::test
