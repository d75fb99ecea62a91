// Helpers for the audio tests: scratch folders, writing test files with libsndfile in every
// format the decoder reads, and running scripts/audio_reference.py (numpy, Debian's python3).
#pragma once

#include <modelkit/audio.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <optional>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace modelkit::audio::testing {

namespace fs = std::filesystem;

inline fs::path default_clips_dir() { return fs::path(MODELKIT_SOURCE_DIR) / "data" / "audio"; }

using ScratchDir = modelkit::test::TempDir;
using modelkit::test::shell_quote;

// A sine of `hz` at `rate`, amplitude `amp`.
inline std::vector<float> sine(int rate, double hz, double seconds, double amp = 0.5) {
  std::vector<float> out(static_cast<size_t>(rate * seconds));
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(amp * std::sin(2 * std::numbers::pi * hz * i / rate));
  return out;
}

// Writes interleaved float frames with libsndfile in `format`; false when libsndfile cannot.
inline bool write_sound(const fs::path& path, int format, int rate, int channels, const std::vector<float>& interleaved) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!f) {
    ADD_FAILURE() << "libsndfile cannot write " << path << ": " << sf_strerror(nullptr);
    return false;
  }
  sf_writef_float(f, interleaved.data(), static_cast<sf_count_t>(interleaved.size() / channels));
  sf_close(f);
  return true;
}

using modelkit::test::read_text;
using modelkit::test::write_file;

// Runs scripts/audio_reference.py KIND on `samples`; returns its float32 output and the shape it prints.
struct Reference {
  std::vector<std::int64_t> shape;
  std::vector<float> data;
};
inline std::optional<Reference> run_reference(const std::string& kind, const std::vector<float>& samples,
                                              const std::vector<std::string>& args, const fs::path& scratch) {
  const fs::path in = scratch / "in.f32", out = scratch / "out.f32", shape = scratch / "shape.txt",
                 log = scratch / "log.txt";
  {
    std::ofstream f(in, std::ios::binary);
    f.write(reinterpret_cast<const char*>(samples.data()), static_cast<std::streamsize>(samples.size() * sizeof(float)));
  }
  std::string cmd = "/usr/bin/python3 " + shell_quote((fs::path(MODELKIT_SOURCE_DIR) / "scripts" / "audio_reference.py").string()) +
                    " " + kind + " " + shell_quote(in.string()) + " " + shell_quote(out.string());
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " >" + shell_quote(shape.string()) + " 2>" + shell_quote(log.string());
  if (std::system(cmd.c_str()) != 0) {
    ADD_FAILURE() << "the numpy reference failed (needs Debian's python3-numpy): " << cmd << "\n" << read_text(log);
    return std::nullopt;
  }
  Reference r;
  std::istringstream dims(read_text(shape));
  for (std::int64_t d; dims >> d;) r.shape.push_back(d);
  const std::string bytes = read_text(out);
  r.data.resize(bytes.size() / sizeof(float));
  std::memcpy(r.data.data(), bytes.data(), r.data.size() * sizeof(float));
  return r;
}

}  // namespace modelkit::audio::testing
