// Random model inputs from an ONNX model's own input specs (names, element types, shapes), for
// `modelkit perf` and as calibration's universal fallback source (docs/design.md,
// "Calibration data"). Informed by hints where they help:
//   token ids      (*_ids, input_ids)            uniform in [0, bound): the model's own embedding
//                                                 table rows (ValueInfo::index_bound), else vocab_size
//   attention masks (*mask*)                     ones
//   token types    (token_type_ids, segment_ids)  zeros
//   position_ids                                 0, 1, 2, ... along the last axis
//   images         (pixel_values, images, ...)   N(0, 1)
//   audio          (input_values, input_features, audio, waveform, ...)  N(0, 0.1^2) noise; a raw-audio
//                  input (find_raw_audio_input) gets 1 s of samples for its free samples dim
//   sample rates   (sr, sample_rate, sampling_rate)  sampling_rate hint, else 16000
//   anything else  floats N(0, 1); integers uniform in [0, index_bound) if known, else zeros;
//                  bools false
// Symbolic dims: a dims hint by exact name first; batch-like names -> batch_size (1); sequence-
// like names -> sequence_length (128); height/width -> image_size (else 224); channels ->
// num_channels (else 3); spatial dims of a rank-4 float image input -> image_size; others -> 1.
// A dim with neither size nor name, or an input of unknown rank, is an error unless an
// override gives the input's shape. Deterministic for a seed: each input draws from its own
// stream (seed, input name), so overriding one input's shape leaves the others unchanged.
#pragma once

#include <modelkit/onnx.hpp>
#include <modelkit/result.hpp>
#include <modelkit/tensor.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace modelkit {

// Filled by the caller from config.json / preprocessor_config.json where it has them.
struct InputHints {
  std::optional<std::int64_t> vocab_size;
  std::optional<std::int64_t> image_size;     // height = width
  std::optional<std::int64_t> num_channels;
  std::optional<std::int64_t> sampling_rate;  // audio models' scalar sample-rate input
  std::int64_t batch_size = 1;
  std::int64_t sequence_length = 128;
  std::vector<std::pair<std::string, std::int64_t>> dims;  // symbolic dim name -> size, exact match
};

// An explicit input shape: "input_ids=1x128" ("name=" alone is a scalar).
struct InputShape {
  std::string name;
  std::vector<std::int64_t> shape;
};

// Parses "name=1x128" (dims separated by 'x' or ','). Usage errors quote the text.
[[nodiscard]] Result<InputShape> parse_input_shape(std::string_view text);

// What was generated for one input, for reports and manifests.
struct RandomInputRecord {
  std::string name;
  ElementType type = ElementType::undefined;
  std::vector<std::int64_t> shape;
  std::string fill;               // "token ids uniform in [0, 1000) (the model's embedding rows)"
  std::vector<std::string> dims;  // one per symbolic dim: "batch_size=1 (batch)"
};

struct RandomInputs {
  std::uint64_t seed = 0;
  std::vector<Tensor> tensors;  // in the model's input order
  std::vector<RandomInputRecord> records;
};

[[nodiscard]] Result<RandomInputs> make_random_inputs(std::span<const onnx::ValueInfo> inputs,
                                                      const InputHints& hints,
                                                      std::span<const InputShape> overrides, std::uint64_t seed);

// A model input that takes a raw waveform: a float tensor [samples] or [batch, samples] named like
// audio (audio, waveform, pcm, speech, samples, wav, signal, input_values), or named generically
// (input, x) beside an integer sample-rate input (sr, sample_rate, ...) as Silero VAD is. Exactly
// one input must qualify; otherwise nullopt.
struct RawAudioInput {
  std::string name;
  std::size_t rank = 2;
  std::optional<std::int64_t> static_samples;    // the samples dim when the model fixes it
  std::optional<std::string> sample_rate_input;  // an integer sample-rate input beside it
  std::string reason;  // "input 'input' is float [batch, sequence] beside the sample-rate input 'sr'"
};
[[nodiscard]] std::optional<RawAudioInput> find_raw_audio_input(std::span<const onnx::ValueInfo> inputs);

// IEEE float -> half / bfloat16 bits, round to nearest even (for float16 inputs).
[[nodiscard]] std::uint16_t float_to_half_bits(float f);
[[nodiscard]] std::uint16_t float_to_bfloat16_bits(float f);

}  // namespace modelkit
