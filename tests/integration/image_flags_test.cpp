// The image pre-processing flags of `modelkit run` and `modelkit eval` (--image-mean, --image-std,
// --rescale, --bgr), and a built folder's recorded ones: a model whose output is its input
// (y = x * 1) shows the tensor fed, checked against numpy (scripts/image_flags_reference.py); eval
// against y = x * 0 reports max |fed| as the outputs' max |diff|.
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdio>

namespace modelkit::test {
namespace {

const std::string kReference = (fs::path(MODELKIT_SOURCE_DIR) / "scripts" / "image_flags_reference.py").string();
constexpr double kFloatTolerance = 1e-5;  // float32 arithmetic on values within a few units
// One int8 step of the built model's activation range (about -2.1..2.7 with ImageNet mean/std)
// is ~0.019: the QDQ model's output is within half a step of the fed tensor, with margin.
constexpr double kQuantizedTolerance = 0.015;
const std::string kMean = "0.485,0.456,0.406";
const std::string kStd = "0.229,0.224,0.225";
const std::string kRescale = "0.00392156862745098";  // 1/255, the default

bool py(const std::string& args) { return std::system(("/usr/bin/python3 '" + kReference + "' " + args).c_str()) == 0; }

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

double numpy_max_abs(const fs::path& image, const std::string& mean, const std::string& std, const std::string& rescale) {
  std::string cmd = "/usr/bin/python3 '" + kReference + "' maxabs " + q(image) + " " + mean + " " + std + " " + rescale;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[64] = {};
  const bool read = std::fgets(buf, sizeof buf, p) != nullptr;
  pclose(p);
  return read ? std::strtod(buf, nullptr) : -1;
}

double eval_max_abs(const CliResult& r) {
  simdjson::dom::parser parser;
  auto doc = parser.parse(r.out);
  return doc["outputs"].at(0)["max_abs"].get_double().value();
}

TEST(ImageFlags, RunAndEvalFeedTheNormalisationAskedForOrTheBuildRecorded) {
  TempDir tmp;
  ASSERT_TRUE(py("make " + q(tmp / "m")));
  const auto image = tmp / "m" / "images" / "a.png";
  const auto linear = (tmp / "m" / "linear.onnx").string();
  const auto zero = (tmp / "m" / "zero.onnx").string();

  // run on a bare .onnx: ImageNet mean/std; then B,G,R order with 0..255 pixels.
  auto r1 = run_cli({"run", "-m", linear, "--image", image.string(), "--image-mean", kMean, "--image-std", kStd,
                     "--save-outputs", (tmp / "o1").string()});
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  EXPECT_TRUE(py("check " + q(tmp / "o1" / "y.npy") + " " + q(image) + " " + kMean + " " + kStd + " " + kRescale +
                 " 0 " + std::to_string(kFloatTolerance)));
  auto r2 = run_cli({"run", "-m", linear, "--image", image.string(), "--bgr", "--rescale", "1", "--save-outputs",
                     (tmp / "o2").string()});
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_TRUE(py("check " + q(tmp / "o2" / "y.npy") + " " + q(image) + " 0,0,0 1,1,1 1 1 " +
                 std::to_string(kFloatTolerance)));

  // eval on a bare .onnx against y = 0: max |diff| is max |fed|, with the flags and without.
  auto e1 = run_cli({"eval", "-m", linear, "--compare", zero, "--data", image.parent_path().string(), "--image-mean",
                     kMean, "--image-std", kStd, "--format", "json"});
  ASSERT_EQ(e1.exit_code, 0) << e1.err;
  EXPECT_NEAR(eval_max_abs(e1), numpy_max_abs(image, kMean, kStd, kRescale), kFloatTolerance);
  auto e2 = run_cli({"eval", "-m", linear, "--compare", zero, "--data", image.parent_path().string(), "--format", "json"});
  ASSERT_EQ(e2.exit_code, 0) << e2.err;
  EXPECT_NEAR(eval_max_abs(e2), numpy_max_abs(image, "0,0,0", "1,1,1", kRescale), kFloatTolerance);

  // A folder built with mean/std and --bgr: run and eval use them by default, flags override them.
  auto built = tmp / "built";
  auto b = run_cli({"build", "-m", linear, "--task", "image-feature-extraction", "--image-mean", kMean, "--image-std", kStd,
                    "--bgr", "--calibration-data", image.parent_path().string(), "-o", built.string(), "--quiet"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  auto r3 = run_cli({"run", "-m", built.string(), "--image", image.string(), "--save-outputs", (tmp / "o3").string()});
  ASSERT_EQ(r3.exit_code, 0) << r3.err;
  EXPECT_NE(r3.out.find("as the build recorded it"), std::string::npos) << r3.out;
  EXPECT_TRUE(py("check " + q(tmp / "o3" / "y.npy") + " " + q(image) + " " + kMean + " " + kStd + " " + kRescale +
                 " 1 " + std::to_string(kQuantizedTolerance)));
  auto r4 = run_cli({"run", "-m", built.string(), "--image", image.string(), "--image-mean", "0,0,0", "--image-std",
                     "1,1,1", "--save-outputs", (tmp / "o4").string()});
  ASSERT_EQ(r4.exit_code, 0) << r4.err;
  EXPECT_TRUE(py("check " + q(tmp / "o4" / "y.npy") + " " + q(image) + " 0,0,0 1,1,1 " + kRescale + " 1 " +
                 std::to_string(kQuantizedTolerance)))
      << "the flags given replace the recorded mean/std; the recorded --bgr stays";
  auto e3 = run_cli({"eval", "-m", built.string(), "--compare", zero, "--data", image.parent_path().string(), "--format",
                     "json"});
  ASSERT_EQ(e3.exit_code, 0) << e3.err;
  EXPECT_NEAR(eval_max_abs(e3), numpy_max_abs(image, kMean, kStd, kRescale), kQuantizedTolerance);

  // A bad value is a usage error naming the flag, as quantize's.
  auto bad = run_cli({"run", "-m", linear, "--image", image.string(), "--image-std", "1,0,1"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--image-std"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace modelkit::test
