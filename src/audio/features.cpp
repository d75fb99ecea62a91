// The three feature extractors. Each reproduces what transformers computes for one utterance
// (facts in docs/audio.md):
//   Wav2Vec2  the waveform, padded/truncated, normalized to zero mean and unit variance
//             (variance + 1e-7) over the real samples when a mask is returned, else over all.
//   Whisper   waveform padded/trimmed to chunk_length s; centred STFT (reflect padding, periodic
//             Hann window of n_fft, hop), power spectrum, Slaney mel filters from 0 to 8 kHz,
//             log10 of max(mel, 1e-10), last frame dropped, clamped at (max - 8), (x + 4) / 4.
//   AST       Kaldi fbank as torchaudio.compliance.kaldi.fbank computes it with the arguments
//             transformers passes: 25 ms frames every 10 ms without padding (snip edges), each
//             frame minus its mean, pre-emphasis 0.97, symmetric Hann window, zero-padded to a
//             power of two, power spectrum, Kaldi mel bins (1127 ln(1 + f/700)) from 20 Hz to
//             Nyquist, natural log of max(energy, FLT_EPSILON); then padded with zeros or
//             truncated to max_length frames and normalized as (x - mean) / (2 std).
// FFTs run on FFTW plans (single precision for Whisper, double for Kaldi fbank, see Impl), made once per extractor under a lock (the FFTW
// planner is not thread-safe) and executed on per-call buffers (the new-array execute is).
#include <modelkit/audio.hpp>

#include <fftw3.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <complex>
#include <mutex>
#include <numbers>

namespace modelkit::audio {
namespace {

// Bounds on what one utterance may expand to, whatever the config says.
constexpr std::int64_t kMaxUtteranceSamples = std::int64_t{1} << 25;  // ~35 min at 16 kHz
constexpr std::int64_t kMaxFeatureValues = std::int64_t{1} << 26;

std::mutex& planner_mutex() {
  static std::mutex m;
  return m;
}

// ---------------------------------------------------------------- mel scales

double hz_to_slaney_mel(double hz) {
  constexpr double min_log_hz = 1000.0, min_log_mel = 15.0;
  const double logstep = 27.0 / std::log(6.4);
  if (hz >= min_log_hz) return min_log_mel + std::log(hz / min_log_hz) * logstep;
  return 3.0 * hz / 200.0;
}

double slaney_mel_to_hz(double mel) {
  constexpr double min_log_hz = 1000.0, min_log_mel = 15.0;
  const double logstep = std::log(6.4) / 27.0;
  if (mel >= min_log_mel) return min_log_hz * std::exp(logstep * (mel - min_log_mel));
  return 200.0 * mel / 3.0;
}

double hz_to_kaldi_mel(double hz) { return 1127.0 * std::log(1.0 + hz / 700.0); }

// A band of a filter bank: its non-zero weights start at `first`.
struct Band {
  int first = 0;
  std::vector<float> weights;
};

// Dense [bins][filters] (or [filters][bins]) to sparse bands, one per filter.
std::vector<Band> to_bands(const std::vector<double>& dense, int filters, int bins, bool filter_major) {
  std::vector<Band> bands(static_cast<size_t>(filters));
  for (int m = 0; m < filters; ++m) {
    auto at = [&](int k) { return filter_major ? dense[static_cast<size_t>(m) * bins + k] : dense[static_cast<size_t>(k) * filters + m]; };
    int first = bins, last = -1;
    for (int k = 0; k < bins; ++k)
      if (at(k) != 0) {
        first = std::min(first, k);
        last = k;
      }
    if (last < 0) continue;
    bands[m].first = first;
    for (int k = first; k <= last; ++k) bands[m].weights.push_back(static_cast<float>(at(k)));
  }
  return bands;
}

// ---------------------------------------------------------------- FFT

// FFTW's single- and double-precision r2c plans behind one interface.
template <class Real>
struct FftwApi;
template <>
struct FftwApi<float> {
  using Plan = fftwf_plan;
  static Plan plan(int n, float* in, std::complex<float>* out, unsigned flags) {
    return fftwf_plan_dft_r2c_1d(n, in, reinterpret_cast<fftwf_complex*>(out), flags);
  }
  static void run(Plan p, float* in, std::complex<float>* out) {
    fftwf_execute_dft_r2c(p, in, reinterpret_cast<fftwf_complex*>(out));
  }
  static void destroy(Plan p) { fftwf_destroy_plan(p); }
};
template <>
struct FftwApi<double> {
  using Plan = fftw_plan;
  static Plan plan(int n, double* in, std::complex<double>* out, unsigned flags) {
    return fftw_plan_dft_r2c_1d(n, in, reinterpret_cast<fftw_complex*>(out), flags);
  }
  static void run(Plan p, double* in, std::complex<double>* out) {
    fftw_execute_dft_r2c(p, in, reinterpret_cast<fftw_complex*>(out));
  }
  static void destroy(Plan p) { fftw_destroy_plan(p); }
};

template <class Real>
class RealFft {
 public:
  using Api = FftwApi<Real>;
  explicit RealFft(int n) : n_(n) {
    std::vector<Real> in(static_cast<size_t>(n));
    std::vector<std::complex<Real>> out(static_cast<size_t>(n / 2 + 1));
    std::lock_guard lock(planner_mutex());
    plan_ = Api::plan(n, in.data(), out.data(), FFTW_ESTIMATE | FFTW_UNALIGNED | FFTW_PRESERVE_INPUT);
  }
  RealFft(const RealFft&) = delete;
  RealFft& operator=(const RealFft&) = delete;
  ~RealFft() {
    if (plan_) {
      std::lock_guard lock(planner_mutex());
      Api::destroy(plan_);
    }
  }
  [[nodiscard]] bool ok() const { return plan_ != nullptr; }
  [[nodiscard]] int size() const { return n_; }
  // in: n values; out: n/2 + 1 complex values.
  void run(Real* in, std::complex<Real>* out) const { Api::run(plan_, in, out); }

