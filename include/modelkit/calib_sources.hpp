// Calibration sources (docs/design.md, "Calibration data"): one per CalibrationKind
// (settings.hpp) — text through the checkpoint's own tokenizer, images through its
// preprocessor, audio through its feature extractor or as a raw waveform (audio_source.cpp),
// random inputs from the ONNX model's input specs.
// Data the user names (--calibration-data) is a contract: its kind decides the source, and
// any failure to use it (missing, unreadable, wrong column, a kind no source reads, no model
// input it can feed) is an error. Only for data modelkit chose itself does the fallback to
// random apply: when (1) the task has no dataset kind, (2) the chosen source cannot be
// built, or (3) the names it produces do not meet the model's inputs. Every fallback is
// recorded with its reason.
#pragma once

#include <modelkit/calibration.hpp>
#include <modelkit/onnx.hpp>
#include <modelkit/random_inputs.hpp>
#include <modelkit/result.hpp>
#include <modelkit/settings.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace modelkit::calib {

// Which columns of a .jsonl/.csv/.tsv file hold the text and the optional second text.
struct TextColumns {
  std::optional<std::string> text;  // default "text"
  std::optional<std::string> pair;  // default "text_pair" when the file has it
};

// What a --calibration-data path holds, judged from the path (extension, folder contents):
// "text" (.txt .jsonl .csv .tsv), "image" (a folder of .jpg/.jpeg/.png), "audio" (.wav .flac
// .mp3 .ogg, or a folder of them). Errors when the path is missing or holds none of these.
[[nodiscard]] Result<std::string> data_kind_of(const std::filesystem::path& path);

// Images for models that are not Hugging Face exports (--image-input, --layout, --image-mean,
// --image-std, --rescale, --bgr, --resize-mode; ImageLayout and ResizeMode are settings.hpp
// tables). A flag given overrides the matching field of a
// preprocessor_config.json; without one, pixels are rescaled by 1/255 to [0, 1], mean 0, std 1.
struct ImageOptions {
  std::optional<std::string> input;  // the input to feed; default pixel_values, else the one input shaped like an image
  std::optional<ImageLayout> layout;  // default: from the input's shape
  std::optional<std::array<float, 3>> mean;
  std::optional<std::array<float, 3>> std;
  std::optional<double> rescale;  // factor applied to 0..255 values
  bool bgr = false;
  std::optional<ResizeMode> resize_mode;  // default stretch
};

struct SourceRequest {
  CalibrationKind kind = CalibrationKind::random;  // the plan's choice
  std::string kind_reason;                    // why the plan chose it
  std::optional<std::filesystem::path> data;  // --calibration-data: .txt, .jsonl, .csv, .tsv, an image or audio folder
  std::filesystem::path checkpoint_folder;    // tokenizer.json / preprocessor_config.json live here
  std::vector<onnx::ValueInfo> model_inputs;  // the ONNX model's inputs
  InputHints hints;                           // vocab_size, image_size, ... from config.json
  int samples = 100;
  int sequence_length = 128;                  // used when the model's sequence dim is symbolic
  std::uint64_t seed = 0;
  std::vector<InputShape> input_shapes;       // --input-shape overrides for random inputs
  std::optional<int> sample_rate;             // --sample-rate: raw-audio models' rate (default 16000)
  TextColumns columns;                        // --text-column / --pair-column
  ImageOptions image;                         // image input, layout and preprocessing flags
};

// What calibration actually used; goes into the build manifest.
struct CalibrationRecord {
  std::string requested_kind;                  // setting_name of the plan's CalibrationKind
  std::string kind;                            // the kind used (the data's own when the user named data)
  bool user_data = false;                      // --calibration-data was given
  std::optional<std::string> fallback_reason;  // set when kind != requested_kind
  std::string data_source;                     // "embedded default text (120 lines)", a path, ...
  int samples = 0;                             // what the source can yield (capped at the request)
  int requested_samples = 0;                   // what was asked for (calibration + validation)
  std::uint64_t seed = 0;
  std::vector<std::string> dropped_inputs;     // produced by the source, not inputs of the model
  std::vector<std::string> filled_inputs;      // inputs of the model filled from the random source
  std::vector<std::string> casts;              // "input_ids int64 -> int32"
  std::vector<std::string> notes;              // processor notes, data notes
  std::vector<RandomInputRecord> random_inputs;  // how random tensors were made (first sample)
};

struct SelectedSource {
  std::unique_ptr<SampleSource> source;  // yields samples conformed to the model's inputs
  CalibrationRecord record;
  // Warnings to show the user (every fallback is one).
  std::vector<std::string> warnings;
};

// Builds the source for a request, applying the fallback rules. Errors when the user's data
// cannot be used (see above), or when even the random source cannot be built (e.g. an input of
// unknown rank).
[[nodiscard]] Result<SelectedSource> select_source(const SourceRequest& request);

// The default calibration photographs, compiled into the library (data/images/README.md:
// sources and licences): a file name and the JPEG bytes.
struct EmbeddedImage {
  std::string_view name;
  std::string_view bytes;
};
[[nodiscard]] std::span<const EmbeddedImage> default_images();

// The embedded default calibration text: varied sentences (domains, languages, scripts).
[[nodiscard]] std::vector<std::string> default_texts();

// The embedded default calibration audio (data/audio/*.wav compiled in): name and file bytes.
struct DefaultAudioClip {
  std::string_view name;
  std::string_view bytes;
};
[[nodiscard]] std::vector<DefaultAudioClip> default_audio_clips();

// Reads --calibration-data text: .txt one sample per line (empty lines skipped); .jsonl one
// object per line; .csv (RFC 4180 quoting) and .tsv (tab-separated, no quoting, as GLUE ships
// it) with a header row. The text comes from columns.text (default "text"), the optional second
// text from columns.pair (default "text_pair" when present). A named column that is missing is
// an error listing the columns there are. Errors name the file and line.
struct TextSample {
  std::string text;
  std::optional<std::string> pair;
};
// Calibration needs `max_samples` samples of a fixed token length: reading stops after that many
// and each text (and text_pair) is cut to `max_chars` characters before tokenizing, so one
// 100 MB line costs no more than a short one. The file is read a line at a time.
struct TextReadLimits {
  std::size_t max_samples = static_cast<std::size_t>(-1);
  std::size_t max_chars = static_cast<std::size_t>(-1);
};
// Characters of text kept per calibration sample for a sequence length: a token rarely spans
// more than a word, so this many characters make far more tokens than the sequence holds.
inline constexpr std::size_t kCalibrationCharsPerToken = 64;
// Samples cut to `max_chars` are counted in `*cut_count` when given.
[[nodiscard]] Result<std::vector<TextSample>> read_text_samples(const std::filesystem::path& path,
                                                                const TextColumns& columns = {},
                                                                const TextReadLimits& limits = {},
                                                                std::size_t* cut_count = nullptr);

}  // namespace modelkit::calib
