// The audio calibration source: the embedded clips, user folders and lists, feature extractors
// from preprocessor_config.json, raw-waveform models (Silero-like with a sample-rate input), the
// raw-audio refinement of the plan's "random", and skipped files.
#include <modelkit/audio.hpp>
#include <modelkit/calib_sources.hpp>

#include "test_support.hpp"
#include "value_info.hpp"

#include <sndfile.h>

#include <fstream>
#include <set>

namespace modelkit::test {
namespace {

using calib::SourceRequest;
namespace fs = std::filesystem;


fs::path clips_dir() { return fs::path(MODELKIT_SOURCE_DIR) / "data" / "audio"; }

std::vector<calib::Sample> drain_all(calib::SampleSource& s) {
  std::vector<calib::Sample> out;
  for (;;) {
    auto n = s.next();
    EXPECT_TRUE(n.ok()) << n.error().message;
    if (!n.ok() || !*n) break;
    out.push_back(std::move(**n));
  }
  return out;
}

SourceRequest request(CalibrationKind kind, std::vector<onnx::ValueInfo> inputs, int samples) {
  SourceRequest r;
  r.kind = kind;
  r.model_inputs = std::move(inputs);
  r.samples = samples;
  r.checkpoint_folder = fs::temp_directory_path() / "modelkit-no-such-checkpoint";
  return r;
}

void write_wav(const fs::path& path, int rate, int channels, const std::vector<float>& interleaved) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
  sf_writef_float(f, interleaved.data(), static_cast<sf_count_t>(interleaved.size() / channels));
  sf_close(f);
}

TEST(DefaultAudio, EmbedsEveryClipOfDataAudioByteForByte) {
  auto clips = calib::default_audio_clips();
  std::set<std::string> on_disk;
  for (const auto& e : fs::directory_iterator(clips_dir()))
    if (e.path().extension() == ".wav") on_disk.insert(e.path().filename().string());
  ASSERT_EQ(clips.size(), on_disk.size());
  std::uint64_t total = 0;
  for (const auto& c : clips) {
    ASSERT_TRUE(on_disk.count(std::string(c.name))) << c.name;
    std::ifstream in(clips_dir() / c.name, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes, c.bytes) << c.name;
    total += c.bytes.size();
  }
  EXPECT_LT(total, 1'500'000u) << "data/audio should stay small";
}

TEST(AudioSource, RawModelTakesWholeClipsAtSixteenKilohertz) {
  auto req = request(CalibrationKind::audio, {input("input_values", ElementType::float32, {sym("batch_size"), sym("sequence_length")})}, 100);
  auto sel = calib::select_source(req);
  ASSERT_TRUE(sel.ok()) << sel.error().message;
  EXPECT_EQ(sel->record.kind, "audio");
  EXPECT_FALSE(sel->record.fallback_reason.has_value());
  EXPECT_NE(sel->record.data_source.find("embedded default audio"), std::string::npos) << sel->record.data_source;
  const int clips = static_cast<int>(calib::default_audio_clips().size());
  EXPECT_EQ(sel->record.samples, clips);  // every clip is shorter than a 5 s segment
  auto samples = drain_all(*sel->source);
  ASSERT_EQ(static_cast<int>(samples.size()), clips);
  std::set<std::int64_t> lengths;
  for (const auto& s : samples) {
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].name, "input_values");
    ASSERT_EQ(s[0].shape.size(), 2u);
    EXPECT_EQ(s[0].shape[0], 1);
    EXPECT_GE(s[0].shape[1], 16000 * 8 / 10);  // >= 0.8 s
    EXPECT_LE(s[0].shape[1], 16000 * 5);
    lengths.insert(s[0].shape[1]);
  }
  EXPECT_GT(lengths.size(), 10u);  // whole clips of many lengths
  // Rewinding gives the same samples again.
  ASSERT_TRUE(sel->source->rewind().ok());
  auto again = drain_all(*sel->source);
  ASSERT_EQ(again.size(), samples.size());
  EXPECT_EQ(again[3][0].bytes, samples[3][0].bytes);
}

TEST(AudioSource, StaticLengthModelsGetEvenlySpreadChunks) {
  auto req = request(CalibrationKind::audio, {input("audio", ElementType::float32, {fixed(1), fixed(512)})}, 60);
  auto sel = calib::select_source(req);
  ASSERT_TRUE(sel.ok()) << sel.error().message;
  EXPECT_EQ(sel->record.samples, 60);
  auto samples = drain_all(*sel->source);
  ASSERT_EQ(samples.size(), 60u);
  std::set<std::string> distinct;
  for (const auto& s : samples) {
    EXPECT_EQ(s[0].shape, (std::vector<std::int64_t>{1, 512}));
    distinct.insert(std::string(reinterpret_cast<const char*>(s[0].bytes.data()), s[0].bytes.size()));
  }
  // Chunks differ, except a few of the silence padding the clips' ends.
  EXPECT_GE(distinct.size(), 45u);
}

