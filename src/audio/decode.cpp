// Audio decoding with libsndfile (WAV, FLAC, OGG/Vorbis/Opus, MP3, ...), mono mix-down as it
// reads (memory holds only the mono result, never the interleaved file), and resampling with
// libsoxr.
#include <modelkit/audio.hpp>

#include "util/strings.hpp"

#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

namespace modelkit::audio {
namespace fs = std::filesystem;

namespace {

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

struct SndFileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};

std::string format_name(int format) {
  std::string major;
  switch (format & SF_FORMAT_TYPEMASK) {
    case SF_FORMAT_WAV: major = "WAV"; break;
    case SF_FORMAT_WAVEX: major = "WAV (extensible)"; break;
    case SF_FORMAT_RF64: major = "RF64"; break;
    case SF_FORMAT_AIFF: major = "AIFF"; break;
    case SF_FORMAT_AU: major = "AU"; break;
    case SF_FORMAT_FLAC: major = "FLAC"; break;
    case SF_FORMAT_OGG: major = "OGG"; break;
    case SF_FORMAT_MPEG: major = "MPEG"; break;
    case SF_FORMAT_W64: major = "W64"; break;
    case SF_FORMAT_CAF: major = "CAF"; break;
    default: major = "audio"; break;
  }
  std::string sub;
  switch (format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_S8: sub = "PCM 8"; break;
    case SF_FORMAT_PCM_U8: sub = "PCM 8 (unsigned)"; break;
    case SF_FORMAT_PCM_16: sub = "PCM 16"; break;
    case SF_FORMAT_PCM_24: sub = "PCM 24"; break;
    case SF_FORMAT_PCM_32: sub = "PCM 32"; break;
    case SF_FORMAT_FLOAT: sub = "float 32"; break;
    case SF_FORMAT_DOUBLE: sub = "float 64"; break;
    case SF_FORMAT_ULAW: sub = "u-law"; break;
    case SF_FORMAT_ALAW: sub = "A-law"; break;
    case SF_FORMAT_VORBIS: sub = "Vorbis"; break;
    case SF_FORMAT_OPUS: sub = "Opus"; break;
    case SF_FORMAT_MPEG_LAYER_I: sub = "layer I"; break;
    case SF_FORMAT_MPEG_LAYER_II: sub = "layer II"; break;
    case SF_FORMAT_MPEG_LAYER_III: sub = "layer III"; break;
    default: break;
  }
  return sub.empty() ? major : major + " " + sub;
}

constexpr std::string_view kAudioExtensions[] = {".wav", ".flac", ".ogg", ".oga", ".mp3"};

}  // namespace

