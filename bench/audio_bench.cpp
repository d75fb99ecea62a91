// Audio feature extraction speed per utterance: 30 s of speech to Whisper's 80- and 128-bin
// log-mel, 10.24 s to AST's Kaldi fbank, Wav2Vec2's normalization, and decode + resample of a
// 44.1 kHz stereo file. The audio is the embedded default speech clips end to end (looped to
// length). Compare with bench/audio_reference_bench.sh (the numpy references on the same sizes).
#include <modelkit/audio.hpp>
#include <modelkit/calib_sources.hpp>

#include <benchmark/benchmark.h>
#include <sndfile.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

namespace {

using namespace modelkit;

std::vector<float> speech(double seconds) {
  std::vector<float> all;
  for (const auto& clip : calib::default_audio_clips()) {
    auto a = audio::decode_audio_bytes(clip.bytes, clip.name);
    if (a.ok()) all.insert(all.end(), a->samples.begin(), a->samples.end());
  }
  std::vector<float> out(static_cast<size_t>(seconds * 16000));
  for (size_t i = 0; i < out.size(); ++i) out[i] = all[i % all.size()];
  return out;
}

audio::FeatureExtractor make(const char* json) {
  auto config = audio::FeatureExtractorConfig::from_json(json);
  auto fe = audio::FeatureExtractor::create(*config);
  if (!fe.ok()) std::abort();
  return std::move(*fe);
}

void run(benchmark::State& state, const audio::FeatureExtractor& fe, const std::vector<float>& samples) {
  for (auto _ : state) {
    auto f = fe.extract(samples);
    benchmark::DoNotOptimize(f);
  }
  state.counters["audio_s_per_s"] =
      benchmark::Counter(static_cast<double>(samples.size()) / 16000.0, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_WhisperLogMel80_30s(benchmark::State& state) {
  static const auto fe = make(R"({"feature_extractor_type": "WhisperFeatureExtractor", "feature_size": 80})");
  static const auto samples = speech(30.0);
  run(state, fe, samples);
}
BENCHMARK(BM_WhisperLogMel80_30s)->Unit(benchmark::kMillisecond);

void BM_WhisperLogMel128_30s(benchmark::State& state) {
  static const auto fe = make(R"({"feature_extractor_type": "WhisperFeatureExtractor", "feature_size": 128})");
  static const auto samples = speech(30.0);
  run(state, fe, samples);
}
BENCHMARK(BM_WhisperLogMel128_30s)->Unit(benchmark::kMillisecond);

void BM_AstFbank_10s(benchmark::State& state) {
  static const auto fe = make(R"({"feature_extractor_type": "ASTFeatureExtractor"})");
  static const auto samples = speech(10.24);
  run(state, fe, samples);
}
BENCHMARK(BM_AstFbank_10s)->Unit(benchmark::kMillisecond);

void BM_Wav2Vec2Normalize_30s(benchmark::State& state) {
  static const auto fe = make(R"({"feature_extractor_type": "Wav2Vec2FeatureExtractor"})");
  static const auto samples = speech(30.0);
  run(state, fe, samples);
}
BENCHMARK(BM_Wav2Vec2Normalize_30s)->Unit(benchmark::kMillisecond);

// 30 s of 44.1 kHz stereo 16-bit WAV decoded, mixed down and resampled to 16 kHz (libsoxr HQ).
void BM_DecodeResample44kStereo_30s(benchmark::State& state) {
  const auto path = std::filesystem::temp_directory_path() / "modelkit-audio-bench.wav";
  {
    SF_INFO info{};
    info.samplerate = 44100;
    info.channels = 2;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
    std::vector<float> frames(44100 * 2);
    for (size_t i = 0; i < frames.size(); ++i) frames[i] = 0.3F * static_cast<float>(std::sin(0.01 * static_cast<double>(i)));
    for (int s = 0; s < 30; ++s) sf_writef_float(f, frames.data(), 44100);
    sf_close(f);
  }
  for (auto _ : state) {
    auto a = audio::load_audio(path, 16000);
    benchmark::DoNotOptimize(a);
  }
  state.counters["audio_s_per_s"] = benchmark::Counter(30.0, benchmark::Counter::kIsIterationInvariantRate);
  std::filesystem::remove(path);
}
BENCHMARK(BM_DecodeResample44kStereo_30s)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
