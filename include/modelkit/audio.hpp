// Audio for calibration: decoding files (WAV, FLAC, OGG/Vorbis, MP3 through libsndfile) to mono
// float samples, resampling (libsoxr), and the feature extractors of Hugging Face checkpoints
// (preprocessor_config.json's feature_extractor_type), reproducing what transformers computes:
// Wav2Vec2 (normalized waveform), Whisper (log-mel spectrogram) and AST (Kaldi fbank).
#pragma once

#include <modelkit/result.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace modelkit::audio {

// Decoding reads at most this much of a file unless told otherwise: it bounds memory (mono
// float at 48 kHz: about 110 MiB) whatever the file claims.
inline constexpr double kDefaultMaxSeconds = 600.0;
// Sample rates outside this range are refused as corrupt headers.
inline constexpr int kMinSampleRate = 1000;
inline constexpr int kMaxSampleRate = 768000;
inline constexpr int kMaxChannels = 64;
// And never more than this many mono samples (64 MiB of floats), whatever the duration cap.
inline constexpr std::int64_t kMaxDecodedSamples = std::int64_t{1} << 24;

// Mono audio: channels averaged, samples in [-1, 1] for integer formats (float files as stored).
struct Audio {
  int sample_rate = 0;
  std::vector<float> samples;
  int source_channels = 0;     // channels in the file before the mix-down
  std::string source_format;   // "WAV PCM 16", "FLAC PCM 24", "OGG Vorbis", "MPEG layer III", ...
  bool truncated = false;      // the file was longer than the cap and only its start was read
  double source_seconds = 0;   // the duration the file declares (before any cap)
};

// Decodes an audio file (format chosen from its contents by libsndfile), mixing its channels down
// to mono and reading at most max_seconds. Errors are one line naming the file:
// "'x.wav': not a readable audio file (Format not recognised.)", "'y.wav': empty audio (0 samples)".
[[nodiscard]] Result<Audio> decode_audio(const std::filesystem::path& path, double max_seconds = kDefaultMaxSeconds);

// Same from memory; `name` stands for the file in error messages.
[[nodiscard]] Result<Audio> decode_audio_bytes(std::string_view bytes, std::string_view name,
                                               double max_seconds = kDefaultMaxSeconds);

// Resamples mono samples with libsoxr at high quality (what librosa's default "soxr_hq" uses).
// Returns the input unchanged when the rates match.
[[nodiscard]] Result<std::vector<float>> resample(std::span<const float> samples, int from_rate, int to_rate);

// decode_audio + resample to `sample_rate`.
[[nodiscard]] Result<Audio> load_audio(const std::filesystem::path& path, int sample_rate,
                                       double max_seconds = kDefaultMaxSeconds);

// Audio files (.wav, .flac, .ogg, .oga, .mp3, any letter case) directly inside `dir`, sorted by name.
[[nodiscard]] Result<std::vector<std::filesystem::path>> list_audio_files(const std::filesystem::path& dir);
// A .txt list of audio paths, one a line (blank lines and lines starting with '#' skipped);
// relative paths are relative to the list's folder. Errors name the list and the line.
[[nodiscard]] Result<std::vector<std::filesystem::path>> read_audio_list(const std::filesystem::path& list);

// ------------------------------------------------------------------ feature extractors

enum class ExtractorKind {
  wav2vec2,  // Wav2Vec2FeatureExtractor: input_values = the (normalized) waveform
  whisper,   // WhisperFeatureExtractor: input_features = log-mel [n_mels, frames]
  ast,       // ASTFeatureExtractor: input_values = Kaldi fbank [frames, mel bins], normalized
};
[[nodiscard]] std::string_view extractor_kind_name(ExtractorKind kind);

struct FeatureExtractorConfig {
  std::string extractor_type;  // feature_extractor_type as written
  ExtractorKind kind = ExtractorKind::wav2vec2;
  int sampling_rate = 16000;
  int feature_size = 1;            // Whisper: mel bins (80 or 128)
  float padding_value = 0.0F;
  bool do_normalize = true;        // Wav2Vec2 (default true), Whisper (default false), AST (default true)
  bool return_attention_mask = false;
  // Whisper
  int n_fft = 400;
  int hop_length = 160;
  int chunk_length = 30;           // seconds; the waveform is padded/trimmed to chunk_length * sampling_rate
  // AST
  int num_mel_bins = 128;
  int max_length = 1024;           // frames
  double mean = -4.2677393;
  double std = 4.5689974;
  // What was not taken literally (unknown fields that change features, ...). Shown as warnings.
  std::vector<std::string> notes;

  // Reads preprocessor_config.json. Errors name the field:
  // "field 'feature_size' must be 80 or 128 for WhisperFeatureExtractor, got 64".
  [[nodiscard]] static Result<FeatureExtractorConfig> from_file(const std::filesystem::path& path);
  [[nodiscard]] static Result<FeatureExtractorConfig> from_json(std::string_view text);
  // The name of the model input the extractor fills ("input_values" or "input_features").
  [[nodiscard]] std::string_view input_name() const;
};

// One utterance's features, batch of one.
struct Features {
  std::string name;                  // input_values | input_features
  std::vector<std::int64_t> shape;   // [1, samples] | [1, n_mels, frames] | [1, frames, bins]
  std::vector<float> data;
  std::vector<std::int64_t> attention_mask;  // [1, shape[1]] when the config returns one, else empty
};

// Runs a feature extractor on mono samples already at config.sampling_rate. Holds its FFT plan and
// filter bank, made once: extract() may be called from several threads at a time.
class FeatureExtractor {
 public:
  [[nodiscard]] static Result<FeatureExtractor> create(const FeatureExtractorConfig& config);
  FeatureExtractor(FeatureExtractor&&) noexcept;
  FeatureExtractor& operator=(FeatureExtractor&&) noexcept;
  ~FeatureExtractor();

  [[nodiscard]] const FeatureExtractorConfig& config() const;
  // Wav2Vec2: `target_samples` > 0 pads (with padding_value) or truncates the waveform to that
  // length (a model with a static input length); 0 keeps it as it is.
  [[nodiscard]] Result<Features> extract(std::span<const float> samples, std::int64_t target_samples = 0) const;
  // How many samples one utterance of the extractor spans before padding/trimming: Whisper's
  // chunk, AST's max_length frames; 0 for Wav2Vec2 (any length).
  [[nodiscard]] std::int64_t natural_samples() const;

  struct Impl;

 private:
  explicit FeatureExtractor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The filter banks, exposed for the tests: transformers' mel_filter_bank with Slaney scale and
// norm ([n_fft/2+1][n_mels], row-major), and Kaldi's triangular bins on its mel scale
// ([num_bins][padded/2 + 1], the last column zero).
[[nodiscard]] std::vector<double> slaney_mel_filters(int n_fft, int n_mels, int sampling_rate, double min_hz,
                                                     double max_hz);
[[nodiscard]] std::vector<double> kaldi_mel_banks(int num_bins, int padded_window, int sampling_rate,
                                                  double low_hz, double high_hz);

}  // namespace modelkit::audio
