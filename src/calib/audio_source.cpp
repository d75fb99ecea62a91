// The audio calibration source. Files are decoded at build time only to count their segments
// (and to name the ones that cannot be decoded); samples are made on demand from a cache of
// decoded files bounded at kCacheSamples (plus the file in use, capped at kMaxSecondsPerFile),
// so memory stays bounded whatever the data. Segments are spread over the files: each file gives an equal share, taken evenly
// along it, before any file gives more.
#include "calib/audio_source.hpp"

#include <modelkit/audio.hpp>

#include "util/strings.hpp"

#include <algorithm>
#include <cmath>
#include <list>
#include <random>

namespace modelkit::calib {
namespace fs = std::filesystem;

namespace {

// Calibration reads at most this much of each file.
constexpr double kMaxSecondsPerFile = 120.0;
// Models that take any length see segments of up to this much audio.
constexpr double kDynamicSegmentSeconds = 5.0;
// A file's last, shorter piece is kept when it holds at least this much (dynamic lengths).
constexpr double kMinSegmentSeconds = 0.1;
constexpr int kDefaultRawSampleRate = 16000;
// Decoded clips kept for reuse: 2^24 samples (64 MiB of floats, 17 min at 16 kHz).
constexpr size_t kCacheSamples = size_t{1} << 24;

constexpr std::string_view kSampleRateNames[] = {"sr", "sample_rate", "sampling_rate", "samplerate", "sample_rates"};

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

const onnx::ValueInfo* find_input(const std::vector<onnx::ValueInfo>& inputs, std::string_view name) {
  for (const auto& in : inputs)
    if (in.name == name) return &in;
  return nullptr;
}

struct Clip {
  std::string name;
  fs::path path;
  std::string_view bytes;  // non-empty: an embedded clip
};

Result<audio::Audio> load_clip(const Clip& clip, int sample_rate) {
  auto decoded = clip.bytes.empty() ? audio::decode_audio(clip.path, kMaxSecondsPerFile)
                                    : audio::decode_audio_bytes(clip.bytes, clip.name, kMaxSecondsPerFile);
  if (!decoded) return decoded.take_error();
  if (decoded->sample_rate != sample_rate) {
    auto resampled = audio::resample(decoded->samples, decoded->sample_rate, sample_rate);
    if (!resampled) return resampled.take_error().with_context("'" + clip.name + "'");
    decoded->samples = std::move(*resampled);
    decoded->sample_rate = sample_rate;
  }
  if (decoded->samples.empty()) return failure("'" + clip.name + "': too short");
  return decoded;
}

struct Segment {
  size_t clip;
  std::int64_t offset;
  std::int64_t length;
};

// How samples become model inputs.
struct Feed {
  std::optional<audio::FeatureExtractor> extractor;  // set: features; unset: the raw waveform
  std::int64_t extractor_target = 0;                 // Wav2Vec2 padded/truncated to the model's length
  std::string raw_input;                             // raw waveform: the model input it fills
  size_t raw_rank = 2;
  std::optional<std::string> rate_input;             // a sample-rate input the source fills too
  int sample_rate = kDefaultRawSampleRate;
  std::int64_t segment = 0;                          // samples per segment
  bool fixed_length = false;                         // the model takes exactly `segment` samples
};

class AudioSource final : public SampleSource {
 public:
  AudioSource(Feed feed, std::vector<Clip> clips, std::vector<Segment> segments, std::vector<std::string> skipped,
              std::string description)
      : feed_(std::move(feed)), clips_(std::move(clips)), segments_(std::move(segments)),
        skipped_(std::move(skipped)), description_(std::move(description)) {}

