// The quality gate through the CLI (issue 10): --min-cosine fails a build below it (exit 1,
// nothing published, the manifest beside where the output would be, named so); without it, a
// loud warning. PP-OCR's detector on random inputs is the real case (cosine far below 0.9).
#include <simdjson.h>

#include "test_support.hpp"

namespace modelkit::test {
namespace {

fs::path ocr_det() { return fs::path(MODELKIT_DEPS_DIR) / "models" / "pp-ocr" / "ch_PP-OCRv4_det_infer.onnx"; }

TEST(QualityGate, MinCosineFailsTheBuildAndKeepsTheManifest) {
  TempDir tmp;
  auto out = tmp / "det.onnx";
  auto r = run_cli({"quantize", "-m", ocr_det().string(), "-o", out.string(), "--input-shape", "x=1x3x64x64",
                    "--samples", "4", "--min-cosine", "0.9", "--quiet"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("quality gate: the quantized model's minimum cosine similarity to the float model is "),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("below the required 0.9 (--min-cosine); nothing was written to '" + out.string() + "'"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(tmp / "det.manifest.json"));
  auto failed = tmp / "det.onnx.failed-manifest.json";
  ASSERT_TRUE(fs::is_regular_file(failed));
  simdjson::dom::parser parser;
  auto m = parser.load(failed.string()).value();
  EXPECT_EQ(std::string(m["validation"]["quality"].get_string().value()), "fail");
  EXPECT_DOUBLE_EQ(m["validation"]["min_cosine_required"].get_double().value(), 0.9);
  EXPECT_LT(m["validation"]["min_cosine_similarity"].get_double().value(), 0.9);
  // Only the failed manifest is left; no temporary folders.
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path())) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(QualityGate, WithoutAMinimumALowCosineIsALoudWarning) {
  TempDir tmp;
  auto r = run_cli({"quantize", "-m", ocr_det().string(), "-o", (tmp / "det.onnx").string(), "--input-shape",
                    "x=1x3x64x64", "--samples", "4", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: VERY LOW QUALITY: the quantized model's minimum cosine similarity"), std::string::npos)
      << r.err;
  simdjson::dom::parser parser;
  auto m = parser.load((tmp / "det.manifest.json").string()).value();
  EXPECT_EQ(std::string(m["validation"]["quality"].get_string().value()), "severe");
  EXPECT_TRUE(m["validation"]["min_cosine_required"].is_null());
}

TEST(QualityGate, APassingBuildIsPublished) {
  TempDir tmp;
  auto r = run_cli({"build", "-m", (fs::path(MODELKIT_DEPS_DIR) / "models" / "bert-tiny-like").string(), "-o",
                    (tmp / "out").string(), "--samples", "8", "--min-cosine", "0.98", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser parser;
  auto m = parser.load((tmp / "out" / "build_manifest.json").string()).value();
  EXPECT_EQ(std::string(m["validation"]["quality"].get_string().value()), "pass");
  // The minimum is part of the build: recorded for 'build -c'.
  auto c = parser.load((tmp / "out" / "build_config.json").string()).value();
  EXPECT_DOUBLE_EQ(c["validation"]["min_cosine"].get_double().value(), 0.98);
  auto bad = run_cli({"build", "-m", (fs::path(MODELKIT_DEPS_DIR) / "models" / "bert-tiny-like").string(), "-o",
                      (tmp / "o2").string(), "--min-cosine", "1.5"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("option '--min-cosine': expected a number from -1 to 1, got '1.5'"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace modelkit::test
