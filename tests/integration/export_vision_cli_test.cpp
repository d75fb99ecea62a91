// Vision checkpoints through the real CLI: `build -m` on a safetensors-only ViT with its
// preprocessor_config.json exports, calibrates on images through that processor (embedded default
// images, and --calibration-data DIR), quantizes and validates; `export --input-shape` sets the
// image size or is refused in one line.
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

void expect_vision_build(const fs::path& out, const std::string& family, const std::string& head,
                         std::string_view calibration_source,
                         const std::vector<std::string>& outputs = {"logits"}) {
  simdjson::dom::parser parser;
  auto m = parser.load((out / "build_manifest.json").string());
  ASSERT_FALSE(m.error());
  EXPECT_EQ(std::string_view(m["export"]["family"].get_string().value()), family);
  EXPECT_EQ(std::string_view(m["export"]["head"].get_string().value()), head);
  EXPECT_TRUE(m["source_onnx"].is_null());
  EXPECT_EQ(std::string_view(m["calibration"]["kind"].get_string().value()), "image");
  EXPECT_FALSE(m["calibration"]["fallback"].get_bool().value());
  EXPECT_THAT(std::string(simdjson::to_string(m["calibration"].value())), HasSubstr(calibration_source));
  EXPECT_GT(m["quantization"]["nodes_quantized"].get_int64().value(), 0);
  // Validation compares the float and the int8 model on every output, with a cosine for each.
  const auto report = std::string(simdjson::to_string(m["validation"]["report"].value()));
  for (const auto& o : outputs) EXPECT_THAT(report, HasSubstr("\"" + o + "\"")) << report;
  EXPECT_GT(m["validation"]["min_cosine_similarity"].get_double().value(), 0.5);
  EXPECT_TRUE(fs::is_regular_file(out / "model.onnx"));
  EXPECT_TRUE(fs::is_regular_file(out / "preprocessor_config.json"));
}

TEST(ExportVisionCli, BuildExportsAViTCheckpointAndCalibratesOnImages) {
  TempDir tmp, out;
  auto ck = copy_case(tmp, "vit-imgcls");
  auto r = run_cli({"build", "-m", ck.string(), "-o", (out / "b").string(), "--samples", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("export\n"));
  expect_vision_build(out / "b", "vit", "image-classification", "preprocessor_config.json");
  for (const auto& e : fs::directory_iterator(out.path())) EXPECT_EQ(e.path().filename(), "b") << e.path();
}

TEST(ExportVisionCli, BuildCalibratesOnAnImageFolder) {
  TempDir tmp, out;
  auto ck = copy_case(tmp, "deit-teacher");
  // DeiT's own processor recipe at the checkpoint's 32x32.
  write_file(ck / "preprocessor_config.json",
             R"({"image_processor_type": "DeiTImageProcessor", "do_resize": true, "size": {"height": 40, "width": 40},
                 "resample": 3, "do_center_crop": true, "crop_size": {"height": 32, "width": 32},
                 "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]})");
  auto photos = tmp / "photos";
  fs::create_directories(photos);
  int copied = 0;
  for (const auto& e : fs::directory_iterator(fs::path(MODELKIT_DEPS_DIR) / "images" / "skimage"))
    if (e.path().extension() == ".png" && copied < 4) {
      fs::copy_file(e.path(), photos / e.path().filename());
      ++copied;
    }
  ASSERT_EQ(copied, 4);
  auto r = run_cli({"build", "-m", ck.string(), "-o", (out / "b").string(), "--samples", "4", "--calibration-data",
                    photos.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_vision_build(out / "b", "deit", "image-classification-with-teacher", photos.string());
}

TEST(ExportVisionCli, InputShapeSetsTheImageSizeOrIsRefused) {
  TempDir tmp, out;
  auto ck = copy_case(tmp, "dinov2-base");
  auto r = run_cli({"export", "-m", ck.string(), "-o", (out / "m.onnx").string(), "--input-shape",
                    "pixel_values=1x3x48x16", "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"family\": \"dinov2\""));
  auto info = run_cli({"inspect", "-m", (out / "m.onnx").string()});
  EXPECT_THAT(info.out, HasSubstr("pixel_values  float32 [batch_size, 3, 48, 16]"));

  auto other = run_cli({"export", "-m", ck.string(), "-o", (out / "x.onnx").string(), "--input-shape",
                        "input_ids=1x8"});
  EXPECT_EQ(other.exit_code, 2) << other.err;
  EXPECT_THAT(other.err, HasSubstr("pixel_values only"));
  EXPECT_FALSE(fs::exists(out / "x.onnx"));

  auto vit = copy_case(tmp, "vit-base");
  auto refused = run_cli({"export", "-m", vit.string(), "-o", (out / "v.onnx").string(), "--input-shape",
                          "pixel_values=1x3x64x64"});
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_EQ(refused.err.find('\n'), refused.err.size() - 1) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("differs from config.json's image_size 32"));
  EXPECT_FALSE(fs::exists(out / "v.onnx"));
}

// ConvNeXt from safetensors: its own processor (shortest edge 40 / crop_pct, then a 40x40 crop).
TEST(ExportVisionCli, BuildExportsAConvNextCheckpointAndCalibratesOnImages) {
  TempDir tmp, out;
  auto ck = copy_case(tmp, "convnext-imgcls");
  auto r = run_cli({"build", "-m", ck.string(), "-o", (out / "b").string(), "--samples", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("export\n"));
  expect_vision_build(out / "b", "convnext", "image-classification", "preprocessor_config.json");
}

// The CLIP vision tower with its projection, calibrated through CLIP's processor recipe at 32x32.
TEST(ExportVisionCli, BuildExportsAClipVisionCheckpointAndCalibratesOnImages) {
  TempDir tmp, out;
  auto ck = copy_case(tmp, "clip-vision-proj");
  write_file(ck / "preprocessor_config.json",
             R"({"image_processor_type": "CLIPImageProcessor", "do_resize": true, "size": {"shortest_edge": 32},
                 "resample": 3, "do_center_crop": true, "crop_size": {"height": 32, "width": 32},
                 "do_convert_rgb": true, "image_mean": [0.48145466, 0.4578275, 0.40821073],
                 "image_std": [0.26862954, 0.26130258, 0.27577711]})");
  auto r = run_cli({"build", "-m", ck.string(), "-o", (out / "b").string(), "--samples", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("export\n"));
  expect_vision_build(out / "b", "clip_vision_model", "with-projection", "preprocessor_config.json",
                      {"image_embeds", "last_hidden_state"});
}

// Swin from safetensors: windowed attention through the whole pipeline (processor 34x28, padded windows).
TEST(ExportVisionCli, BuildExportsASwinCheckpointAndCalibratesOnImages) {
  TempDir tmp, out;
  auto ck = copy_case(tmp, "swin-imgcls-pad");
  auto r = run_cli({"build", "-m", ck.string(), "-o", (out / "b").string(), "--samples", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_vision_build(out / "b", "swin", "image-classification", "preprocessor_config.json");
}

}  // namespace
}  // namespace modelkit::test