  Result<std::optional<Sample>> next() override {
    if (pos_ >= segments_.size()) return std::optional<Sample>{};
    const Segment seg = segments_[pos_++];
    MODELKIT_TRY(const std::vector<float>* decoded, samples_of(seg.clip));
    const std::vector<float>& clip_samples = *decoded;
    const auto begin = std::min<std::int64_t>(seg.offset, static_cast<std::int64_t>(clip_samples.size()));
    const auto end = std::min<std::int64_t>(seg.offset + seg.length, static_cast<std::int64_t>(clip_samples.size()));
    if (end <= begin) return failure("calibration audio: '" + clips_[seg.clip].name + "' is shorter than when it was first read");
    std::span<const float> slice(clip_samples.data() + begin, static_cast<size_t>(end - begin));
    Sample out;
    if (feed_.extractor) {
      auto features = feed_.extractor->extract(slice, feed_.extractor_target);
      if (!features) return features.take_error().with_context("'" + clips_[seg.clip].name + "'");
      const auto mask_length = static_cast<std::int64_t>(features->attention_mask.size());
      out.push_back(Tensor::from_values<float>(features->name, features->shape, features->data));
      if (mask_length > 0)
        out.push_back(Tensor::from_values<std::int64_t>("attention_mask", {1, mask_length}, features->attention_mask));
    } else {
      std::vector<float> wave(slice.begin(), slice.end());
      if (feed_.fixed_length) wave.resize(static_cast<size_t>(feed_.segment), 0.0F);
      const auto n = static_cast<std::int64_t>(wave.size());
      std::vector<std::int64_t> shape = feed_.raw_rank == 1 ? std::vector<std::int64_t>{n} : std::vector<std::int64_t>{1, n};
      out.push_back(Tensor::from_values<float>(feed_.raw_input, std::move(shape), wave));
    }
    if (feed_.rate_input) {
      std::vector<std::int64_t> rate{feed_.sample_rate};
      out.push_back(Tensor::from_values<std::int64_t>(*feed_.rate_input, rate_shape_, rate));
    }
    return std::optional<Sample>{std::move(out)};
  }
  Result<void> rewind() override {
    pos_ = 0;
    return {};
  }
  std::vector<std::string> produced_names() const override {
    std::vector<std::string> names;
    if (feed_.extractor) {
      names.emplace_back(feed_.extractor->config().input_name());
      if (feed_.extractor->config().return_attention_mask) names.emplace_back("attention_mask");
    } else {
      names.push_back(feed_.raw_input);
    }
    if (feed_.rate_input) names.push_back(*feed_.rate_input);
    return names;
  }
  std::string describe() const override { return description_; }
  std::vector<std::string> skipped_inputs() const override {
    std::vector<std::string> out;
    for (const auto& m : skipped_) out.push_back("skipped an audio file: " + m);
    return out;
  }
  void set_rate_shape(std::vector<std::int64_t> shape) { rate_shape_ = std::move(shape); }

 private:
  // A clip's samples at the feed's rate, from a cache of the most recently used clips bounded by
  // kCacheSamples in all (samples go round-robin over the files, so each would otherwise be
  // decoded once per sample).
  Result<const std::vector<float>*> samples_of(size_t clip) {
    for (auto it = cache_.begin(); it != cache_.end(); ++it)
      if (it->first == clip) {
        cache_.splice(cache_.begin(), cache_, it);
        return &cache_.front().second;
      }
    auto loaded = load_clip(clips_[clip], feed_.sample_rate);
    // It decoded when the source was built; a file changed since is an error, not a skip.
    if (!loaded) return loaded.take_error().with_context("calibration audio");
    cache_.emplace_front(clip, std::move(loaded->samples));
    size_t total = 0;
    for (auto it = cache_.begin(); it != cache_.end();) {
      total += it->second.size();
      // The newest entry always stays, whatever its size (one file, capped by the decoder).
      if (it != cache_.begin() && total > kCacheSamples) it = cache_.erase(it);
      else ++it;
    }
    return &cache_.front().second;
  }