 private:
  int n_;
  typename Api::Plan plan_ = nullptr;
};

// Zero mean, unit variance over the first `length` values (variance + 1e-7, as transformers);
// the rest set to `padding`.
void normalize_utterance(std::vector<float>& x, size_t length, float padding) {
  length = std::min(length, x.size());
  if (length == 0) return;
  double sum = 0;
  for (size_t i = 0; i < length; ++i) sum += x[i];
  const double mean = sum / static_cast<double>(length);
  double sq = 0;
  for (size_t i = 0; i < length; ++i) sq += (x[i] - mean) * (x[i] - mean);
  const double inv = 1.0 / std::sqrt(sq / static_cast<double>(length) + 1e-7);
  for (size_t i = 0; i < length; ++i) x[i] = static_cast<float>((x[i] - mean) * inv);
  for (size_t i = length; i < x.size(); ++i) x[i] = padding;
}

}  // namespace

std::vector<double> slaney_mel_filters(int n_fft, int n_mels, int sampling_rate, double min_hz, double max_hz) {
  const int n_freq = n_fft / 2 + 1;
  const double mel_min = hz_to_slaney_mel(min_hz), mel_max = hz_to_slaney_mel(max_hz);
  std::vector<double> filter_hz(static_cast<size_t>(n_mels + 2));
  for (int i = 0; i < n_mels + 2; ++i)
    filter_hz[i] = slaney_mel_to_hz(mel_min + (mel_max - mel_min) * i / (n_mels + 1));
  std::vector<double> fft_hz(static_cast<size_t>(n_freq));
  const double nyquist = static_cast<double>(sampling_rate / 2);  // integer division, as transformers
  for (int k = 0; k < n_freq; ++k) fft_hz[k] = n_freq == 1 ? 0.0 : nyquist * k / (n_freq - 1);
  std::vector<double> out(static_cast<size_t>(n_freq) * n_mels, 0.0);
  for (int m = 0; m < n_mels; ++m) {
    const double left = filter_hz[m], center = filter_hz[m + 1], right = filter_hz[m + 2];
    const double enorm = 2.0 / (right - left);
    for (int k = 0; k < n_freq; ++k) {
      const double down = (fft_hz[k] - left) / (center - left);
      const double up = (right - fft_hz[k]) / (right - center);
      out[static_cast<size_t>(k) * n_mels + m] = std::max(0.0, std::min(down, up)) * enorm;
    }
  }
  return out;
}

std::vector<double> kaldi_mel_banks(int num_bins, int padded_window, int sampling_rate, double low_hz,
                                    double high_hz) {
  const int num_fft_bins = padded_window / 2;
  const double nyquist = 0.5 * sampling_rate;
  if (high_hz <= 0) high_hz += nyquist;
  const double bin_width = static_cast<double>(sampling_rate) / padded_window;
  const double mel_low = hz_to_kaldi_mel(low_hz), mel_high = hz_to_kaldi_mel(high_hz);
  const double delta = (mel_high - mel_low) / (num_bins + 1);
  std::vector<double> out(static_cast<size_t>(num_bins) * (num_fft_bins + 1), 0.0);
  for (int b = 0; b < num_bins; ++b) {
    const double left = mel_low + b * delta, center = mel_low + (b + 1) * delta, right = mel_low + (b + 2) * delta;
    for (int k = 0; k < num_fft_bins; ++k) {
      const double mel = hz_to_kaldi_mel(bin_width * k);
      const double up = (mel - left) / (center - left);
      const double down = (right - mel) / (right - center);
      out[static_cast<size_t>(b) * (num_fft_bins + 1) + k] = std::max(0.0, std::min(up, down));
    }
  }
  return out;
}

struct FeatureExtractor::Impl {
  FeatureExtractorConfig config;
  // Whisper's log-mel is clamped 8 decades below its maximum, where single precision is ample.
  // Kaldi's fbank takes the log of every bin down to FLT_EPSILON: bins 1e-7 below a frame's
  // energy need the double-precision transform to stay within 1e-4 of the reference.
  std::unique_ptr<RealFft<float>> fft;
  std::unique_ptr<RealFft<double>> fft64;
  std::vector<float> window;     // frame length (Whisper)
  std::vector<double> window64;  // frame length (AST)
  std::vector<Band> bands;    // one per mel filter
  int frame_length = 0, frame_shift = 0;
  std::int64_t natural_samples = 0;

