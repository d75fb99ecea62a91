// judge_quality: the gate a build's validation passes through (issue 10).
#include <modelkit/build.hpp>

#include <gtest/gtest.h>

#include <cmath>

namespace modelkit {
namespace {

TEST(QualityGate, RequiredMinimumFailsBelowAndPassesAtIt) {
  QualityGate gate;
  gate.required = 0.98;
  auto below = judge_quality(0.9799, gate);
  EXPECT_EQ(below.verdict, QualityVerdict::fail);
  EXPECT_EQ(below.message,
            "quality gate: the quantized model's minimum cosine similarity to the float model is 0.9799, below the "
            "required 0.98 (--min-cosine)");
  EXPECT_EQ(judge_quality(0.98, gate).verdict, QualityVerdict::pass);
  // A required minimum replaces the warnings: 0.985 is above it, so no warning either.
  EXPECT_EQ(judge_quality(0.985, gate).verdict, QualityVerdict::pass);
  // NaN (a validation that produced no number) never passes a gate.
  EXPECT_EQ(judge_quality(std::nan(""), gate).verdict, QualityVerdict::fail);
}

TEST(QualityGate, WithoutAMinimumWarnsLoudlyThenLouder) {
  QualityGate gate;
  EXPECT_EQ(judge_quality(0.995, gate).verdict, QualityVerdict::pass);
  EXPECT_TRUE(judge_quality(0.995, gate).message.empty());
  auto low = judge_quality(0.95, gate);
  EXPECT_EQ(low.verdict, QualityVerdict::warn);
  EXPECT_EQ(low.message.rfind("LOW QUALITY: ", 0), 0u) << low.message;
  auto very = judge_quality(0.2, gate);
  EXPECT_EQ(very.verdict, QualityVerdict::severe);
  EXPECT_EQ(very.message.rfind("VERY LOW QUALITY: ", 0), 0u) << very.message;
  EXPECT_NE(very.message.find("0.2000 (below 0.9)"), std::string::npos) << very.message;
}

TEST(QualityGate, FailedManifestSitsBesideTheOutput) {
  EXPECT_EQ(failed_manifest_path("out/bert-int8"), std::filesystem::path("out/bert-int8.failed-manifest.json"));
  EXPECT_EQ(failed_manifest_path("q.onnx"), std::filesystem::path("q.onnx.failed-manifest.json"));
  EXPECT_EQ(quality_verdict_name(QualityVerdict::severe), "severe");
}

}  // namespace
}  // namespace modelkit
