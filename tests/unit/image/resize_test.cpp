// Resizing against PIL's Image.resize: every filter, downscaling (where PIL widens the filter
// support, i.e. antialiases) and upscaling, odd sizes, one-axis changes; the result must equal
// PIL's pixels exactly, since transformers resizes the uint8 image with PIL.
#include "reference.hpp"

#include <modelkit/image.hpp>

#include <gtest/gtest.h>

namespace modelkit::image {
namespace {

namespace fs = std::filesystem;

struct ResizeCase {
  int width, height;
  Resample resample;
};

constexpr Resample all_filters[] = {Resample::nearest, Resample::bilinear, Resample::bicubic,
                                    Resample::lanczos,  Resample::box,      Resample::hamming};

void compare_resizes(const std::vector<fs::path>& images, const std::vector<ResizeCase>& cases) {
  testing::require_reference();
  testing::ScratchDir scratch;
  testing::ReferenceBatch batch(scratch.path());
  std::vector<fs::path> refs;
  for (const auto& img : images)
    for (const auto& c : cases) refs.push_back(batch.resize(img, c.width, c.height, c.resample));
  auto err = batch.run();
  ASSERT_FALSE(err.has_value()) << *err;
  std::size_t k = 0;
  for (const auto& path : images) {
    auto img = decode_image(path);
    ASSERT_TRUE(img.ok()) << img.error().message;
    for (const auto& c : cases) {
      const auto ref = testing::read_ref_array(refs[k++]);
      const Image out = resize(*img, c.width, c.height, c.resample);
      ASSERT_EQ(out.width, c.width);
      ASSERT_EQ(out.height, c.height);
      ASSERT_EQ(ref.shape, (std::vector<std::int64_t>{c.height, c.width, 3}));
      std::size_t differing = 0;
      int max_diff = 0;
      for (std::size_t i = 0; i < out.rgb.size(); ++i) {
        const int d = std::abs(int(out.rgb[i]) - int(ref.u8[i]));
        differing += d != 0;
        max_diff = std::max(max_diff, d);
      }
      EXPECT_EQ(differing, 0U) << path.filename() << " " << img->width << "x" << img->height << " -> " << c.width
                               << "x" << c.height << " " << resample_name(c.resample) << ": " << differing
                               << " values differ from PIL, max by " << max_diff;
    }
  }
}

TEST(Resize, DownscalingPhotosMatchesPilForEveryFilter) {
  auto photos = testing::photos_or_generated();
  photos.resize(std::min<std::size_t>(photos.size(), 6));
  std::vector<ResizeCase> cases;
  for (Resample r : all_filters) {
    cases.push_back({224, 224, r});  // the common case, aspect ratio changed
    cases.push_back({97, 61, r});    // strong, odd-sized downscale
  }
  compare_resizes(photos, cases);
}

TEST(Resize, UpscalingAndMixedScalesMatchPil) {
  const fs::path gen = testing::generated_images();
  std::vector<fs::path> images = {gen / "gen_tiny.png", gen / "gen_portrait.jpg"};
  if (auto p = testing::find_photo("microaneurysms.png"); !p.empty()) images.push_back(p);
  std::vector<ResizeCase> cases;
  for (Resample r : all_filters) {
    cases.push_back({384, 384, r});  // upscale both ways
    cases.push_back({150, 520, r});  // down in x, up in y
    cases.push_back({1, 1, r});      // degenerate
  }
  compare_resizes(images, cases);
}

TEST(Resize, OneAxisChangesMatchPil) {
  // PIL skips the pass for an unchanged axis; the result must still be identical.
  const fs::path gen = testing::generated_images();
  std::vector<ResizeCase> cases;
  for (Resample r : {Resample::bilinear, Resample::bicubic, Resample::nearest}) {
    cases.push_back({333, 100, r});  // height only (the image is 333x217)
    cases.push_back({200, 217, r});  // width only
    cases.push_back({333, 217, r});  // same size: a copy
  }
  compare_resizes({gen / "gen_rgb_odd.png"}, cases);
}

TEST(CenterCrop, CropsAndPadsLikeTransformers) {
  Image img;
  img.width = 5;
  img.height = 4;
  for (int i = 0; i < 5 * 4 * 3; ++i) img.rgb.push_back(static_cast<std::uint8_t>(i + 1));
  auto pixel = [](const Image& im, int y, int x) { return int(im.rgb[(y * im.width + x) * 3]); };

  // Inside: top = (4 - 2) // 2 = 1, left = (5 - 3) // 2 = 1.
  Image inside = center_crop(img, 2, 3);
  ASSERT_EQ(inside.width, 3);
  ASSERT_EQ(inside.height, 2);
  EXPECT_EQ(pixel(inside, 0, 0), pixel(img, 1, 1));
  EXPECT_EQ(pixel(inside, 1, 2), pixel(img, 2, 3));

  // Larger than the image: padded with zeros, ceil(excess / 2) before: 7x8 from 4x5 puts the
  // image at rows 2..5 (ceil(3 / 2) = 2) and columns 2..6 (ceil(3 / 2) = 2).
  Image padded = center_crop(img, 7, 8);
  ASSERT_EQ(padded.width, 8);
  ASSERT_EQ(padded.height, 7);
  EXPECT_EQ(pixel(padded, 0, 0), 0);
  EXPECT_EQ(pixel(padded, 1, 2), 0);
  EXPECT_EQ(pixel(padded, 2, 2), pixel(img, 0, 0));
  EXPECT_EQ(pixel(padded, 5, 6), pixel(img, 3, 4));
  EXPECT_EQ(pixel(padded, 6, 7), 0);

  // Mixed: taller crop, narrower crop: rows padded (ceil(2/2) = 1), columns cropped ((5-3)//2 = 1).
  Image mixed = center_crop(img, 6, 3);
  ASSERT_EQ(mixed.height, 6);
  EXPECT_EQ(pixel(mixed, 0, 0), 0);
  EXPECT_EQ(pixel(mixed, 1, 0), pixel(img, 0, 1));
  EXPECT_EQ(pixel(mixed, 4, 2), pixel(img, 3, 3));
  EXPECT_EQ(pixel(mixed, 5, 1), 0);
}

}  // namespace
}  // namespace modelkit::image
