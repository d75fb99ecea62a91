// Decoding every format libsndfile reads for us, mono mix-down, the duration cap, resampling, and
// one-line errors naming the file for what a user may hand us.
#include "audio_test_support.hpp"

#include <algorithm>
#include <numeric>

namespace modelkit::audio {
namespace {

using testing::ScratchDir;
using testing::sine;
using testing::write_file;
using testing::write_sound;

// Largest |a - b| over the common length.
double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(static_cast<double>(a[i]) - b[i]));
  return m;
}

// Normalized cross-correlation at the best lag within +-max_lag (lossy codecs add a delay).
double best_correlation(const std::vector<float>& a, const std::vector<float>& b, int max_lag) {
  double best = -1;
  for (int lag = 0; lag <= max_lag; ++lag) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i + lag < b.size() && i < a.size(); ++i) {
      ab += a[i] * b[i + lag];
      aa += a[i] * a[i];
      bb += b[i + lag] * b[i + lag];
    }
    if (aa > 0 && bb > 0) best = std::max(best, ab / std::sqrt(aa * bb));
  }
  return best;
}

struct PcmCase {
  const char* name;
  int format;
  double tolerance;  // one quantization step of the format
};

TEST(DecodeAudio, LosslessFormatsDecodeToTheSamplesWritten) {
  ScratchDir dir;
  const auto signal = sine(16000, 440.0, 0.5);
  const PcmCase cases[] = {
      {"pcm_u8.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 1.0 / 128},
      {"pcm16.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1.0 / 32768},
      {"pcm24.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 1.0 / 8388608},
      {"pcm32.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_32, 1e-7},
      {"float.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 0.0},
      {"pcm16.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 1.0 / 32768},
      {"pcm24.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 1.0 / 8388608},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(write_sound(dir.path() / c.name, c.format, 16000, 1, signal));
    auto audio = decode_audio(dir.path() / c.name);
    ASSERT_TRUE(audio) << audio.error().message;
    EXPECT_EQ(audio->sample_rate, 16000);
    EXPECT_EQ(audio->source_channels, 1);
    ASSERT_EQ(audio->samples.size(), signal.size());
    EXPECT_LE(max_abs_diff(audio->samples, signal), c.tolerance + 1e-7);
    EXPECT_FALSE(audio->truncated);
  }
}

TEST(DecodeAudio, LossyFormatsKeepTheSignal) {
  ScratchDir dir;
  const auto signal = sine(44100, 1000.0, 1.0, 0.4);
  const std::pair<const char*, int> cases[] = {
      {"vorbis.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS},
      {"layer3.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III},
  };
  for (const auto& [name, format] : cases) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(write_sound(dir.path() / name, format, 44100, 1, signal));
    auto audio = decode_audio(dir.path() / name);
    ASSERT_TRUE(audio) << audio.error().message;
    EXPECT_EQ(audio->sample_rate, 44100);
    // Codec frames pad the end and MP3 adds an encoder delay; the tone itself survives.
    EXPECT_NEAR(static_cast<double>(audio->samples.size()), static_cast<double>(signal.size()), 4000.0);
    EXPECT_GT(best_correlation(signal, audio->samples, 3000), 0.98);
    EXPECT_NE(audio->source_format.find(name[0] == 'v' ? "Vorbis" : "layer III"), std::string::npos)
        << audio->source_format;
  }
}

TEST(DecodeAudio, ChannelsAreAveraged) {
  ScratchDir dir;
  const auto left = sine(16000, 300.0, 0.25, 0.6);
  const auto right = sine(16000, 700.0, 0.25, 0.2);
  std::vector<float> interleaved;
  for (size_t i = 0; i < left.size(); ++i) {
    interleaved.push_back(left[i]);
    interleaved.push_back(right[i]);
  }
  ASSERT_TRUE(write_sound(dir.path() / "stereo.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 2, interleaved));
  auto audio = decode_audio(dir.path() / "stereo.wav");
  ASSERT_TRUE(audio) << audio.error().message;
  EXPECT_EQ(audio->source_channels, 2);
  std::vector<float> expected(left.size());
  for (size_t i = 0; i < left.size(); ++i) expected[i] = (left[i] + right[i]) / 2;
  EXPECT_LE(max_abs_diff(audio->samples, expected), 1e-7);
}

TEST(DecodeAudio, ReadsAtMostTheCap) {
  ScratchDir dir;
  ASSERT_TRUE(write_sound(dir.path() / "long.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, sine(8000, 200, 3.0)));
  auto audio = decode_audio(dir.path() / "long.wav", 1.25);
  ASSERT_TRUE(audio) << audio.error().message;
  EXPECT_EQ(audio->samples.size(), 10000u);
  EXPECT_TRUE(audio->truncated);
  EXPECT_DOUBLE_EQ(audio->source_seconds, 3.0);
}

TEST(DecodeAudio, DefaultClipsAreSixteenKilohertzMono) {
  auto files = list_audio_files(testing::default_clips_dir());
  ASSERT_TRUE(files) << files.error().message;
  ASSERT_GE(files->size(), 20u);
  for (const auto& f : *files) {
    auto audio = decode_audio(f);
    ASSERT_TRUE(audio) << audio.error().message;
    EXPECT_EQ(audio->sample_rate, 16000) << f;
    EXPECT_EQ(audio->source_channels, 1) << f;
    EXPECT_GT(audio->samples.size(), 8000u) << f;
    const float peak = std::abs(*std::max_element(audio->samples.begin(), audio->samples.end(),
                                                  [](float a, float b) { return std::abs(a) < std::abs(b); }));
    EXPECT_GT(peak, 0.05F) << f << " is silent";
  }
}

// ---------------------------------------------------------------- errors

std::string error_of(const std::filesystem::path& p) {
  auto r = decode_audio(p);
  EXPECT_FALSE(r) << p;
  if (r) return {};
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  EXPECT_NE(r.error().message.find(p.string()), std::string::npos) << r.error().message;
  return r.error().message;
}

std::string wav_header(int rate, int channels, std::uint32_t data_bytes, int bits = 16) {
  auto u32 = [](std::uint32_t v) { return std::string{char(v), char(v >> 8), char(v >> 16), char(v >> 24)}; };
  auto u16 = [](std::uint16_t v) { return std::string{char(v), char(v >> 8)}; };
  const int block = channels * bits / 8;
  return "RIFF" + u32(36 + data_bytes) + "WAVE" + "fmt " + u32(16) + u16(1) + u16(static_cast<std::uint16_t>(channels)) +
         u32(static_cast<std::uint32_t>(rate)) + u32(static_cast<std::uint32_t>(rate * block)) +
         u16(static_cast<std::uint16_t>(block)) + u16(static_cast<std::uint16_t>(bits)) + "data" + u32(data_bytes);
}

TEST(DecodeAudioErrors, NameTheFileInOneLine) {
  ScratchDir dir;
  const auto d = dir.path();
  write_file(d / "empty.wav", "");
  EXPECT_NE(error_of(d / "empty.wav").find("empty file"), std::string::npos);
  write_file(d / "text.wav", "this is not audio, just some text that happens to be long enough\n");
  EXPECT_NE(error_of(d / "text.wav").find("not a readable audio file"), std::string::npos);
  write_file(d / "no_samples.wav", wav_header(16000, 1, 0));
  EXPECT_NE(error_of(d / "no_samples.wav").find("empty audio"), std::string::npos);
  write_file(d / "slow.wav", wav_header(1, 1, 4) + std::string(4, '\0'));
  auto slow = error_of(d / "slow.wav");
  EXPECT_TRUE(slow.find("sample rate 1 Hz") != std::string::npos || slow.find("not a readable") != std::string::npos) << slow;
  write_file(d / "many.wav", wav_header(16000, 200, 800) + std::string(800, '\0'));
  auto many = error_of(d / "many.wav");
  EXPECT_TRUE(many.find("200 channels") != std::string::npos || many.find("not a readable") != std::string::npos) << many;
  EXPECT_NE(error_of(d / "missing.wav").find("no such file"), std::string::npos);
  EXPECT_NE(error_of(d).find("not a regular file"), std::string::npos);
  // A PNG signature with a .mp3 name.
  write_file(d / "image.mp3", std::string("\x89PNG\r\n\x1a\n", 8) + std::string(100, 'x'));
  EXPECT_NE(error_of(d / "image.mp3").find("not a readable audio file"), std::string::npos);
}

TEST(DecodeAudioErrors, TruncatedDataDecodesWhatIsThere) {
  ScratchDir dir;
  // The header claims 1 s of 16-bit samples; only 1000 samples follow.
  std::string pcm(2000, '\0');
  for (size_t i = 0; i < pcm.size(); i += 2) pcm[i + 1] = 0x10;
  write_file(dir.path() / "cut.wav", wav_header(16000, 1, 32000) + pcm);
  auto audio = decode_audio(dir.path() / "cut.wav");
  ASSERT_TRUE(audio) << audio.error().message;
  EXPECT_EQ(audio->samples.size(), 1000u);
}

TEST(DecodeAudioErrors, NonFiniteFloatSamplesAreRefused) {
  ScratchDir dir;
  auto signal = sine(16000, 440, 0.1);
  signal[100] = std::numeric_limits<float>::quiet_NaN();
  ASSERT_TRUE(write_sound(dir.path() / "nan.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, signal));
  EXPECT_NE(error_of(dir.path() / "nan.wav").find("not a finite number"), std::string::npos);
}

// ---------------------------------------------------------------- resampling

TEST(Resample, KeepsAToneAndTheDuration) {
  const auto in = sine(44100, 1000.0, 1.0, 0.5);
  auto out = resample(in, 44100, 16000);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->size(), 16000u);
  // Away from the edges the output is the same tone sampled at 16 kHz (soxr's linear phase).
  const auto expected = sine(16000, 1000.0, 1.0, 0.5);
  double worst = 0;
  for (size_t i = 200; i + 200 < out->size(); ++i) worst = std::max(worst, std::abs(double((*out)[i]) - expected[i]));
  EXPECT_LT(worst, 2e-3);
}

TEST(Resample, UpsamplesAndPassesEqualRatesThrough) {
  const auto in = sine(8000, 300.0, 0.5);
  auto up = resample(in, 8000, 16000);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->size(), 8000u);
  auto same = resample(in, 8000, 8000);
  ASSERT_TRUE(same);
  EXPECT_EQ(*same, in);
  EXPECT_FALSE(resample(in, 0, 16000));
}

TEST(LoadAudio, ResamplesToTheRequestedRate) {
  ScratchDir dir;
  ASSERT_TRUE(write_sound(dir.path() / "a.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 48000, 2,
                          std::vector<float>(48000 * 2, 0.25F)));
  auto audio = load_audio(dir.path() / "a.flac", 16000);
  ASSERT_TRUE(audio) << audio.error().message;
  EXPECT_EQ(audio->sample_rate, 16000);
  EXPECT_EQ(audio->samples.size(), 16000u);
  EXPECT_NEAR(audio->samples[8000], 0.25F, 1e-3);
}

// ---------------------------------------------------------------- listing

TEST(AudioFiles, FolderListingAndTextLists) {
  ScratchDir dir;
  const auto d = dir.path();
  for (const char* n : {"b.WAV", "a.flac", "c.mp3", "d.ogg", "notes.txt", "e.jpg"}) write_file(d / n, "x");
  std::filesystem::create_directory(d / "sub.wav");
  auto files = list_audio_files(d);
  ASSERT_TRUE(files);
  std::vector<std::string> names;
  for (const auto& f : *files) names.push_back(f.filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"a.flac", "b.WAV", "c.mp3", "d.ogg"}));
  EXPECT_FALSE(list_audio_files(d / "notes.txt"));

  write_file(d / "list.txt", "# clips\na.flac\n\n  /abs/x.wav  \r\nsub/y.mp3\n");
  auto listed = read_audio_list(d / "list.txt");
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0], d / "a.flac");
  EXPECT_EQ((*listed)[1], std::filesystem::path("/abs/x.wav"));
  EXPECT_EQ((*listed)[2], d / "sub/y.mp3");
  auto missing = read_audio_list(d / "nope.txt");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("nope.txt"), std::string::npos);
}

}  // namespace
}  // namespace modelkit::audio

namespace modelkit::audio {
namespace {

TEST(DecodeAudioBytes, DecodesFromMemoryLikeFromAFile) {
  testing::ScratchDir dir;
  ASSERT_TRUE(testing::write_sound(dir.path() / "a.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 22050, 2,
                                   std::vector<float>(22050, 0.5F)));
  const std::string bytes = testing::read_text(dir.path() / "a.flac");
  auto from_file = decode_audio(dir.path() / "a.flac");
  auto from_memory = decode_audio_bytes(bytes, "clip.flac");
  ASSERT_TRUE(from_file && from_memory);
  EXPECT_EQ(from_memory->samples, from_file->samples);
  EXPECT_EQ(from_memory->sample_rate, 22050);
  auto bad = decode_audio_bytes(bytes.substr(0, 10), "clip.flac");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("'clip.flac'"), std::string::npos);
  EXPECT_FALSE(decode_audio_bytes("", "empty.wav"));
}

}  // namespace
}  // namespace modelkit::audio
