// MobileNetV2 and BEiT checkpoints (safetensors only) through the real CLI: `inspect` says they
// export natively, and `build -m` exports, calibrates on images through the checkpoint's
// preprocessor_config.json, quantizes and validates.
#include "export_reference.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>

#include <simdjson.h>

namespace modelkit::test {
namespace {

using ::testing::HasSubstr;

fs::path copy_case(const TempDir& tmp, const std::string& name) {
  auto dst = tmp / name;
  fs::copy(export_reference().root / name, dst, fs::copy_options::recursive);
  fs::remove_all(dst / "reference");
  return dst;
}

void expect_image_build(const fs::path& out, const std::string& family) {
  simdjson::dom::parser parser;
  auto m = parser.load((out / "build_manifest.json").string());
  ASSERT_FALSE(m.error());
  EXPECT_EQ(std::string_view(m["export"]["family"].get_string().value()), family);
  EXPECT_EQ(std::string_view(m["export"]["head"].get_string().value()), "image-classification");
  EXPECT_TRUE(m["source_onnx"].is_null());
  EXPECT_EQ(std::string_view(m["calibration"]["kind"].get_string().value()), "image");
  EXPECT_FALSE(m["calibration"]["fallback"].get_bool().value());
  EXPECT_THAT(std::string(simdjson::to_string(m["calibration"].value())), HasSubstr("preprocessor_config.json"));
  EXPECT_GT(m["quantization"]["nodes_quantized"].get_int64().value(), 0);
  EXPECT_THAT(std::string(simdjson::to_string(m["validation"]["report"].value())), HasSubstr("\"logits\""));
  EXPECT_GT(m["validation"]["min_cosine_similarity"].get_double().value(), 0.5);
  EXPECT_TRUE(fs::is_regular_file(out / "model.onnx"));
}

TEST(ExportMobileNetV2BeitCli, BuildExportsAMobileNetV2Checkpoint) {
  TempDir tmp, out;
  auto ck = copy_case(tmp, "mobilenet_v2-imgcls");
  // The processor recipe of the MobileNetV2 checkpoints (shortest edge, center crop), at 32x32.
  write_file(ck / "preprocessor_config.json",
             R"({"image_processor_type": "MobileNetV2ImageProcessor", "do_resize": true, "size": {"shortest_edge": 36},
                 "resample": 2, "do_center_crop": true, "crop_size": {"height": 32, "width": 32}, "do_rescale": true,
                 "rescale_factor": 0.00392156862745098, "do_normalize": true, "image_mean": [0.5, 0.5, 0.5],
                 "image_std": [0.5, 0.5, 0.5]})");
  auto info = run_cli({"inspect", "-m", ck.string()});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_THAT(info.out, HasSubstr("yes (mobilenet_v2, image-classification)"));
  auto r = run_cli({"build", "-m", ck.string(), "-o", (out / "b").string(), "--samples", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_image_build(out / "b", "mobilenet_v2");
}

TEST(ExportMobileNetV2BeitCli, BuildExportsABeitCheckpoint) {
  TempDir tmp, out;
  auto ck = copy_case(tmp, "beit-imgcls");  // with its BeitImageProcessor config at 32x32
  auto r = run_cli({"build", "-m", ck.string(), "-o", (out / "b").string(), "--samples", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_image_build(out / "b", "beit");
}

}  // namespace
}  // namespace modelkit::test
