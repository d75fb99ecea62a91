// Preprocessing against the reference (scripts/image_reference.py: PIL resize and transformers'
// processor steps restated with numpy) on real photos, for checkpoints' preprocessor configs of
// every supported processor family; plus output-size arithmetic checked against values worked
// out by hand from transformers' formulas, config errors, notes and fixed-size adjustment.
#include "reference.hpp"

#include <modelkit/image.hpp>

#include <gtest/gtest.h>

#include <cmath>

namespace modelkit::image {
namespace {

namespace fs = std::filesystem;

fs::path config_dir() { return fs::path(MODELKIT_TEST_DATA_DIR) / "image" / "configs"; }

ImageProcessorConfig load(const std::string& name) {
  auto c = ImageProcessorConfig::from_file(config_dir() / (name + ".json"));
  EXPECT_TRUE(c.ok()) << name << ": " << (c.ok() ? "" : c.error().message);
  return c.ok() ? *c : ImageProcessorConfig{};
}

// One 8-bit step after rescale and normalize, per channel: the tolerance the brief sets.
float one_level(const ImageProcessorConfig& c, int ch) {
  float level = c.do_rescale ? static_cast<float>(c.rescale_factor) : 1.0F;
  if (c.do_normalize) level /= c.image_std[ch];
  return std::fabs(level);
}

void compare_with_reference(const std::vector<std::pair<fs::path, ImageProcessorConfig>>& cases,
                            const fs::path& reference_config, const std::string& label) {
  testing::require_reference();
  testing::ScratchDir scratch;
  testing::ReferenceBatch batch(scratch.path());
  std::vector<fs::path> refs;
  for (const auto& [image, config] : cases) refs.push_back(batch.preprocess(image, reference_config));
  auto err = batch.run();
  ASSERT_FALSE(err.has_value()) << *err;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& [path, config] = cases[i];
    auto img = decode_image(path);
    ASSERT_TRUE(img.ok()) << img.error().message;
    auto out = preprocess(*img, config);
    ASSERT_TRUE(out.ok()) << out.error().message;
    const auto ref = testing::read_ref_array(refs[i]);
    const std::string what = label + " on " + path.filename().string() + " (" + std::to_string(img->width) + "x" +
                             std::to_string(img->height) + ")";
    ASSERT_EQ(ref.dtype, "f32") << what;
    ASSERT_EQ(ref.shape, (std::vector<std::int64_t>{out->shape[0], out->shape[1], out->shape[2]})) << what;
    const auto expected_hw = config.output_size(img->height, img->width);
    EXPECT_EQ(out->shape[1], expected_hw[0]) << what;
    EXPECT_EQ(out->shape[2], expected_hw[1]) << what;
    const std::size_t plane = static_cast<std::size_t>(out->shape[1] * out->shape[2]);
    float worst_ratio = 0.0F, worst_abs = 0.0F;
    std::size_t inexact = 0;
    for (std::size_t k = 0; k < out->data.size(); ++k) {
      const int ch = static_cast<int>(k / plane);
      const float d = std::fabs(out->data[k] - ref.f32[k]);
      worst_abs = std::max(worst_abs, d);
      worst_ratio = std::max(worst_ratio, d / one_level(config, config.bgr ? 2 - ch : ch));
      inexact += d > 1e-5F * std::max(1.0F, std::fabs(ref.f32[k]));
    }
    // The binding tolerance: within one 8-bit level after rescale.
    EXPECT_LE(worst_ratio, 1.0F) << what << ": max abs diff " << worst_abs;
    // What the implementation achieves (PIL-exact resize, same float arithmetic): equality up to
    // float rounding, so any drift shows up here first.
    EXPECT_EQ(inexact, 0U) << what << ": " << inexact << " values differ, max abs diff " << worst_abs;
  }
}

class CheckpointConfig : public ::testing::TestWithParam<std::string> {};

TEST_P(CheckpointConfig, MatchesReferenceOnPhotos) {
  const std::string name = GetParam();
  const ImageProcessorConfig config = load(name);
  auto images = testing::photos_or_generated();
  // DETR outputs are ~800x1200; a few images cover them.
  if (config.family == "detr") images.resize(std::min<std::size_t>(images.size(), 4));
  std::vector<std::pair<fs::path, ImageProcessorConfig>> cases;
  for (const auto& p : images) cases.emplace_back(p, config);
  compare_with_reference(cases, config_dir() / (name + ".json"), name);
}

INSTANTIATE_TEST_SUITE_P(Image, CheckpointConfig,
                         ::testing::Values("google__vit-base-patch16-224", "openai__clip-vit-base-patch32",
                                           "facebook__convnext-tiny-224", "facebook__convnext-large-384",
                                           "facebook__deit-base-distilled-patch16-224", "facebook__dinov2-small",
                                           "microsoft__beit-base-patch16-224", "facebook__detr-resnet-50",
                                           "google__siglip-base-patch16-224", "apple__mobilevit-small",
                                           "synthetic__detr-small-dict", "synthetic__detr-max-hw",
                                           "synthetic__generic-longest-edge", "synthetic__generic-crop-pads",
                                           "synthetic__clip-exact-nearest",
                                           "synthetic__generic-shortest-no-resize"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(ImageProcessorConfig, ReadsCheckpointConfigs) {
  const auto vit = load("google__vit-base-patch16-224");
  EXPECT_EQ(vit.processor_type, "ViTFeatureExtractor");
  EXPECT_EQ(vit.family, "vit");
  EXPECT_EQ(vit.resize_rule, ResizeRule::exact);
  EXPECT_EQ(vit.height, 224);
  EXPECT_EQ(vit.width, 224);
  EXPECT_EQ(vit.resample, Resample::bilinear);
  EXPECT_TRUE(vit.do_rescale);
  EXPECT_FLOAT_EQ(static_cast<float>(vit.rescale_factor), 1.0F / 255.0F);
  EXPECT_TRUE(vit.notes.empty());

  const auto clip = load("openai__clip-vit-base-patch32");
  EXPECT_EQ(clip.family, "clip");
  EXPECT_EQ(clip.resize_rule, ResizeRule::shortest_edge);  // int size, default_to_square=False
  EXPECT_EQ(clip.shortest_edge, 224);
  EXPECT_TRUE(clip.do_center_crop);
  EXPECT_EQ(clip.crop_height, 224);
  EXPECT_EQ(clip.resample, Resample::bicubic);
  EXPECT_FLOAT_EQ(clip.image_mean[0], 0.48145466F);

  const auto convnext = load("facebook__convnext-tiny-224");
  EXPECT_EQ(convnext.resize_rule, ResizeRule::convnext);
  EXPECT_DOUBLE_EQ(convnext.crop_pct, 0.875);
  const auto convnext384 = load("facebook__convnext-large-384");
  EXPECT_DOUBLE_EQ(convnext384.crop_pct, 224.0 / 256.0);  // null -> the class default

  const auto detr = load("facebook__detr-resnet-50");
  EXPECT_EQ(detr.family, "detr");
  EXPECT_EQ(detr.resize_rule, ResizeRule::shortest_longest);  // size 800 + max_size 1333
  EXPECT_EQ(detr.shortest_edge, 800);
  EXPECT_EQ(detr.longest_edge, 1333);
  EXPECT_EQ(detr.resample, Resample::bilinear);  // class default

  const auto mobilevit = load("apple__mobilevit-small");
  EXPECT_TRUE(mobilevit.bgr);
  EXPECT_FALSE(mobilevit.do_normalize);
  EXPECT_EQ(mobilevit.shortest_edge, 288);
  EXPECT_EQ(mobilevit.crop_height, 256);

  const auto beit = load("microsoft__beit-base-patch16-224");
  EXPECT_FALSE(beit.do_center_crop);
  EXPECT_EQ(beit.height, 224);

  const auto dinov2 = load("facebook__dinov2-small");
  EXPECT_EQ(dinov2.family, "bit");
  EXPECT_TRUE(dinov2.notes.empty());

  const auto generic = load("synthetic__generic-longest-edge");
  EXPECT_EQ(generic.family, "generic");
  EXPECT_EQ(generic.resize_rule, ResizeRule::longest_edge);
  EXPECT_EQ(generic.resample, Resample::lanczos);
  EXPECT_FLOAT_EQ(generic.image_mean[2], 0.45F);  // scalar broadcast
  EXPECT_FLOAT_EQ(generic.image_std[1], 0.27F);   // one-element list broadcast
  ASSERT_FALSE(generic.notes.empty());
  EXPECT_NE(generic.notes[0].find("SomeNewImageProcessor"), std::string::npos) << generic.notes[0];

  const auto padded = load("synthetic__detr-small-dict");
  ASSERT_EQ(padded.notes.size(), 1U);
  EXPECT_NE(padded.notes[0].find("do_pad"), std::string::npos);
}

// Output sizes worked out by hand from transformers' formulas (see each comment).
TEST(ImageProcessorConfig, OutputSizesFollowTransformersFormulas) {
  auto resize_only = [](ImageProcessorConfig c) {
    c.do_center_crop = false;
    return c;
  };
  const auto clip = load("openai__clip-vit-base-patch32");
  // get_resize_output_image_size: short 427 -> 224, long int(224 * 640 / 427) = int(335.74) = 335.
  EXPECT_EQ(resize_only(clip).output_size(427, 640), (std::array<int, 2>{224, 335}));
  EXPECT_EQ(resize_only(clip).output_size(600, 512), (std::array<int, 2>{262, 224}));  // int(262.5)
  EXPECT_EQ(clip.output_size(427, 640), (std::array<int, 2>{224, 224}));

  const auto detr = load("facebook__detr-resnet-50");
  // 640/427 * 800 = 1199 < 1333: short side 800, long int(800 * 640 / 427) = int(1199.06).
  EXPECT_EQ(detr.output_size(427, 640), (std::array<int, 2>{800, 1199}));
  // 1000/300 * 800 > 1333: raw = 1333 * 300 / 1000 = 399.9, size round(399.9) = 400,
  // long int(399.9 * 1000 / 300) = 1333.
  EXPECT_EQ(detr.output_size(300, 1000), (std::array<int, 2>{400, 1333}));
  EXPECT_EQ(detr.output_size(1000, 300), (std::array<int, 2>{1333, 400}));
  EXPECT_EQ(detr.output_size(800, 900), (std::array<int, 2>{800, 900}));  // already there

  const auto convnext = load("facebook__convnext-tiny-224");
  EXPECT_EQ(convnext.output_size(300, 451), (std::array<int, 2>{224, 224}));
  const auto convnext384 = load("facebook__convnext-large-384");
  EXPECT_EQ(convnext384.output_size(300, 451), (std::array<int, 2>{384, 384}));

  const auto sam_like = load("synthetic__generic-longest-edge");
  // scale 300 / 600 = 0.5: (int(600 * 0.5 + 0.5), int(512 * 0.5 + 0.5)) = (300, 256).
  EXPECT_EQ(sam_like.output_size(600, 512), (std::array<int, 2>{300, 256}));
  // scale 300 / 451: 300 * 300/451 + 0.5 = 200.06 -> 200.
  EXPECT_EQ(sam_like.output_size(300, 451), (std::array<int, 2>{200, 300}));

  const auto max_hw = load("synthetic__detr-max-hw");
  // min(333 / 427, 250 / 640) = 0.390625: (int(166.8), int(250.0)).
  EXPECT_EQ(max_hw.output_size(427, 640), (std::array<int, 2>{166, 250}));

  const auto no_resize = load("synthetic__generic-shortest-no-resize");
  EXPECT_EQ(no_resize.output_size(427, 640), (std::array<int, 2>{256, 256}));
  EXPECT_TRUE(no_resize.has_fixed_output());
  EXPECT_FALSE(detr.has_fixed_output());
  EXPECT_FALSE(resize_only(clip).has_fixed_output());
}

TEST(ImageProcessorConfig, WrongFieldsGiveOneLineErrorsNamingTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"size": "big"})", "field 'size' must be an object"},
      {R"({"size": {"height": 224}, "image_mean": 0.5, "image_std": 0.5})", "field 'size' must be one of"},
      {R"({"size": {"height": -3, "width": 3}})", "field 'size.height' must be between 1 and 65536, got -3"},
      {R"({"size": {"height": 22.5, "width": 3}})", "field 'size.height' must be a whole number"},
      {R"({"size": {"heigth": 224, "width": 224}})", "field 'size' has unknown key 'heigth'"},
      {R"({"size": [1, 2, 3]})", "field 'size' as a list must be [height, width]"},
      {R"({"image_processor_type": "ViTImageProcessor", "size": {"shortest_edge": 224}})",
       "field 'size' must be {height, width} for ViTImageProcessor, got {shortest_edge}"},
      {R"({"image_processor_type": "ConvNextImageProcessor", "size": {"height": 224, "width": 224}})",
       "field 'size' must be {shortest_edge} for ConvNextImageProcessor"},
      {R"({"image_processor_type": "ViTImageProcessor", "resample": 7})", "field 'resample' must be a PIL filter"},
      {R"({"image_processor_type": "ViTImageProcessor", "resample": "bicubic"})",
       "field 'resample' must be a PIL filter code 0-5"},
      {R"({"image_processor_type": "ViTImageProcessor", "image_mean": [0.5, 0.5]})",
       "field 'image_mean' must have 1 or 3 values"},
      {R"({"image_processor_type": "ViTImageProcessor", "image_std": [0.5, 0, 0.5]})",
       "field 'image_std' must not contain 0"},
      {R"({"image_processor_type": "ViTImageProcessor", "image_std": "wide"})",
       "field 'image_std' must be a number or a list of 3 numbers, got a string"},
      {R"({"image_processor_type": "ViTImageProcessor", "do_resize": "yes"})",
       "field 'do_resize' must be true or false, got a string"},
      {R"({"image_processor_type": "ViTImageProcessor", "rescale_factor": 0})", "field 'rescale_factor'"},
      {R"({"image_processor_type": "DeiTImageProcessor", "crop_size": {"shortest_edge": 3}})",
       "field 'crop_size' must be {height, width} or an integer"},
      {R"({"image_processor_type": 12})", "field 'image_processor_type' must be a string"},
      {R"({"do_resize": true})", "field 'size' is required when do_resize is true"},
      {R"({"size": 224})", "field 'image_mean' is required when do_normalize is true"},
      {R"({"size": 224, "do_center_crop": true, "do_normalize": false})", "field 'crop_size' is required"},
      {R"([1, 2])", "expected a JSON object, got a list"},
      {R"({"size": )", "invalid JSON"},
  };
  for (const auto& [json, expected] : cases) {
    auto c = ImageProcessorConfig::from_json(json);
    ASSERT_FALSE(c.ok()) << json << " was accepted";
    EXPECT_NE(c.error().message.find(expected), std::string::npos) << json << "\n  -> " << c.error().message;
    EXPECT_EQ(c.error().message.find('\n'), std::string::npos) << c.error().message;
  }
  // The file's path prefixes errors from from_file.
  testing::ScratchDir scratch;
  const fs::path bad = scratch.path() / "preprocessor_config.json";
  std::ofstream(bad) << R"({"resample": 9, "size": 3, "image_mean": 1, "image_std": 1})";
  auto c = ImageProcessorConfig::from_file(bad);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message.rfind(bad.string() + ": field 'resample'", 0), 0U) << c.error().message;
  auto missing = ImageProcessorConfig::from_file(scratch.path() / "nope.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("nope.json"), std::string::npos);
}