  [[nodiscard]] Result<Features> wav2vec2(std::span<const float> samples, std::int64_t target) const;
  [[nodiscard]] Result<Features> whisper(std::span<const float> samples) const;
  [[nodiscard]] Result<Features> ast(std::span<const float> samples) const;
};

Result<Features> FeatureExtractor::Impl::wav2vec2(std::span<const float> samples, std::int64_t target) const {
  const auto n = static_cast<std::int64_t>(samples.size());
  const std::int64_t out_len = target > 0 ? target : n;
  if (out_len > kMaxUtteranceSamples)
    return failure("utterance of " + std::to_string(out_len) + " samples is longer than the " +
                   std::to_string(kMaxUtteranceSamples) + " allowed");
  std::vector<float> x(static_cast<size_t>(out_len), config.padding_value);
  const std::int64_t real = std::min(n, out_len);
  std::copy_n(samples.begin(), real, x.begin());
  if (config.do_normalize)
    normalize_utterance(x, static_cast<size_t>(config.return_attention_mask ? real : out_len), config.padding_value);
  Features f;
  f.name = "input_values";
  f.shape = {1, out_len};
  f.data = std::move(x);
  if (config.return_attention_mask) {
    f.attention_mask.assign(static_cast<size_t>(out_len), 0);
    std::fill_n(f.attention_mask.begin(), real, 1);
  }
  return f;
}

Result<Features> FeatureExtractor::Impl::whisper(std::span<const float> samples) const {
  const std::int64_t n = natural_samples;
  std::vector<float> x(static_cast<size_t>(n), config.padding_value);
  const auto real = std::min<std::int64_t>(static_cast<std::int64_t>(samples.size()), n);
  std::copy_n(samples.begin(), real, x.begin());
  if (config.do_normalize) normalize_utterance(x, static_cast<size_t>(real), config.padding_value);

  const int n_fft = config.n_fft, hop = config.hop_length, half = n_fft / 2, n_mels = config.feature_size;
  const std::int64_t frames = 1 + (n + 2 * half - n_fft) / hop - 1;  // the last frame is dropped
  auto reflect = [n](std::int64_t j) {
    if (j < 0) return -j;
    if (j >= n) return 2 * (n - 1) - j;
    return j;
  };
  std::vector<float> frame(static_cast<size_t>(n_fft));
  std::vector<std::complex<float>> spectrum(static_cast<size_t>(n_fft / 2 + 1));
  std::vector<double> power(spectrum.size());
  std::vector<double> log_mel(static_cast<size_t>(n_mels) * frames);
  double max_value = -HUGE_VAL;
  for (std::int64_t t = 0; t < frames; ++t) {
    const std::int64_t start = t * hop - half;
    for (int i = 0; i < n_fft; ++i) frame[i] = x[static_cast<size_t>(reflect(start + i))] * window[i];
    fft->run(frame.data(), spectrum.data());
    for (size_t k = 0; k < spectrum.size(); ++k)
      power[k] = static_cast<double>(spectrum[k].real()) * spectrum[k].real() +
                 static_cast<double>(spectrum[k].imag()) * spectrum[k].imag();
    for (int m = 0; m < n_mels; ++m) {
      const Band& band = bands[m];
      double e = 0;
      for (size_t k = 0; k < band.weights.size(); ++k) e += band.weights[k] * power[band.first + k];
      const double v = std::log10(std::max(e, 1e-10));
      log_mel[static_cast<size_t>(m) * frames + t] = v;
      max_value = std::max(max_value, v);
    }
  }
  Features f;
  f.name = "input_features";
  f.shape = {1, n_mels, frames};
  f.data.resize(log_mel.size());
  const double floor_value = max_value - 8.0;
  for (size_t i = 0; i < log_mel.size(); ++i) f.data[i] = static_cast<float>((std::max(log_mel[i], floor_value) + 4.0) / 4.0);
  if (config.return_attention_mask) {
    // One mask entry per frame: a frame is real when its hop starts inside the real samples.
    f.attention_mask.assign(static_cast<size_t>(frames), 0);
    for (std::int64_t t = 0; t < frames; ++t) f.attention_mask[t] = t * hop < real ? 1 : 0;
  }
  return f;
}

Result<Features> FeatureExtractor::Impl::ast(std::span<const float> samples) const {
  const auto n = static_cast<std::int64_t>(samples.size());
  const int bins = config.num_mel_bins, max_frames = config.max_length;
  const std::int64_t frames = n < frame_length ? 0 : 1 + (n - frame_length) / frame_shift;
  const std::int64_t kept = std::min<std::int64_t>(frames, max_frames);
  const int padded = fft64->size();
  std::vector<float> fbank(static_cast<size_t>(max_frames) * bins, 0.0F);
  std::vector<double> raw(static_cast<size_t>(frame_length));
  std::vector<double> frame(static_cast<size_t>(padded), 0.0);
  std::vector<std::complex<double>> spectrum(static_cast<size_t>(padded / 2 + 1));
  std::vector<double> power(spectrum.size());
  for (std::int64_t t = 0; t < kept; ++t) {
    const float* src = samples.data() + t * frame_shift;
    double sum = 0;
    for (int i = 0; i < frame_length; ++i) sum += src[i];
    const double mean = sum / frame_length;
    for (int i = 0; i < frame_length; ++i) raw[i] = src[i] - mean;
    // Pre-emphasis; the first sample uses itself as its predecessor.
    for (int i = 0; i < frame_length; ++i)
      frame[i] = (raw[i] - 0.97 * raw[i == 0 ? 0 : i - 1]) * window64[i];
    fft64->run(frame.data(), spectrum.data());
    for (size_t k = 0; k < spectrum.size(); ++k) power[k] = std::norm(spectrum[k]);
    for (int b = 0; b < bins; ++b) {
      const Band& band = bands[b];
      double e = 0;
      for (size_t k = 0; k < band.weights.size(); ++k) e += band.weights[k] * power[band.first + k];
      fbank[static_cast<size_t>(t) * bins + b] = static_cast<float>(std::log(std::max(e, static_cast<double>(FLT_EPSILON))));
    }
  }
  if (config.do_normalize) {
    const double scale = 1.0 / (config.std * 2.0);
    for (auto& v : fbank) v = static_cast<float>((v - config.mean) * scale);
  }
  Features f;
  f.name = "input_values";
  f.shape = {1, max_frames, bins};
  f.data = std::move(fbank);
  if (config.return_attention_mask) {
    f.attention_mask.assign(static_cast<size_t>(max_frames), 0);
    std::fill_n(f.attention_mask.begin(), kept, 1);
  }
  return f;
}

FeatureExtractor::FeatureExtractor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FeatureExtractor::FeatureExtractor(FeatureExtractor&&) noexcept = default;
FeatureExtractor& FeatureExtractor::operator=(FeatureExtractor&&) noexcept = default;
FeatureExtractor::~FeatureExtractor() = default;

const FeatureExtractorConfig& FeatureExtractor::config() const { return impl_->config; }
std::int64_t FeatureExtractor::natural_samples() const { return impl_->natural_samples; }

Result<FeatureExtractor> FeatureExtractor::create(const FeatureExtractorConfig& config) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  const std::string who(config.extractor_type.empty() ? extractor_kind_name(config.kind) : config.extractor_type);
  switch (config.kind) {
    case ExtractorKind::wav2vec2: break;
    case ExtractorKind::whisper: {
      const std::int64_t n = static_cast<std::int64_t>(config.chunk_length) * config.sampling_rate;
      if (n > kMaxUtteranceSamples) return failure(who + ": chunk_length * sampling_rate is too large (" + std::to_string(n) + " samples)");
      if (config.n_fft < 2 || n <= config.n_fft / 2)
        return failure(who + ": n_fft " + std::to_string(config.n_fft) + " does not fit a chunk of " + std::to_string(n) + " samples");
      const std::int64_t frames = (n + 2 * (config.n_fft / 2) - config.n_fft) / config.hop_length;
      if (frames < 1 || frames * config.feature_size > kMaxFeatureValues)
        return failure(who + ": " + std::to_string(frames) + " frames of " + std::to_string(config.feature_size) +
                       " mel bins is outside what modelkit computes");
      impl->natural_samples = n;
      impl->frame_length = config.n_fft;
      impl->frame_shift = config.hop_length;
      impl->window.resize(static_cast<size_t>(config.n_fft));
      for (int i = 0; i < config.n_fft; ++i)  // periodic Hann
        impl->window[i] = static_cast<float>(0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * i / config.n_fft));
      auto dense = slaney_mel_filters(config.n_fft, config.feature_size, config.sampling_rate, 0.0, 8000.0);
      impl->bands = to_bands(dense, config.feature_size, config.n_fft / 2 + 1, false);
      impl->fft = std::make_unique<RealFft<float>>(config.n_fft);
      break;
    }
    case ExtractorKind::ast: {
      // torchaudio: int(sample_frequency * frame_length_ms * 0.001), same for the shift.
      impl->frame_length = static_cast<int>(config.sampling_rate * 25.0 * 0.001);
      impl->frame_shift = static_cast<int>(config.sampling_rate * 10.0 * 0.001);
      if (impl->frame_length < 2 || impl->frame_shift < 1) return failure(who + ": sampling rate too low for 25 ms frames");
      if (static_cast<std::int64_t>(config.max_length) * config.num_mel_bins > kMaxFeatureValues)
        return failure(who + ": max_length * num_mel_bins is too large");
      int padded = 1;
      while (padded < impl->frame_length) padded *= 2;
      impl->natural_samples = static_cast<std::int64_t>(config.max_length - 1) * impl->frame_shift + impl->frame_length;
      impl->window64.resize(static_cast<size_t>(impl->frame_length));
      for (int i = 0; i < impl->frame_length; ++i)  // symmetric Hann ("hanning")
        impl->window64[i] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * i / (impl->frame_length - 1));
      auto dense = kaldi_mel_banks(config.num_mel_bins, padded, config.sampling_rate, 20.0, 0.0);
      impl->bands = to_bands(dense, config.num_mel_bins, padded / 2 + 1, true);
      impl->fft64 = std::make_unique<RealFft<double>>(padded);
      break;
    }
  }
  if ((impl->fft && !impl->fft->ok()) || (impl->fft64 && !impl->fft64->ok()))
    return failure(who + ": FFTW could not plan the FFT");
  return FeatureExtractor(std::move(impl));
}

Result<Features> FeatureExtractor::extract(std::span<const float> samples, std::int64_t target_samples) const {
  if (samples.empty()) return failure("no samples to extract features from");
  if (static_cast<std::int64_t>(samples.size()) > kMaxUtteranceSamples)
    return failure("utterance of " + std::to_string(samples.size()) + " samples is longer than the " +
                   std::to_string(kMaxUtteranceSamples) + " allowed");
  switch (impl_->config.kind) {
    case ExtractorKind::wav2vec2: return impl_->wav2vec2(samples, target_samples);
    case ExtractorKind::whisper: return impl_->whisper(samples);
    case ExtractorKind::ast: return impl_->ast(samples);
  }
  return failure("unknown feature extractor");
}

}  // namespace modelkit::audio
