// preprocessor_config.json -> FeatureExtractorConfig: one row per feature extractor class with
// its own defaults for absent fields (transformers' __init__ signatures), and range checks so a
// hostile file cannot ask for absurd FFT sizes or frame counts.
#include <modelkit/audio.hpp>

#include "util/file.hpp"
#include "util/json_read.hpp"

#include <cmath>

namespace modelkit::audio {
namespace {

struct ExtractorRow {
  std::string_view type;
  ExtractorKind kind;
  int feature_size;
  bool do_normalize;
};

// Classes whose features are the same recipe share a row (HuBERT, WavLM, Data2VecAudio and
// UniSpeech checkpoints all name Wav2Vec2FeatureExtractor).
constexpr ExtractorRow kExtractors[] = {
    {"Wav2Vec2FeatureExtractor", ExtractorKind::wav2vec2, 1, true},
    {"WhisperFeatureExtractor", ExtractorKind::whisper, 80, false},
    {"ASTFeatureExtractor", ExtractorKind::ast, 1, true},
};

std::string known_types() {
  std::string s;
  for (const auto& row : kExtractors) s += (s.empty() ? "" : ", ") + std::string(row.type);
  return s;
}

Error field_error(std::string_view field, std::string_view message) {
  return failure("field '" + std::string(field) + "' " + std::string(message));
}

// An integer field in [lo, hi]; whole-number doubles (16000.0) are accepted.
Result<void> read_int(simdjson::dom::object obj, std::string_view key, int lo, int hi, int& out) {
  simdjson::dom::element e;
  if (obj.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return {};
  double v = 0;
  if (e.get_double().get(v) != simdjson::SUCCESS)
    return field_error(key, "must be a number, got " + std::string(util::json_type_name(e)));
  if (v != std::floor(v) || v < lo || v > hi)
    return field_error(key, "must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) +
                                ", got " + simdjson::to_string(e));
  out = static_cast<int>(v);
  return {};
}

Result<void> read_number(simdjson::dom::object obj, std::string_view key, double& out) {
  MODELKIT_TRY(auto v, util::optional_number(obj, key));
  if (!v) return {};
  if (!std::isfinite(*v)) return field_error(key, "must be finite");
  out = *v;
  return {};
}

Result<void> read_bool(simdjson::dom::object obj, std::string_view key, bool& out) {
  MODELKIT_TRY(auto v, util::optional_bool(obj, key));
  if (v) out = *v;
  return {};
}

Result<FeatureExtractorConfig> parse(simdjson::dom::element root) {
  simdjson::dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS)
    return failure("expected a JSON object, got " + std::string(util::json_type_name(root)));
  MODELKIT_TRY(auto type, util::optional_string(obj, "feature_extractor_type"));
  if (!type) {
    auto image = util::optional_string(obj, "image_processor_type");
    if (image && *image)
      return failure("names image processor '" + std::string(**image) + "', not an audio feature extractor");
    return failure("field 'feature_extractor_type' is missing; expected one of " + known_types());
  }
  FeatureExtractorConfig c;
  c.extractor_type = std::string(*type);
  const ExtractorRow* row = nullptr;
  for (const auto& r : kExtractors)
    if (r.type == c.extractor_type) row = &r;
  if (!row)
    return failure("feature extractor '" + c.extractor_type + "' is not one modelkit reproduces (" + known_types() +
                   ")");
  c.kind = row->kind;
  c.feature_size = row->feature_size;
  c.do_normalize = row->do_normalize;

  MODELKIT_TRY_VOID(read_int(obj, "sampling_rate", kMinSampleRate, kMaxSampleRate, c.sampling_rate));
  MODELKIT_TRY_VOID(read_int(obj, "feature_size", 1, 1024, c.feature_size));
  double padding = 0;
  MODELKIT_TRY_VOID(read_number(obj, "padding_value", padding));
  c.padding_value = static_cast<float>(padding);
  MODELKIT_TRY_VOID(read_bool(obj, "do_normalize", c.do_normalize));
  MODELKIT_TRY_VOID(read_bool(obj, "return_attention_mask", c.return_attention_mask));

  switch (c.kind) {
    case ExtractorKind::wav2vec2:
      if (c.feature_size != 1)
        return field_error("feature_size", "must be 1 for Wav2Vec2FeatureExtractor (one value per sample), got " +
                                               std::to_string(c.feature_size));
      break;
    case ExtractorKind::whisper: {
      MODELKIT_TRY_VOID(read_int(obj, "n_fft", 16, 65536, c.n_fft));
      MODELKIT_TRY_VOID(read_int(obj, "hop_length", 1, 65536, c.hop_length));
      MODELKIT_TRY_VOID(read_int(obj, "chunk_length", 1, 600, c.chunk_length));
      if (c.feature_size != 80 && c.feature_size != 128)
        c.notes.push_back("WhisperFeatureExtractor with " + std::to_string(c.feature_size) +
                          " mel bins (Whisper checkpoints use 80 or 128)");
      // Whisper always returns a mask, and needs it to normalize over the real samples.
      if (c.do_normalize) c.return_attention_mask = true;
      double dither = 0;
      MODELKIT_TRY_VOID(read_number(obj, "dither", dither));
      if (dither != 0)
        c.notes.push_back("dither " + std::to_string(dither) +
                          " is not applied: calibration features are computed without random noise");
      break;
    }
    case ExtractorKind::ast: {
      MODELKIT_TRY_VOID(read_int(obj, "num_mel_bins", 1, 1024, c.num_mel_bins));
      MODELKIT_TRY_VOID(read_int(obj, "max_length", 1, 100000, c.max_length));
      MODELKIT_TRY_VOID(read_number(obj, "mean", c.mean));
      MODELKIT_TRY_VOID(read_number(obj, "std", c.std));
      if (c.do_normalize && c.std == 0) return field_error("std", "must not be 0 when do_normalize is true");
      // Kaldi's 25 ms window must hold at least one sample and fit its FFT size computation.
      if (c.sampling_rate < 1000) return field_error("sampling_rate", "is too low for a 25 ms Kaldi window");
      break;
    }
  }
  return c;
}

}  // namespace

std::string_view extractor_kind_name(ExtractorKind kind) {
  switch (kind) {
    case ExtractorKind::wav2vec2: return "wav2vec2";
    case ExtractorKind::whisper: return "whisper";
    case ExtractorKind::ast: return "ast";
  }
  return "unknown";
}

std::string_view FeatureExtractorConfig::input_name() const {
  return kind == ExtractorKind::whisper ? "input_features" : "input_values";
}

Result<FeatureExtractorConfig> FeatureExtractorConfig::from_json(std::string_view text) {
  simdjson::dom::parser parser;
  MODELKIT_TRY(auto root, util::parse_json(parser, text));
  return parse(root);
}

Result<FeatureExtractorConfig> FeatureExtractorConfig::from_file(const std::filesystem::path& path) {
  MODELKIT_TRY(auto text, util::read_file(path, std::uint64_t{16} << 20));
  MODELKIT_TRY_CTX(auto config, from_json(text), path.string());
  return config;
}

}  // namespace modelkit::audio