namespace {

// Reads an opened file: checks its header, mixes down to mono as it reads, honours the caps.
Result<Audio> read_opened(SNDFILE* file, const SF_INFO& info, const std::string& who, double max_seconds) {
  Audio out;
  out.source_format = format_name(info.format);
  out.source_channels = info.channels;
  if (info.channels < 1 || info.channels > kMaxChannels)
    return failure(who + ": " + std::to_string(info.channels) + " channels (expected 1 to " +
                   std::to_string(kMaxChannels) + ")");
  if (info.samplerate < kMinSampleRate || info.samplerate > kMaxSampleRate)
    return failure(who + ": sample rate " + std::to_string(info.samplerate) + " Hz (expected " +
                   std::to_string(kMinSampleRate) + " to " + std::to_string(kMaxSampleRate) + ")");
  out.sample_rate = info.samplerate;
  if (info.frames <= 0) return failure(who + ": empty audio (0 samples)");
  out.source_seconds = static_cast<double>(info.frames) / info.samplerate;
  if (!(max_seconds > 0)) max_seconds = kDefaultMaxSeconds;
  const auto cap = std::min<sf_count_t>(static_cast<sf_count_t>(std::floor(max_seconds * info.samplerate)),
                                        kMaxDecodedSamples);
  const sf_count_t wanted = std::min(info.frames, cap);
  out.truncated = info.frames > cap;

  // Integer formats come back scaled to [-1, 1); float files as stored.
  constexpr sf_count_t kBlockFrames = 4096;
  std::vector<float> block(static_cast<size_t>(kBlockFrames) * info.channels);
  out.samples.reserve(static_cast<size_t>(wanted));
  const float scale = 1.0F / static_cast<float>(info.channels);
  while (static_cast<sf_count_t>(out.samples.size()) < wanted) {
    const sf_count_t ask = std::min(kBlockFrames, wanted - static_cast<sf_count_t>(out.samples.size()));
    const sf_count_t got = sf_readf_float(file, block.data(), ask);
    if (got <= 0) break;
    for (sf_count_t f = 0; f < got; ++f) {
      const float* frame = block.data() + f * info.channels;
      float sum = 0;
      for (int c = 0; c < info.channels; ++c) sum += frame[c];
      if (!std::isfinite(sum))
        return failure(who + ": sample " + std::to_string(out.samples.size()) + " is not a finite number");
      out.samples.push_back(info.channels == 1 ? sum : sum * scale);
    }
  }
  if (int err = sf_error(file); err != SF_ERR_NO_ERROR)
    return failure(who + ": cannot decode " + out.source_format + " data (" + sf_error_number(err) + ")");
  if (out.samples.empty()) return failure(who + ": empty audio (no samples could be decoded)");
  return out;
}

// libsndfile's virtual I/O over a byte buffer.
struct MemoryFile {
  std::string_view bytes;
  sf_count_t pos = 0;
};
sf_count_t mem_length(void* user) { return static_cast<sf_count_t>(static_cast<MemoryFile*>(user)->bytes.size()); }
sf_count_t mem_seek(sf_count_t offset, int whence, void* user) {
  auto* m = static_cast<MemoryFile*>(user);
  const auto size = static_cast<sf_count_t>(m->bytes.size());
  sf_count_t to = whence == SEEK_SET ? offset : whence == SEEK_CUR ? m->pos + offset : size + offset;
  m->pos = std::clamp<sf_count_t>(to, 0, size);
  return m->pos;
}
sf_count_t mem_read(void* ptr, sf_count_t count, void* user) {
  auto* m = static_cast<MemoryFile*>(user);
  const sf_count_t n = std::clamp<sf_count_t>(static_cast<sf_count_t>(m->bytes.size()) - m->pos, 0, count);
  std::memcpy(ptr, m->bytes.data() + m->pos, static_cast<size_t>(n));
  m->pos += n;
  return n;
}
sf_count_t mem_write(const void*, sf_count_t, void*) { return 0; }
sf_count_t mem_tell(void* user) { return static_cast<MemoryFile*>(user)->pos; }

}  // namespace

Result<Audio> decode_audio(const fs::path& path, double max_seconds) {
  const std::string who = quoted(path);
  std::error_code ec;
  // Only regular files: a FIFO or device would block or never end.
  if (!fs::is_regular_file(path, ec)) {
    if (!fs::exists(path, ec)) return failure(who + ": no such file");
    return failure(who + ": not a regular file");
  }
  if (fs::file_size(path, ec) == 0) return failure(who + ": empty file, not audio");
  SF_INFO info{};
  std::unique_ptr<SNDFILE, SndFileCloser> file(sf_open(path.c_str(), SFM_READ, &info));
  if (!file) return failure(who + ": not a readable audio file (" + std::string(sf_strerror(nullptr)) + ")");
  return read_opened(file.get(), info, who, max_seconds);
}

