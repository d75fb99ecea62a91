// Helpers for the image tests: running scripts/image_reference.py (PIL + numpy under Debian's
// /usr/bin/python3), reading the arrays it writes, and finding the test images: real photos
// unpacked by scripts/setup.d/50-images.sh, and generated images in every format variant.
#pragma once

#include <modelkit/image.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace modelkit::image::testing {

namespace fs = std::filesystem;
using ScratchDir = modelkit::test::TempDir;
using modelkit::test::run_command;
using modelkit::test::shell_quote;

inline const char* python() { return "/usr/bin/python3"; }
inline fs::path reference_script() { return fs::path(MODELKIT_SOURCE_DIR) / "scripts" / "image_reference.py"; }

// The reference needs python3-pil and python3-numpy; their absence is a failure, not a skip:
// scripts/setup.sh installs them.
inline void require_reference() {
  static const std::optional<std::string> missing =
      run_command(std::string(python()) + " -c 'import PIL, numpy'");
  ASSERT_FALSE(missing.has_value()) << "the image reference needs Debian's python3-pil and python3-numpy "
                                       "(run scripts/setup.sh):\n"
                                    << *missing;
}


// An array written by the reference: "u8|f32 dims...\n" then raw little-endian data.
struct RefArray {
  std::string dtype;
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> u8;
  std::vector<float> f32;
};

inline RefArray read_ref_array(const fs::path& path) {
  RefArray a;
  std::ifstream in(path, std::ios::binary);
  std::string header;
  std::getline(in, header);
  std::istringstream h(header);
  h >> a.dtype;
  std::int64_t d = 0;
  std::size_t count = 1;
  while (h >> d) {
    a.shape.push_back(d);
    count *= static_cast<std::size_t>(d);
  }
  if (a.dtype == "u8") {
    a.u8.resize(count);
    in.read(reinterpret_cast<char*>(a.u8.data()), static_cast<std::streamsize>(count));
  } else {
    a.f32.resize(count);
    in.read(reinterpret_cast<char*>(a.f32.data()), static_cast<std::streamsize>(count * 4));
  }
  return a;
}

// Jobs for one reference run (one python process for all of them).
class ReferenceBatch {
 public:
  explicit ReferenceBatch(fs::path dir) : dir_(std::move(dir)) {}

  fs::path rgb(const fs::path& image) { return add("{\"op\": \"rgb\", \"image\": " + q(image.string())); }
  fs::path resize(const fs::path& image, int width, int height, Resample r) {
    return add("{\"op\": \"resize\", \"image\": " + q(image.string()) + ", \"width\": " + std::to_string(width) +
               ", \"height\": " + std::to_string(height) + ", \"resample\": " + std::to_string(static_cast<int>(r)));
  }
  fs::path preprocess(const fs::path& image, const fs::path& config) {
    return add("{\"op\": \"preprocess\", \"image\": " + q(image.string()) + ", \"config\": " + q(config.string()));
  }

  // Runs every job; the returned paths are then readable with read_ref_array.
  [[nodiscard]] std::optional<std::string> run() {
    const fs::path jobs = dir_ / "jobs.json";
    std::ofstream(jobs) << "[\n" << jobs_ << "\n]\n";
    return run_command(std::string(python()) + " " + shell_quote(reference_script().string()) + " batch " +
                       shell_quote(jobs.string()));
  }

 private:
  static std::string q(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out + "\"";
  }
  fs::path add(const std::string& job_prefix) {
    const fs::path out = dir_ / ("ref-" + std::to_string(count_++) + ".bin");
    if (!jobs_.empty()) jobs_ += ",\n";
    jobs_ += job_prefix + ", \"out\": " + q(out.string()) + "}";
    return out;
  }
  fs::path dir_;
  std::string jobs_;
  int count_ = 0;
};

// Generated images (scripts/image_reference.py make-images), made once per build tree and
// shared by the test processes; regenerated when the script changes.
inline fs::path generated_images() {
  const fs::path dir = fs::path(MODELKIT_BINARY_DIR) / "image-test-images";
  const auto stamp_value = std::to_string(fs::file_size(reference_script())) + " " +
                           std::to_string(fs::last_write_time(reference_script()).time_since_epoch().count());
  {
    std::ifstream in(dir / "STAMP");
    std::string have;
    std::getline(in, have);
    if (have == stamp_value) return dir;
  }
  const fs::path tmp = dir.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp);
  auto err = run_command(std::string(python()) + " " + shell_quote(reference_script().string()) + " make-images " +
                         shell_quote(tmp.string()));
  if (err) {
    ADD_FAILURE() << *err;
    return dir;
  }
  std::ofstream(tmp / "STAMP") << stamp_value << "\n";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::rename(tmp, dir, ec);  // another test process may have won the race; theirs is as good
  if (ec) fs::remove_all(tmp, ec);
  return dir;
}

// Real photographs from Debian packages (skimage's and matplotlib's sample data), looked for
// where setup unpacks them and where the packages install them.
inline fs::path find_photo(const std::string& name) {
  const fs::path candidates[] = {
      fs::path(MODELKIT_DEPS_DIR) / "images" / "skimage" / name,
      fs::path(MODELKIT_DEPS_DIR) / "images" / "matplotlib" / name,
      fs::path("/usr/lib/python3/dist-packages/skimage/data") / name,
      fs::path("/usr/share/matplotlib/mpl-data/sample_data") / name,
  };
  for (const auto& c : candidates)
    if (fs::exists(c)) return c;
  return {};
}

// The photos the tests use, each with what it covers; missing ones fall back to generated
// images with a printed note (setup unpacks them: scripts/setup.d/50-images.sh).
inline std::vector<fs::path> photos_or_generated() {
  static const char* const names[] = {
      "astronaut.png",          // RGB 512x512
      "chelsea.png",            // RGB 451x300, landscape, odd width
      "coffee.png",             // RGB 600x400
      "camera.png",             // greyscale 512x512
      "horse.png",              // RGBA 400x328
      "logo.png",               // RGBA 500x500
      "green_palette.png",      // palette 320x240
      "rocket.jpg",             // JPEG 640x427
      "hubble_deep_field.jpg",  // JPEG 1000x872
      "grace_hopper.jpg",       // JPEG portrait 512x600
      "microaneurysms.png",     // greyscale 102x102 (upscaled by every processor)
  };
  std::vector<fs::path> out;
  std::vector<std::string> missing;
  for (const char* n : names) {
    fs::path p = find_photo(n);
    if (p.empty()) missing.emplace_back(n);
    else out.push_back(p);
  }
  if (!missing.empty()) {
    std::cerr << "note: " << missing.size() << " sample photos not found (run scripts/setup.sh); "
              << "using generated images in their place\n";
    const fs::path gen = generated_images();
    for (const char* g : {"gen_rgb_odd.png", "gen_portrait.jpg", "gen_square_512.jpg", "gen_gray.png",
                          "gen_rgba.png", "gen_palette.png"})
      out.push_back(gen / g);
  }
  return out;
}

}  // namespace modelkit::image::testing
