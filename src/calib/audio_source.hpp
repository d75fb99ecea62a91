// The audio calibration source (audio_source.cpp), as select_source() builds it.
#pragma once

#include <modelkit/calib_sources.hpp>

namespace modelkit::calib {

struct AudioSourceBuild {
  std::unique_ptr<SampleSource> source;
  std::string data_source;  // for the manifest: "embedded default audio (...)" or the path given
  int available = 0;        // samples the source yields
  std::vector<std::string> notes;
};

// Audio from --calibration-data (a folder of audio files, a .txt list of paths, or one audio
// file) or the embedded default clips, decoded, resampled and turned into the model's input:
// through preprocessor_config.json's feature extractor when the checkpoint has one, else as a
// raw waveform for a model with a raw-audio input (onnx's find_raw_audio_input). Files that
// cannot be decoded are skipped and named (skipped_inputs); errors when none is left.
[[nodiscard]] Result<AudioSourceBuild> build_audio_source(const SourceRequest& request);

// Why a model the plan would calibrate on random inputs takes audio instead (it has a raw-audio
// input), or nullopt.
[[nodiscard]] std::optional<std::string> raw_audio_kind_reason(const std::vector<onnx::ValueInfo>& model_inputs);

// The element type the audio source makes for an input it produces (float waveform or
// features; int64 masks and sample rates), for the manifest's list of casts.
[[nodiscard]] ElementType audio_produced_type(std::string_view input_name);

}  // namespace modelkit::calib
