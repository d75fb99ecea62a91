// Feature extractors against the numpy references in scripts/audio_reference.py, on real speech
// (the espeak-ng clips in data/audio, several voices and languages) and environmental sounds.
#include "audio_test_support.hpp"

#include <thread>

namespace modelkit::audio {
namespace {

using testing::ScratchDir;

// Parity bound on log-mel and fbank features (and the normalized waveform).
constexpr double kFeatureTolerance = 1e-4;

std::vector<float> clip(const std::string& name) {
  auto audio = decode_audio(testing::default_clips_dir() / name);
  EXPECT_TRUE(audio) << audio.error().message;
  return audio ? audio->samples : std::vector<float>{};
}

// Several clips end to end: speech in different voices with sounds between them.
std::vector<float> joined(std::initializer_list<const char*> names) {
  std::vector<float> out;
  for (const char* n : names) {
    auto c = clip(n);
    out.insert(out.end(), c.begin(), c.end());
  }
  return out;
}

std::vector<float> all_clips() {
  std::vector<float> out;
  auto files = list_audio_files(testing::default_clips_dir());
  EXPECT_TRUE(files);
  for (const auto& f : *files) {
    auto c = clip(f.filename().string());
    out.insert(out.end(), c.begin(), c.end());
  }
  return out;
}

FeatureExtractor make(const std::string& json) {
  auto config = FeatureExtractorConfig::from_json(json);
  EXPECT_TRUE(config) << config.error().message;
  auto fe = FeatureExtractor::create(*config);
  EXPECT_TRUE(fe) << fe.error().message;
  return std::move(*fe);
}

void expect_parity(const Features& got, const testing::Reference& want, double tolerance) {
  ASSERT_EQ(got.shape, want.shape);
  ASSERT_EQ(got.data.size(), want.data.size());
  double worst = 0;
  size_t where = 0;
  for (size_t i = 0; i < got.data.size(); ++i) {
    const double d = std::abs(static_cast<double>(got.data[i]) - want.data[i]);
    if (d > worst) worst = d, where = i;
  }
  std::printf("  max abs diff to the reference: %.3g\n", worst);
  EXPECT_LE(worst, tolerance) << "at index " << where << ": " << got.data[where] << " vs " << want.data[where];
}

void check(const FeatureExtractor& fe, const std::vector<float>& samples, const std::string& kind,
           const std::vector<std::string>& args, std::int64_t target = 0) {
  ScratchDir dir;
  auto got = fe.extract(samples, target);
  ASSERT_TRUE(got) << got.error().message;
  auto want = testing::run_reference(kind, samples, args, dir.path());
  ASSERT_TRUE(want);
  expect_parity(*got, *want, kFeatureTolerance);
}

// ---------------------------------------------------------------- Whisper

TEST(WhisperFeatures, MatchesTheReferenceWith80MelBins) {
  auto fe = make(R"({"feature_extractor_type": "WhisperFeatureExtractor", "feature_size": 80})");
  auto speech = joined({"speech_en_us_male.wav", "sound_rain.wav", "speech_de_male.wav", "speech_cmn_female.wav"});
  check(fe, speech, "whisper", {"n_mels=80"});
  auto got = fe.extract(speech);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->shape, (std::vector<std::int64_t>{1, 80, 3000}));
}

TEST(WhisperFeatures, MatchesTheReferenceWith128MelBinsAndTrimsLongAudio) {
  auto fe = make(R"({"feature_extractor_type": "WhisperFeatureExtractor", "feature_size": 128, "chunk_length": 30})");
  auto everything = all_clips();
  ASSERT_GT(everything.size(), 30u * 16000u) << "the clips should exceed one 30 s chunk";
  check(fe, everything, "whisper", {"n_mels=128"});
}

TEST(WhisperFeatures, NormalizedWaveformAndShortChunks) {
  auto fe = make(R"({"feature_extractor_type": "WhisperFeatureExtractor", "do_normalize": true, "chunk_length": 5})");
  auto speech = joined({"speech_fr_female.wav", "speech_en_us_whisper.wav"});
  check(fe, speech, "whisper", {"n_mels=80", "chunk_length=5", "do_normalize=1"});
  auto got = fe.extract(speech);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->attention_mask.size(), 500u);
  EXPECT_EQ(got->attention_mask.front(), 1);
  EXPECT_EQ(got->attention_mask.back(), 0);  // the speech is shorter than 5 s
}