TEST(ImageProcessorConfig, IgnoredFieldsAreRecordedInNotes) {
  auto c = ImageProcessorConfig::from_json(
      R"({"image_processor_type": "ViTImageProcessor", "crop_pct": 0.9, "size_divisor": 32, "do_pad": false})");
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->notes.size(), 2U);
  EXPECT_NE(c->notes[0].find("crop_pct"), std::string::npos) << c->notes[0];
  EXPECT_NE(c->notes[1].find("size_divisor"), std::string::npos) << c->notes[1];
  auto none = ImageProcessorConfig::from_json(R"({"size": 32, "do_normalize": false})");
  ASSERT_TRUE(none.ok());
  ASSERT_EQ(none->notes.size(), 1U);
  EXPECT_NE(none->notes[0].find("no image_processor_type"), std::string::npos);
}

TEST(ImageProcessorConfig, FixedOutputKeepsMatchingConfigsAndScalesOthers) {
  const auto dinov2 = load("facebook__dinov2-small");
  const auto same = dinov2.with_fixed_output(224, 224);
  EXPECT_EQ(same.shortest_edge, 256);
  EXPECT_EQ(same.notes.size(), dinov2.notes.size());

  // Shortest edge 256 then crop 224, scaled to 448: edge 512, crop 448.
  const auto big = dinov2.with_fixed_output(448, 448);
  EXPECT_EQ(big.resize_rule, ResizeRule::shortest_edge);
  EXPECT_EQ(big.shortest_edge, 512);
  EXPECT_EQ(big.crop_height, 448);
  EXPECT_EQ(big.notes.size(), dinov2.notes.size() + 1);
  EXPECT_EQ(big.output_size(427, 640), (std::array<int, 2>{448, 448}));

  // DeiT resize 256 then crop 224 -> 384: resize round(256 * 384 / 224) = 439, crop 384.
  const auto deit = load("facebook__deit-base-distilled-patch16-224").with_fixed_output(384, 384);
  EXPECT_EQ(deit.height, 439);
  EXPECT_EQ(deit.crop_height, 384);
  // ConvNeXT 224 (edge int(224 / 0.875) = 256, crop 224) -> 384: edge round(256 * 384 / 224) = 439.
  const auto convnext = load("facebook__convnext-tiny-224").with_fixed_output(384, 384);
  EXPECT_EQ(convnext.resize_rule, ResizeRule::shortest_edge);
  EXPECT_EQ(convnext.shortest_edge, 439);
  EXPECT_TRUE(convnext.do_center_crop);
  // No crop to scale: a plain resize to the model's size.
  const auto detr = load("facebook__detr-resnet-50").with_fixed_output(800, 800);
  EXPECT_EQ(detr.resize_rule, ResizeRule::exact);
  EXPECT_EQ(detr.output_size(427, 640), (std::array<int, 2>{800, 800}));
  EXPECT_FALSE(detr.notes.empty());
  const auto vit = load("google__vit-base-patch16-224").with_fixed_output(384, 320);
  EXPECT_EQ(vit.output_size(10, 10), (std::array<int, 2>{384, 320}));
}