  Feed feed_;
  std::vector<Clip> clips_;
  std::vector<Segment> segments_;
  std::vector<std::string> skipped_;
  std::string description_;
  std::vector<std::int64_t> rate_shape_;
  size_t pos_ = 0;
  std::list<std::pair<size_t, std::vector<float>>> cache_;
};

// The files of --calibration-data: a folder, a .txt list, or one audio file.
Result<std::vector<Clip>> user_clips(const fs::path& data) {
  std::error_code ec;
  std::vector<fs::path> paths;
  if (fs::is_directory(data, ec)) {
    auto listed = audio::list_audio_files(data);
    if (!listed) return listed.take_error();
    if (listed->empty()) return failure(quoted(data) + " holds no .wav, .flac, .ogg, .oga or .mp3 files");
    paths = std::move(*listed);
  } else if (util::to_lower(data.extension().string()) == ".txt") {
    auto listed = audio::read_audio_list(data);
    if (!listed) return listed.take_error();
    if (listed->empty()) return failure(quoted(data) + " lists no audio files");
    paths = std::move(*listed);
  } else if (fs::is_regular_file(data, ec)) {
    paths.push_back(data);
  } else {
    return failure(quoted(data) + " does not exist; expected a folder of audio files, a .txt list of audio paths, "
                                  "or an audio file");
  }
  std::vector<Clip> clips;
  for (auto& p : paths) clips.push_back({p.string(), p, {}});
  return clips;
}

// A file's segments: consecutive pieces of `length` samples. The last, shorter piece is kept
// when it is the only one (a fixed length then pads it with zeros) or, for models that take any
// length, when it holds at least kMinSegmentSeconds; zero padding is never added otherwise, as
// exact digital silence gives log-spectra ranges that recordings do not reach.
std::vector<Segment> segments_of(size_t clip, std::int64_t samples, std::int64_t length, bool fixed, int rate) {
  std::vector<Segment> out;
  const std::int64_t min_last = fixed ? length : static_cast<std::int64_t>(kMinSegmentSeconds * rate);
  for (std::int64_t off = 0; off < samples; off += length) {
    const std::int64_t n = std::min(length, samples - off);
    if (n < length && n < min_last && !out.empty()) break;
    out.push_back({clip, off, n});
  }
  return out;
}

// Spreads `wanted` segments over the files: an equal share each, evenly along each file, then
// what is left from the files that have more.
std::vector<Segment> spread(const std::vector<std::vector<Segment>>& per_clip, int wanted) {
  std::vector<Segment> chosen;
  std::vector<std::vector<bool>> taken(per_clip.size());
  for (size_t i = 0; i < per_clip.size(); ++i) taken[i].assign(per_clip[i].size(), false);
  const size_t files = std::count_if(per_clip.begin(), per_clip.end(), [](const auto& v) { return !v.empty(); });
  if (files == 0) return chosen;
  const size_t share = (static_cast<size_t>(wanted) + files - 1) / files;
  for (size_t i = 0; i < per_clip.size(); ++i) {
    const size_t n = per_clip[i].size(), take = std::min(n, share);
    for (size_t k = 0; k < take; ++k) taken[i][k * n / take] = true;
  }
  size_t count = 0;
  for (const auto& t : taken) count += static_cast<size_t>(std::count(t.begin(), t.end(), true));
  for (size_t i = 0; i < per_clip.size() && count < static_cast<size_t>(wanted); ++i)
    for (size_t k = 0; k < per_clip[i].size() && count < static_cast<size_t>(wanted); ++k)
      if (!taken[i][k]) taken[i][k] = true, ++count;
  // Round-robin over the files, so the held-back tail (validation) spans files as the head does.
  std::vector<std::vector<Segment>> picked(per_clip.size());
  for (size_t i = 0; i < per_clip.size(); ++i)
    for (size_t k = 0; k < per_clip[i].size(); ++k)
      if (taken[i][k]) picked[i].push_back(per_clip[i][k]);
  const size_t total = std::min(count, static_cast<size_t>(wanted));
  for (size_t round = 0; chosen.size() < total; ++round)
    for (const auto& p : picked)
      if (round < p.size() && chosen.size() < total) chosen.push_back(p[round]);
  return chosen;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g s", s);
  return buf;
}

}  // namespace

std::optional<std::string> raw_audio_kind_reason(const std::vector<onnx::ValueInfo>& model_inputs) {
  auto raw = find_raw_audio_input(model_inputs);
  if (!raw) return std::nullopt;
  return "the model takes raw audio (" + raw->reason + ")";
}

Result<AudioSourceBuild> build_audio_source(const SourceRequest& req) {
  AudioSourceBuild b;
  Feed feed;
  std::string via;
  const auto raw = find_raw_audio_input(req.model_inputs);

  // Features through the checkpoint's extractor when it has one the model takes.
  const auto proc_path = req.checkpoint_folder / "preprocessor_config.json";
  std::error_code ec;
  std::optional<Error> config_error;
  if (fs::is_regular_file(proc_path, ec)) {
    auto config = audio::FeatureExtractorConfig::from_file(proc_path);
    if (!config) {
      config_error = config.take_error();
    } else if (!find_input(req.model_inputs, config->input_name())) {
      config_error = failure(proc_path.string() + ": " + config->extractor_type + " makes '" +
                             std::string(config->input_name()) + "', which is not an input of the model");
    } else {
      if (req.sample_rate && *req.sample_rate != config->sampling_rate)
        return failure("--sample-rate " + std::to_string(*req.sample_rate) + " differs from the sampling_rate " +
                       std::to_string(config->sampling_rate) + " of " + quoted(proc_path));
      auto extractor = audio::FeatureExtractor::create(*config);
      if (!extractor) return extractor.take_error().with_context(proc_path.string());
      b.notes = config->notes;
      feed.sample_rate = config->sampling_rate;
      const auto* input = find_input(req.model_inputs, config->input_name());
      if (config->kind == audio::ExtractorKind::wav2vec2) {
        if (input->has_shape && !input->shape.empty() && input->shape.back().value) {
          feed.extractor_target = *input->shape.back().value;
          feed.segment = feed.extractor_target;
          feed.fixed_length = true;
        } else {
          feed.segment = static_cast<std::int64_t>(kDynamicSegmentSeconds * feed.sample_rate);
        }
      } else {
        feed.segment = extractor->natural_samples();
        // The model's static dims must be what the extractor makes.
        auto probe = extractor->extract(std::vector<float>(static_cast<size_t>(feed.sample_rate), 0.0F));
        if (!probe) return probe.take_error();
        if (input->has_shape && input->shape.size() == probe->shape.size()) {
          for (size_t d = 1; d < probe->shape.size(); ++d)
            if (input->shape[d].value && *input->shape[d].value != probe->shape[d])
              return failure(config->extractor_type + " makes '" + probe->name + "' of shape " +
                             shape_text(probe->shape) + ", the model takes " + onnx::format_dims(*input));
        }
      }
      via = "via " + proc_path.filename().string() + "'s " + config->extractor_type;
      feed.extractor = std::move(*extractor);
    }
  }
  if (!feed.extractor) {
    if (!raw) {
      if (config_error) return *config_error;
      return failure("no preprocessor_config.json in " + quoted(req.checkpoint_folder) +
                     " and no input of the model takes a raw waveform");
    }
    if (config_error) b.notes.push_back("preprocessor_config.json not used: " + config_error->message);
    feed.raw_input = raw->name;
    feed.raw_rank = raw->rank;
    feed.sample_rate = req.sample_rate.value_or(static_cast<int>(req.hints.sampling_rate.value_or(kDefaultRawSampleRate)));
    // The length: the model's, or the one given with --input-shape, else segments of up to 5 s.
    std::optional<std::int64_t> fixed = raw->static_samples;
    for (const auto& s : req.input_shapes)
      if (s.name == raw->name && !s.shape.empty()) fixed = s.shape.back();
    if (fixed && *fixed > 0) {
      feed.segment = *fixed;
      feed.fixed_length = true;
    } else {
      feed.segment = static_cast<std::int64_t>(kDynamicSegmentSeconds * feed.sample_rate);
    }
    feed.rate_input = raw->sample_rate_input;
    via = "raw waveform into '" + raw->name + "'" + (raw->sample_rate_input ? " (and '" + *raw->sample_rate_input + "')" : "");
    b.notes.push_back("raw audio at " + std::to_string(feed.sample_rate) + " Hz, not normalized: " + raw->reason);
  }

  std::vector<Clip> clips;
  if (req.data) {
    auto listed = user_clips(*req.data);
    if (!listed) return listed.take_error();
    clips = std::move(*listed);
    b.data_source = req.data->string();
  } else {
    for (const auto& c : default_audio_clips()) clips.push_back({std::string(c.name), {}, c.bytes});
    b.data_source = "embedded default audio (" + std::to_string(clips.size()) + " clips: speech in several voices and "
                    "languages, environmental sounds and noise)";
  }

  // A seeded shuffle: a large folder contributes a sample of its files, and the default clips
  // (sorted speech after sounds) mix before the tail is held back for validation.
  std::mt19937_64 rng(req.seed);
  std::shuffle(clips.begin(), clips.end(), rng);

  // Decode files until enough of them are usable to give each an equal share.
  std::vector<std::vector<Segment>> per_clip(clips.size());
  std::vector<std::string> skipped;
  size_t usable = 0;
  for (size_t i = 0; i < clips.size() && usable < static_cast<size_t>(req.samples); ++i) {
    auto loaded = load_clip(clips[i], feed.sample_rate);
    if (!loaded) {
      skipped.push_back(loaded.error().message);
      continue;
    }
    if (loaded->truncated)
      b.notes.push_back("'" + clips[i].name + "': only its first " + seconds(kMaxSecondsPerFile) + " were read");
    per_clip[i] = segments_of(i, static_cast<std::int64_t>(loaded->samples.size()), feed.segment, feed.fixed_length,
                              feed.sample_rate);
    ++usable;
  }
  if (usable == 0) {
    std::string what = req.data ? quoted(*req.data) : std::string("the embedded default audio");
    return failure("no decodable audio in " + what + " (" + std::to_string(skipped.size()) + " skipped; first: " +
                   (skipped.empty() ? std::string("none") : skipped.front()) + ")");
  }
  auto segments = spread(per_clip, req.samples);
  b.available = static_cast<int>(segments.size());
  const double segment_seconds = static_cast<double>(feed.segment) / feed.sample_rate;
  const std::string length = feed.fixed_length ? std::to_string(feed.segment) + " samples"
                                               : "up to " + seconds(segment_seconds);
  b.data_source += " (" + std::to_string(b.available) + " segments of " + length + " at " +
                   std::to_string(feed.sample_rate) + " Hz from " +
                   std::to_string(usable) + " files, " + via + ")";
  if (!skipped.empty())
    b.notes.push_back(std::to_string(skipped.size()) + " audio file(s) could not be decoded and were skipped");

  auto source = std::make_unique<AudioSource>(std::move(feed), std::move(clips), std::move(segments), std::move(skipped),
                                              b.data_source);
  if (raw && raw->sample_rate_input) {
    const auto* rate = find_input(req.model_inputs, *raw->sample_rate_input);
    source->set_rate_shape(rate && rate->has_shape && rate->shape.size() == 1 ? std::vector<std::int64_t>{1}
                                                                                : std::vector<std::int64_t>{});
  }
  b.source = std::move(source);
  return b;
}

ElementType audio_produced_type(std::string_view input_name) {
  if (input_name == "attention_mask") return ElementType::int64;
  const auto lower = util::to_lower(input_name);
  for (auto n : kSampleRateNames)
    if (lower == n) return ElementType::int64;
  return ElementType::float32;
}

}  // namespace modelkit::calib