// ---------------------------------------------------------------- AST

TEST(AstFeatures, MatchesTheKaldiFbankReferenceWithPadding) {
  auto fe = make(R"({"feature_extractor_type": "ASTFeatureExtractor"})");
  auto speech = joined({"speech_it_female.wav", "sound_bell.wav", "speech_ru_female.wav"});
  check(fe, speech, "ast", {});
  auto got = fe.extract(speech);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->shape, (std::vector<std::int64_t>{1, 1024, 128}));
  // Padded frames are zeros before normalization.
  EXPECT_NEAR(got->data.back(), (0 - -4.2677393) / (2 * 4.5689974), 1e-6);
}

TEST(AstFeatures, TruncatesToMaxLengthAndReadsItsFields) {
  auto fe = make(R"({"feature_extractor_type": "ASTFeatureExtractor", "num_mel_bins": 64, "max_length": 300,
                     "mean": -3.5, "std": 2.25})");
  auto speech = joined({"speech_hi_male.wav", "sound_chirps.wav", "speech_en_scotland_slow.wav"});
  check(fe, speech, "ast", {"num_mel_bins=64", "max_length=300", "mean=-3.5", "std=2.25"});
}

TEST(AstFeatures, UnnormalizedAndShorterThanOneFrame) {
  auto fe = make(R"({"feature_extractor_type": "ASTFeatureExtractor", "do_normalize": false, "max_length": 100})");
  check(fe, clip("sound_knocks.wav"), "ast", {"max_length=100", "do_normalize=0"});
  auto tiny = fe.extract(std::vector<float>(300, 0.1F));  // < 400 samples: no frame at all
  ASSERT_TRUE(tiny);
  EXPECT_EQ(*std::max_element(tiny->data.begin(), tiny->data.end()), 0.0F);
}

// ---------------------------------------------------------------- Wav2Vec2

TEST(Wav2Vec2Features, NormalizesPerUtterance) {
  auto fe = make(R"({"feature_extractor_type": "Wav2Vec2FeatureExtractor", "do_normalize": true})");
  check(fe, clip("speech_pt_br_male.wav"), "wav2vec2", {});
}

TEST(Wav2Vec2Features, PadsWithAMaskAndNormalizesOverRealSamples) {
  auto fe = make(R"({"feature_extractor_type": "Wav2Vec2FeatureExtractor", "return_attention_mask": true,
                     "padding_value": 0.0})");
  auto speech = clip("speech_es_male_fast.wav");
  const auto target = static_cast<std::int64_t>(speech.size()) + 5000;
  check(fe, speech, "wav2vec2", {"target=" + std::to_string(target), "mask=1"}, target);
  auto got = fe.extract(speech, target);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->attention_mask.size(), static_cast<size_t>(target));
  EXPECT_EQ(got->attention_mask[speech.size() - 1], 1);
  EXPECT_EQ(got->attention_mask[speech.size()], 0);
}

TEST(Wav2Vec2Features, PaddingWithoutAMaskCountsInTheStatisticsAndTruncates) {
  auto fe = make(R"({"feature_extractor_type": "Wav2Vec2FeatureExtractor"})");
  auto speech = clip("speech_en_gb_female.wav");
  check(fe, speech, "wav2vec2", {"target=60000"}, 60000);
  check(fe, speech, "wav2vec2", {"target=16000"}, 16000);
  auto raw = make(R"({"feature_extractor_type": "Wav2Vec2FeatureExtractor", "do_normalize": false})");
  auto got = raw.extract(speech);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data, speech);
}

