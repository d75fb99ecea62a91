// The exporter's audio encoders: Wav2Vec2, HuBERT and WavLM (raw waveform in) with their base,
// CTC, sequence- and frame-classification heads, and the Whisper encoder (log-mel in). Built from
// standard ONNX ops (audio_encoder.cpp); export.cpp dispatches here by model_type.
#pragma once

#include "export/graph.hpp"

#include <modelkit/model.hpp>
#include <modelkit/result.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace modelkit::exporter {

enum class AudioHead { base, ctc, sequence_classification, frame_classification, encoder };

struct AudioFamily;  // audio_encoder.cpp

struct AudioPlan {
  const AudioFamily* family = nullptr;
  AudioHead head = AudioHead::base;
  std::string model_type;
  std::string model_class;
  std::string head_name;      // "base", "ctc", "sequence-classification", "frame-classification", "encoder"
  std::string component;      // "encoder" when only the encoder of an encoder-decoder checkpoint is exported
  std::string model_file = "model.onnx";  // file name inside a folder output (Whisper: encoder_model.onnx)
  bool attention_mask = false;  // the graph takes `attention_mask` (the processor returns one)
};

// Whether model_type is one of the audio families (wav2vec2, hubert, wavlm, whisper).
[[nodiscard]] bool is_audio_model_type(std::string_view model_type);

// The plan for a resolved audio model, or why it does not export (naming the classes that do).
// `folder` is the checkpoint folder (its preprocessor_config.json decides the attention mask).
[[nodiscard]] Result<AudioPlan> audio_plan(const ResolvedModel& model);

// Builds the graph; returns the weight source to write from (the checkpoint's, wrapped so that
// weight-normalized convolutions read as one plain weight). Errors name config fields.
[[nodiscard]] Result<std::unique_ptr<WeightSource>> build_audio_graph(GraphBuilder& g, const AudioPlan& plan,
                                                                      std::string_view config_json,
                                                                      std::unique_ptr<WeightSource> source,
                                                                      RandomWeights* random);

// "wav2vec2: Wav2Vec2Model, ..." lines for supported_export_classes().
[[nodiscard]] std::vector<std::string> audio_export_classes();

}  // namespace modelkit::exporter