Result<Audio> decode_audio_bytes(std::string_view bytes, std::string_view name, double max_seconds) {
  const std::string who = "'" + std::string(name) + "'";
  if (bytes.empty()) return failure(who + ": empty file, not audio");
  MemoryFile memory{bytes, 0};
  SF_VIRTUAL_IO io{mem_length, mem_seek, mem_read, mem_write, mem_tell};
  SF_INFO info{};
  std::unique_ptr<SNDFILE, SndFileCloser> file(sf_open_virtual(&io, SFM_READ, &info, &memory));
  if (!file) return failure(who + ": not a readable audio file (" + std::string(sf_strerror(nullptr)) + ")");
  return read_opened(file.get(), info, who, max_seconds);
}

Result<std::vector<float>> resample(std::span<const float> samples, int from_rate, int to_rate) {
  if (from_rate <= 0 || to_rate <= 0)
    return failure("resample: sample rates must be positive, got " + std::to_string(from_rate) + " -> " +
                   std::to_string(to_rate));
  if (from_rate == to_rate || samples.empty()) return std::vector<float>(samples.begin(), samples.end());
  const double ratio = static_cast<double>(to_rate) / from_rate;
  const auto out_len = static_cast<size_t>(std::ceil(static_cast<double>(samples.size()) * ratio));
  std::vector<float> out(out_len + 16);
  size_t done_in = 0, done_out = 0;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  soxr_error_t err = soxr_oneshot(from_rate, to_rate, 1, samples.data(), samples.size(), &done_in, out.data(),
                                  out.size(), &done_out, &io, &quality, nullptr);
  if (err) return failure(std::string("resample: libsoxr failed (") + err + ")");
  out.resize(std::min(done_out, out_len));
  return out;
}

Result<Audio> load_audio(const fs::path& path, int sample_rate, double max_seconds) {
  MODELKIT_TRY(auto audio, decode_audio(path, max_seconds));
  if (audio.sample_rate != sample_rate) {
    MODELKIT_TRY_CTX(auto resampled, resample(audio.samples, audio.sample_rate, sample_rate), quoted(path));
    audio.samples = std::move(resampled);
    audio.sample_rate = sample_rate;
    if (audio.samples.empty()) return failure(quoted(path) + ": too short to resample to " +
                                               std::to_string(sample_rate) + " Hz");
  }
  return audio;
}

Result<std::vector<fs::path>> list_audio_files(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return failure(quoted(dir) + " is not a folder" + (ec ? " (" + ec.message() + ")" : ""));
  std::vector<fs::path> files;
  fs::directory_iterator it(dir, ec);
  if (ec) return failure("cannot list " + quoted(dir) + ": " + ec.message());
  for (const auto& entry : it) {
    const std::string ext = util::to_lower(entry.path().extension().string());
    if (std::find(std::begin(kAudioExtensions), std::end(kAudioExtensions), ext) == std::end(kAudioExtensions))
      continue;
    if (!entry.is_regular_file(ec)) continue;
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

Result<std::vector<fs::path>> read_audio_list(const fs::path& list) {
  std::error_code ec;
  if (!fs::is_regular_file(list, ec)) return failure(quoted(list) + ": no such file");
  // A list of paths is small; a 16 MiB cap keeps a wrong file from being read whole.
  constexpr std::uintmax_t kMaxListBytes = 16u << 20;
  if (fs::file_size(list, ec) > kMaxListBytes)
    return failure(quoted(list) + ": larger than 16 MiB; expected a list of audio paths, one a line");
  std::ifstream in(list, std::ios::binary);
  if (!in) return failure("cannot read " + quoted(list));
  std::vector<fs::path> out;
  std::string line;
  size_t line_no = 0;
  const fs::path base = list.parent_path();
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto trimmed = util::trim(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    if (!util::valid_utf8(trimmed) || trimmed.find('\0') != std::string_view::npos)
      return failure(quoted(list) + " line " + std::to_string(line_no) + ": not a valid path");
    fs::path p{std::string(trimmed)};
    out.push_back(p.is_absolute() ? p : base / p);
  }
  return out;
}

}  // namespace modelkit::audio