// ---------------------------------------------------------------- config and threads

TEST(FeatureExtractorConfig, DefaultsPerClass) {
  auto w = FeatureExtractorConfig::from_json(R"({"feature_extractor_type": "WhisperFeatureExtractor"})");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->kind, ExtractorKind::whisper);
  EXPECT_EQ(w->feature_size, 80);
  EXPECT_FALSE(w->do_normalize);
  EXPECT_EQ(w->input_name(), "input_features");
  auto a = FeatureExtractorConfig::from_json(R"({"feature_extractor_type": "ASTFeatureExtractor"})");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->num_mel_bins, 128);
  EXPECT_EQ(a->max_length, 1024);
  EXPECT_TRUE(a->do_normalize);
  EXPECT_EQ(a->input_name(), "input_values");
  auto v = FeatureExtractorConfig::from_json(R"({"feature_extractor_type": "Wav2Vec2FeatureExtractor", "sampling_rate": 16000.0})");
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_TRUE(v->do_normalize);
  EXPECT_FALSE(v->return_attention_mask);
}

TEST(FeatureExtractorConfig, ErrorsNameTheFieldOrType) {
  auto error = [](const char* json) {
    auto r = FeatureExtractorConfig::from_json(json);
    EXPECT_FALSE(r) << json;
    return r ? std::string() : r.error().message;
  };
  EXPECT_NE(error(R"({"feature_extractor_type": "SpeechT5FeatureExtractor"})").find("SpeechT5FeatureExtractor"),
            std::string::npos);
  EXPECT_NE(error(R"({"image_processor_type": "ViTImageProcessor"})").find("image processor"), std::string::npos);
  EXPECT_NE(error(R"({"sampling_rate": 16000})").find("feature_extractor_type"), std::string::npos);
  EXPECT_NE(error(R"({"feature_extractor_type": "WhisperFeatureExtractor", "n_fft": 1e9})").find("'n_fft'"),
            std::string::npos);
  EXPECT_NE(error(R"({"feature_extractor_type": "WhisperFeatureExtractor", "sampling_rate": "16k"})").find("'sampling_rate'"),
            std::string::npos);
  EXPECT_NE(error(R"({"feature_extractor_type": "Wav2Vec2FeatureExtractor", "feature_size": 80})").find("'feature_size'"),
            std::string::npos);
  EXPECT_NE(error(R"({"feature_extractor_type": "ASTFeatureExtractor", "std": 0})").find("'std'"), std::string::npos);
  EXPECT_NE(error("[1, 2]").find("JSON object"), std::string::npos);
}

TEST(FeatureExtractorConfig, RefusesWhatWouldNotFit) {
  auto config = FeatureExtractorConfig::from_json(
      R"({"feature_extractor_type": "WhisperFeatureExtractor", "chunk_length": 600, "sampling_rate": 768000})");
  ASSERT_TRUE(config);
  auto fe = FeatureExtractor::create(*config);
  ASSERT_FALSE(fe);
  EXPECT_NE(fe.error().message.find("too large"), std::string::npos);
}

TEST(FeatureExtractorThreads, ConcurrentExtractionsAgree) {
  auto fe = make(R"({"feature_extractor_type": "WhisperFeatureExtractor", "chunk_length": 10})");
  auto speech = clip("speech_en_us_male.wav");
  auto expected = fe.extract(speech);
  ASSERT_TRUE(expected);
  std::vector<std::vector<float>> results(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i)
    threads.emplace_back([&, i] {
      auto r = fe.extract(speech);
      if (r) results[i] = std::move(r->data);
    });
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_EQ(r, expected->data);
}

}  // namespace
}  // namespace modelkit::audio
