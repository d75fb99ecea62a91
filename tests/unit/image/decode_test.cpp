// Decoding against PIL: every test image decodes to exactly the pixels PIL's
// Image.open(path).convert("RGB") gives (the same libjpeg-turbo underneath for JPEG), and broken
// files give one clear error naming the file.
#include "reference.hpp"

#include <modelkit/image.hpp>

#include <gtest/gtest.h>

namespace modelkit::image {
namespace {

using testing::RefArray;
namespace fs = std::filesystem;

void expect_same_pixels(const fs::path& path, const Image& img, const RefArray& ref) {
  ASSERT_EQ(ref.dtype, "u8") << path;
  ASSERT_EQ(ref.shape.size(), 3U) << path;
  ASSERT_EQ(ref.shape[0], img.height) << path;
  ASSERT_EQ(ref.shape[1], img.width) << path;
  ASSERT_EQ(ref.shape[2], 3) << path;
  std::size_t differing = 0;
  int max_diff = 0;
  for (std::size_t i = 0; i < img.rgb.size(); ++i) {
    const int d = std::abs(int(img.rgb[i]) - int(ref.u8[i]));
    if (d != 0) ++differing;
    max_diff = std::max(max_diff, d);
  }
  EXPECT_EQ(differing, 0U) << path << " (" << img.source_mode << "): " << differing
                           << " channel values differ from PIL, max by " << max_diff;
}

void decode_and_compare(const std::vector<fs::path>& images) {
  testing::require_reference();
  testing::ScratchDir scratch;
  testing::ReferenceBatch batch(scratch.path());
  std::vector<fs::path> refs;
  for (const auto& p : images) refs.push_back(batch.rgb(p));
  auto err = batch.run();
  ASSERT_FALSE(err.has_value()) << *err;
  for (std::size_t i = 0; i < images.size(); ++i) {
    auto img = decode_image(images[i]);
    ASSERT_TRUE(img.ok()) << images[i] << ": " << img.error().message;
    expect_same_pixels(images[i], *img, testing::read_ref_array(refs[i]));
  }
}

TEST(DecodeImage, PhotosMatchPil) { decode_and_compare(testing::photos_or_generated()); }

TEST(DecodeImage, EveryFormatVariantMatchesPil) {
  const fs::path gen = testing::generated_images();
  std::vector<fs::path> images;
  for (const char* name :
       {"gen_rgb_odd.png", "gen_portrait.jpg", "gen_square_512.jpg", "gen_progressive.jpg", "gen_444.jpg",
        "gen_cmyk.jpg", "gen_gray.png", "gen_gray.jpg", "gen_rgba.png", "gen_la.png", "gen_palette.png",
        "gen_palette_4bit.png", "gen_1bit.png", "gen_gray16.png", "gen_rgb16.png", "gen_interlaced.png",
        "gen_tiny.png"})
    images.push_back(gen / name);
  // Palette and bilevel files from the photo packages, when present.
  for (const char* name : {"palette_color.png", "palette_gray.png", "checker_bilevel.png", "foo3x5x4indexed.png"})
    if (auto p = testing::find_photo(name); !p.empty()) images.push_back(p);
  decode_and_compare(images);
}

TEST(DecodeImage, ReportsWhatTheFileHeld) {
  const fs::path gen = testing::generated_images();
  const std::pair<const char*, const char*> expected[] = {
      {"gen_rgb_odd.png", "RGB"}, {"gen_gray.jpg", "L"},       {"gen_cmyk.jpg", "CMYK"},
      {"gen_rgba.png", "RGBA"},   {"gen_la.png", "LA"},        {"gen_palette.png", "P"},
      {"gen_1bit.png", "1"},      {"gen_gray16.png", "I;16"}, {"gen_rgb16.png", "RGB;16"},
  };
  for (const auto& [name, mode] : expected) {
    auto img = decode_image(gen / name);
    ASSERT_TRUE(img.ok()) << name << ": " << img.error().message;
    EXPECT_EQ(img->source_mode, mode) << name;
    EXPECT_EQ(img->source_format, fs::path(name).extension() == ".png" ? "png" : "jpeg") << name;
  }
  auto tiny = decode_image(gen / "gen_tiny.png");
  ASSERT_TRUE(tiny.ok());
  EXPECT_EQ(tiny->width, 3);
  EXPECT_EQ(tiny->height, 2);
}

TEST(DecodeImage, BrokenFilesGiveOneLineErrorsNamingTheFile) {
  const fs::path gen = testing::generated_images();
  const std::pair<const char*, const char*> cases[] = {
      {"bad_truncated.jpg", "truncated JPEG data"},
      {"bad_truncated.png", "truncated PNG data"},
      {"bad_corrupt.png", "invalid PNG data"},
      {"bad_header_only.jpg", "truncated JPEG data"},
      {"bad_text.png", "not a JPEG or PNG file"},
      {"bad_empty.jpg", "empty file"},
      {"bad_gif.png", "GIF images are not supported"},
      {"bad_huge.png", "image is 100000x100000, more than the 178956970 pixels allowed"},
  };
  for (const auto& [name, reason] : cases) {
    const fs::path path = gen / name;
    auto img = decode_image(path);
    ASSERT_FALSE(img.ok()) << name << " decoded";
    const std::string& msg = img.error().message;
    EXPECT_NE(msg.find(std::string("'").append(path.string()).append("'")), std::string::npos) << msg;
    EXPECT_NE(msg.find(reason), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  // skimage ships a truncated JPEG of its own.
  if (auto p = testing::find_photo("truncated.jpg"); !p.empty()) {
    auto img = decode_image(p);
    ASSERT_FALSE(img.ok());
    EXPECT_NE(img.error().message.find("truncated JPEG data"), std::string::npos) << img.error().message;
  }
  auto missing = decode_image(gen / "no_such_file.jpg");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("no_such_file.jpg"), std::string::npos) << missing.error().message;
}

TEST(DecodeImage, EveryPrefixOfAFileFailsCleanly) {
  // Cut a JPEG and a PNG at many lengths: each must fail with an error (or, for a cut inside
  // trailing bytes after the image end, succeed), never crash or hang.
  const fs::path gen = testing::generated_images();
  for (const char* name : {"gen_portrait.jpg", "gen_progressive.jpg", "gen_interlaced.png", "gen_palette.png"}) {
    std::ifstream in(gen / name, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_GT(bytes.size(), 100U);
    int failures = 0;
    for (std::size_t len = 0; len < bytes.size(); len += 1 + len / 16) {
      auto img = decode_image_bytes(std::string_view(bytes).substr(0, len), name);
      if (!img.ok()) {
        ++failures;
        EXPECT_NE(img.error().message.find(name), std::string::npos) << img.error().message;
      }
    }
    EXPECT_GT(failures, 10) << name;
    EXPECT_TRUE(decode_image_bytes(bytes, name).ok()) << name;
  }
}

TEST(DecodeImage, CorruptedBytesNeverCrash) {
  const fs::path gen = testing::generated_images();
  for (const char* name : {"gen_square_512.jpg", "gen_rgb_odd.png"}) {
    std::ifstream in(gen / name, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::uint32_t state = 12345;
    for (int round = 0; round < 200; ++round) {
      std::string copy = bytes;
      for (int k = 0; k < 8; ++k) {
        state = state * 1664525U + 1013904223U;
        const std::size_t pos = 2 + state % (copy.size() - 2);
        copy[pos] = static_cast<char>(copy[pos] ^ static_cast<char>(1 + (state >> 24) % 255));
      }
      auto img = decode_image_bytes(copy, name);
      if (img.ok()) {
        EXPECT_EQ(img->rgb.size(), static_cast<std::size_t>(img->width) * img->height * 3);
      } else {
        EXPECT_EQ(img.error().message.find('\n'), std::string::npos);
      }
    }
  }
}

TEST(ListImageFiles, SortedJpegAndPngOnly) {
  testing::ScratchDir scratch;
  const fs::path d = scratch.path();
  for (const char* name : {"b.png", "a.JPG", "c.jpeg", "notes.txt", "d.gif", "e.Png"}) std::ofstream(d / name) << "x";
  fs::create_directory(d / "sub.jpg");  // a folder, not a file
  auto files = list_image_files(d);
  ASSERT_TRUE(files.ok()) << files.error().message;
  std::vector<std::string> names;
  for (const auto& f : *files) names.push_back(f.filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"a.JPG", "b.png", "c.jpeg", "e.Png"}));

  auto missing = list_image_files(d / "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("nope"), std::string::npos);
}

}  // namespace
}  // namespace modelkit::image
