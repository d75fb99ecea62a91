// The embedded default calibration audio: data/audio/*.wav (see its README.md), compiled in by
// src/calib/CMakeLists.txt through cmake/embed_files.cmake.
#include <modelkit/calib_sources.hpp>

namespace modelkit::calib {
namespace {
#include "default_audio_clips.inc"
}  // namespace

std::vector<DefaultAudioClip> default_audio_clips() {
  std::vector<DefaultAudioClip> out;
  for (const auto& f : kEmbeddedFiles) out.push_back({f.name, std::string_view(f.data, f.size)});
  return out;
}

}  // namespace modelkit::calib
