// Image calibration of ONNX models that are not Hugging Face exports (issue 10): the image source
// finds the input shaped like an image, reads its layout from the shape (NHWC for a
// BlazeFace-like detector, NCHW with dynamic dims for a PP-OCR-like one), takes the size from
// the static dims or --input-shape, and preprocesses with the flags given.
#include <simdjson.h>

#include "exported_models.hpp"

namespace modelkit::test {
namespace {

std::string str(simdjson::dom::element e) {
  std::string_view s;
  return e.get_string().get(s) == simdjson::SUCCESS ? std::string(s) : "<not a string>";
}

bool has_note(simdjson::dom::element manifest, const std::string& text) {
  for (auto n : manifest["calibration"]["notes"].get_array())
    if (str(n).find(text) != std::string::npos) return true;
  return false;
}

fs::path photo_folder(const TempDir& tmp) {
  auto dir = tmp / "photos";
  fs::create_directories(dir);
  for (const auto& sub : {"skimage", "matplotlib"})
    for (const auto& e : fs::directory_iterator(fs::path(MODELKIT_DEPS_DIR) / "images" / sub))
      if (e.path().extension() == ".jpg" || e.path().extension() == ".png")
        fs::copy_file(e.path(), dir / (std::string(sub) + "-" + e.path().filename().string()));
  return dir;
}

double min_cosine(const fs::path& manifest) {
  simdjson::dom::parser parser;
  return parser.load(manifest.string()).value()["validation"]["min_cosine_similarity"].get_double().value();
}

constexpr double kMinImageCalibratedCosine = 0.99;

// Calibrates on the photos, and again with ranges from random inputs validated on the same
// held-back photos: the cosine each reaches on real images.
struct Comparison {
  double image_calibrated = 0, random_calibrated = 0;
};
Comparison calibrate_both_ways(const TempDir& tmp, const fs::path& model, std::vector<std::string> flags) {
  auto photos = photo_folder(tmp);
  auto run = [&](std::vector<std::string> args) {
    for (const auto& f : flags) args.push_back(f);
    auto r = run_cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
  };
  run({"quantize", "-m", model.string(), "-o", (tmp / "random.onnx").string(), "--samples", "16", "--save-ranges",
       (tmp / "random-ranges.json").string(), "--quiet"});
  run({"quantize", "-m", model.string(), "-o", (tmp / "image.onnx").string(), "--samples", "16", "--calibration-data",
       photos.string(), "--quiet"});
  run({"quantize", "-m", model.string(), "-o", (tmp / "random-on-images.onnx").string(), "--samples", "16",
       "--calibration-data", photos.string(), "--ranges", (tmp / "random-ranges.json").string(), "--quiet"});
  Comparison c;
  c.image_calibrated = min_cosine(tmp / "image.manifest.json");
  c.random_calibrated = min_cosine(tmp / "random-on-images.manifest.json");
  std::printf("%s: cosine on held-back photos, image-calibrated %.4f, random-calibrated %.4f\n",
              model.parent_path().filename().c_str(), c.image_calibrated, c.random_calibrated);
  return c;
}

TEST(ImageModels, BlazeFaceLikeNhwcCalibratesOnImages) {
  TempDir tmp;
  auto model = exported_model("blazeface-like");
  auto c = calibrate_both_ways(tmp, model, {"--image-mean", "0.5,0.5,0.5", "--image-std", "0.5,0.5,0.5"});
  simdjson::dom::parser parser;
  auto m = parser.load((tmp / "image.manifest.json").string()).value();
  EXPECT_EQ(str(m["calibration"]["kind"]), "image");
  EXPECT_FALSE(m["calibration"]["fallback"].get_bool().value());
  EXPECT_TRUE(has_note(m, "images feed input 'input:0' as nhwc (3 channels at axis 3), 128x128, mean 0.5,0.5,0.5 std "
                          "0.5,0.5,0.5"));
  EXPECT_GE(c.image_calibrated, kMinImageCalibratedCosine);
  // Random N(0, 1) ranges miss the [-1, 1] pixels' activations (measured 0.998 vs 0.54).
  EXPECT_GT(c.image_calibrated, c.random_calibrated);
}

TEST(ImageModels, PpOcrLikeNchwWithDynamicDims) {
  TempDir tmp;
  auto model = exported_model("ppocr-det-like");
  auto c = calibrate_both_ways(tmp, model, {"--image-mean", "0.485,0.456,0.406", "--image-std", "0.229,0.224,0.225",
                                            "--input-shape", "x=1x3x96x128", "--resize-mode", "crop"});
  simdjson::dom::parser parser;
  auto m = parser.load((tmp / "image.manifest.json").string()).value();
  EXPECT_EQ(str(m["calibration"]["kind"]), "image");
  EXPECT_TRUE(has_note(m, "images feed input 'x' as nchw (3 channels at axis 1), 96x128"));
  // This small detector quantizes well either way (measured 0.9999 both): the figure is
  // reported, the image calibration must reach the bar.
  EXPECT_GE(c.image_calibrated, kMinImageCalibratedCosine);
}

TEST(ImageModels, ImageInputAndLayoutFlagsAreChecked) {
  TempDir tmp;
  auto model = exported_model("ppocr-det-like");
  auto photos = photo_folder(tmp);
  auto r = run_cli({"quantize", "-m", model.string(), "-o", (tmp / "o.onnx").string(), "--calibration-data",
                    photos.string(), "--image-input", "pixels"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--image-input 'pixels': the model has no such input (inputs: x [p2o.DynamicDimension.0, 3, "),
            std::string::npos)
      << r.err;
  auto layout = run_cli({"quantize", "-m", model.string(), "-o", (tmp / "o.onnx").string(), "--layout", "chw"});
  EXPECT_EQ(layout.exit_code, 2) << layout.err;
  EXPECT_NE(layout.err.find("option '--layout': expected one of nchw, nhwc, got 'chw' (did you mean 'nchw'?)"), std::string::npos) << layout.err;
  auto mean = run_cli({"quantize", "-m", model.string(), "-o", (tmp / "o.onnx").string(), "--image-mean", "0.5,0.5"});
  EXPECT_EQ(mean.exit_code, 2) << mean.err;
  EXPECT_FALSE(fs::exists(tmp / "o.onnx"));
}

}  // namespace
}  // namespace modelkit::test