TEST(AudioSource, SileroLikeModelGetsItsSampleRateAndRandomState) {
  std::vector<onnx::ValueInfo> inputs = {
      input("input", ElementType::float32, {sym("batch"), sym("sequence")}),
      input("sr", ElementType::int64, {}),
      input("h", ElementType::float32, {fixed(2), sym("batch"), fixed(64)}),
      input("c", ElementType::float32, {fixed(2), sym("batch"), fixed(64)}),
  };
  // The plan has no task for a bare ONNX model: "random" is refined to audio.
  auto req = request(CalibrationKind::random, inputs, 8);
  req.kind_reason = "no task is known";
  req.sample_rate = 8000;
  req.input_shapes = {{"input", {1, 1536}}};
  auto sel = calib::select_source(req);
  ASSERT_TRUE(sel.ok()) << sel.error().message;
  EXPECT_EQ(sel->record.requested_kind, "audio");
  EXPECT_EQ(sel->record.kind, "audio");
  EXPECT_EQ(sel->record.filled_inputs, (std::vector<std::string>{"h", "c"}));
  auto samples = drain_all(*sel->source);
  ASSERT_EQ(samples.size(), 8u);
  for (const auto& s : samples) {
    ASSERT_EQ(s.size(), 4u);
    EXPECT_EQ(s[0].name, "input");
    EXPECT_EQ(s[0].shape, (std::vector<std::int64_t>{1, 1536}));
    EXPECT_EQ(s[1].name, "sr");
    EXPECT_TRUE(s[1].shape.empty());
    EXPECT_EQ(s[1].values<std::int64_t>()[0], 8000);
  }
}

TEST(AudioSource, NoRawInputAndNoExtractorFallsBackToRandomWithTheReason) {
  auto req = request(CalibrationKind::audio, {input("features", ElementType::float32, {sym("batch"), fixed(40), sym("frames")})}, 4);
  auto sel = calib::select_source(req);
  ASSERT_TRUE(sel.ok()) << sel.error().message;
  EXPECT_EQ(sel->record.kind, "random");
  ASSERT_TRUE(sel->record.fallback_reason.has_value());
  EXPECT_NE(sel->record.fallback_reason->find("no input of the model takes a raw waveform"), std::string::npos)
      << *sel->record.fallback_reason;
}

TEST(AudioSource, WhisperCheckpointGetsLogMelFeaturesOfTheClips) {
  TempDir tmp;
  write_file(tmp / "preprocessor_config.json",
             R"({"feature_extractor_type": "WhisperFeatureExtractor", "feature_size": 80, "chunk_length": 30})");
  auto req = request(CalibrationKind::audio, {input("input_features", ElementType::float32, {sym("batch_size"), fixed(80), fixed(3000)})}, 3);
  req.checkpoint_folder = tmp.path();
  auto sel = calib::select_source(req);
  ASSERT_TRUE(sel.ok()) << sel.error().message;
  EXPECT_EQ(sel->record.kind, "audio");
  EXPECT_NE(sel->record.data_source.find("WhisperFeatureExtractor"), std::string::npos);
  auto samples = drain_all(*sel->source);
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples[0][0].shape, (std::vector<std::int64_t>{1, 80, 3000}));
  // The features are those of a real clip: compare with extracting every clip directly.
  auto config = audio::FeatureExtractorConfig::from_file(tmp / "preprocessor_config.json");
  ASSERT_TRUE(config.ok());
  auto fe = audio::FeatureExtractor::create(*config);
  ASSERT_TRUE(fe.ok());
  bool matched = false;
  for (const auto& clip : calib::default_audio_clips()) {
    auto decoded = audio::decode_audio_bytes(clip.bytes, clip.name);
    ASSERT_TRUE(decoded.ok());
    auto f = fe->extract(decoded->samples);
    ASSERT_TRUE(f.ok());
    auto v = samples[0][0].values<float>();
    matched |= std::equal(v.begin(), v.end(), f->data.begin(), f->data.end());
  }
  EXPECT_TRUE(matched);
}

TEST(AudioSource, ExtractorShapeMismatchIsAFallbackNamingBoth) {
  TempDir tmp;
  write_file(tmp / "preprocessor_config.json", R"({"feature_extractor_type": "ASTFeatureExtractor", "max_length": 1024})");
  auto req = request(CalibrationKind::audio, {input("input_values", ElementType::float32, {sym("batch"), fixed(512), fixed(128)})}, 2);
  req.checkpoint_folder = tmp.path();
  auto sel = calib::select_source(req);
  ASSERT_TRUE(sel.ok()) << sel.error().message;
  EXPECT_EQ(sel->record.kind, "random");
  ASSERT_TRUE(sel->record.fallback_reason.has_value());
  EXPECT_NE(sel->record.fallback_reason->find("[1, 1024, 128]"), std::string::npos) << *sel->record.fallback_reason;
}