TEST(ImageProcessorConfig, FixedOutputPixelsMatchTheEquivalentConfig) {
  // dinov2 forced to 448x448 is BitImageProcessor with shortest edge 512 and crop 448: the
  // reference runs that config, written out by hand.
  testing::ScratchDir scratch;
  const fs::path equivalent = scratch.path() / "dinov2-448.json";
  std::ofstream(equivalent) << R"({"image_processor_type": "BitImageProcessor", "size": {"shortest_edge": 512},
    "crop_size": {"height": 448, "width": 448}, "resample": 3, "do_center_crop": true,
    "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]})";
  const auto forced = load("facebook__dinov2-small").with_fixed_output(448, 448);
  std::vector<std::pair<fs::path, ImageProcessorConfig>> cases;
  auto photos = testing::photos_or_generated();
  photos.resize(std::min<std::size_t>(photos.size(), 3));
  for (const auto& p : photos) cases.emplace_back(p, forced);
  compare_with_reference(cases, equivalent, "dinov2 forced to 448");
}

TEST(Preprocess, ChannelsFirstAndBgrOrder) {
  // A 2x1 image: red then blue. ViT-style rescale + normalize (x/255 - 0.5) / 0.5.
  Image img;
  img.width = 2;
  img.height = 1;
  img.rgb = {255, 0, 0, 0, 0, 255};
  auto rgb = ImageProcessorConfig::from_json(
      R"({"image_processor_type": "ViTImageProcessor", "do_resize": false})");
  ASSERT_TRUE(rgb.ok());
  auto out = preprocess(img, *rgb);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->shape, (std::array<std::int64_t, 3>{3, 1, 2}));
  EXPECT_EQ(out->data, (std::vector<float>{1, -1, -1, -1, -1, 1}));  // R plane, G plane, B plane
  ImageProcessorConfig bgr = *rgb;
  bgr.bgr = true;
  auto flipped = preprocess(img, bgr);
  ASSERT_TRUE(flipped.ok());
  EXPECT_EQ(flipped->data, (std::vector<float>{-1, 1, -1, -1, 1, -1}));  // B plane first

  Image empty;
  EXPECT_FALSE(preprocess(empty, *rgb).ok());

  // A hand-built config that never got its sizes is an error, not a 1x1 output.
  ImageProcessorConfig unset;
  auto bad = preprocess(img, unset);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("do_resize is set but its output size is not"), std::string::npos);
  unset.do_resize = false;
  unset.do_center_crop = true;
  EXPECT_FALSE(preprocess(img, unset).ok());
}

}  // namespace
}  // namespace modelkit::image