TEST(AudioSource, UserFolderResampledWithACorruptFileNamedAndSkipped) {
  TempDir tmp;
  fs::create_directories(tmp / "clips");
  std::vector<float> stereo;
  for (int i = 0; i < 44100 * 2; ++i) {
    stereo.push_back(0.3F * std::sin(0.05F * static_cast<float>(i)));
    stereo.push_back(0.1F);
  }
  write_wav(tmp / "clips" / "a.wav", 44100, 2, stereo);
  write_wav(tmp / "clips" / "b.wav", 16000, 1, std::vector<float>(8000, 0.2F));
  write_file(tmp / "clips" / "broken.wav", "RIFF\x10\x00\x00\x00WAVEjunkjunkjunk");
  auto req = request(CalibrationKind::audio, {input("waveform", ElementType::float32, {sym("n"), sym("samples")})}, 10);
  req.data = tmp / "clips";
  auto sel = calib::select_source(req);
  ASSERT_TRUE(sel.ok()) << sel.error().message;
  EXPECT_EQ(sel->record.kind, "audio");
  EXPECT_EQ(sel->record.data_source.rfind((tmp / "clips").string(), 0), 0u) << sel->record.data_source;
  auto samples = drain_all(*sel->source);
  ASSERT_EQ(samples.size(), 2u);
  std::set<std::int64_t> lengths;
  for (const auto& s : samples) lengths.insert(s[0].shape[1]);
  EXPECT_EQ(lengths, (std::set<std::int64_t>{8000, 32000}));  // 2 s at 44.1 kHz -> 32000 at 16 kHz
  auto skipped = sel->source->skipped_inputs();
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find("broken.wav"), std::string::npos) << skipped[0];

  // The same files through a .txt list, relative to the list's folder.
  write_file(tmp / "list.txt", "clips/b.wav\n# a comment\nclips/broken.wav\n");
  req.data = tmp / "list.txt";
  auto listed = calib::select_source(req);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->record.kind, "audio");
  EXPECT_EQ(listed->record.samples, 1);
}

TEST(AudioSource, NothingDecodableInTheUsersDataIsAnErrorNamingTheFiles) {
  // --calibration-data is a contract: audio that cannot be used stops the build.
  TempDir tmp;
  write_file(tmp / "x.mp3", "not an mp3 at all, just text");
  auto req = request(CalibrationKind::audio, {input("pcm", ElementType::float32, {sym("samples")})}, 4);
  req.data = tmp.path();
  auto sel = calib::select_source(req);
  ASSERT_FALSE(sel.ok());
  EXPECT_NE(sel.error().message.find("no decodable audio"), std::string::npos) << sel.error().message;
  EXPECT_NE(sel.error().message.find("x.mp3"), std::string::npos) << sel.error().message;
}

TEST(RawAudioInput, RecognisedByNameAndShapeOnly) {
  auto find = [](std::vector<onnx::ValueInfo> inputs) { return find_raw_audio_input(inputs); };
  EXPECT_TRUE(find({input("audio_signal", ElementType::float32, {sym("b"), sym("t")})}));
  EXPECT_TRUE(find({input("pcm", ElementType::float32, {sym("t")})}));
  // A generic name needs a sample-rate input beside it.
  EXPECT_FALSE(find({input("input", ElementType::float32, {sym("batch"), sym("sequence")})}));
  EXPECT_TRUE(find({input("input", ElementType::float32, {sym("batch"), sym("sequence")}), input("sr", ElementType::int64, {})}));
  // Not waveforms: integer ids, images, feature frames, short fixed vectors, two candidates.
  EXPECT_FALSE(find({input("audio_ids", ElementType::int64, {sym("b"), sym("t")})}));
  EXPECT_FALSE(find({input("audio", ElementType::float32, {sym("b"), fixed(80), sym("t")})}));
  EXPECT_FALSE(find({input("audio", ElementType::float32, {fixed(1), fixed(40)})}));
  EXPECT_FALSE(find({input("audio", ElementType::float32, {sym("t")}), input("waveform", ElementType::float32, {sym("t")})}));
  auto silero = find({input("input", ElementType::float32, {sym("batch"), sym("sequence")}), input("sr", ElementType::int64, {})});
  ASSERT_TRUE(silero);
  EXPECT_EQ(silero->sample_rate_input, std::optional<std::string>("sr"));
}

TEST(RawAudioInput, RandomInputsUseOneSecondForTheFreeLength) {
  std::vector<onnx::ValueInfo> inputs = {input("input", ElementType::float32, {sym("batch"), sym("sequence")}),
                                         input("sr", ElementType::int64, {})};
  InputHints hints;
  auto r = make_random_inputs(inputs, hints, {}, 0);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->tensors[0].shape, (std::vector<std::int64_t>{1, 16000}));
  hints.sampling_rate = 8000;
  r = make_random_inputs(inputs, hints, {}, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tensors[0].shape, (std::vector<std::int64_t>{1, 8000}));
  EXPECT_EQ(r->tensors[1].values<std::int64_t>()[0], 8000);
}

}  // namespace
}  // namespace modelkit::test
