// Calibration statistics: running per-tensor statistics over a model's activations, the
// ranges they give (minmax, percentile, entropy), collecting them by running the float model in
// ONNX Runtime over a calibration SampleSource, and the ranges file (docs/design.md,
// "The build"; `--save-ranges` / `--ranges`).
//
// Memory: every statistic is fixed-size (a min/max pair or a histogram of a fixed bin count),
// so collecting over 10 or 10,000 samples holds the same state; the only per-sample memory is
// the one sample's activations ONNX Runtime returns.
//
// Histograms and range growth: a histogram keeps `bins` bins over [0, T) (percentile, absolute
// values) or [-T, T) (entropy, signed values). T is set just above the largest magnitude of the
// first sample with a non-zero value; when a later sample reaches T, T doubles (as often as needed) and adjacent bin pairs
// are merged, which is exact (no interpolation) and keeps the bin count fixed. The resolution
// is thus at worst half of a histogram fitted to the final range. (onnxruntime's
// HistogramCollector instead appends bins, so its histograms grow with the range.)
//
// Non-finite values (NaN, +-inf) do not enter any statistic.
#pragma once

#include <modelkit/calibration.hpp>
#include <modelkit/result.hpp>
#include <modelkit/settings.hpp>
#include <modelkit/tensor.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace modelkit::calib {

using modelkit::CalibrationMethod;  // settings.hpp: the table of methods

[[nodiscard]] inline std::string_view method_name(CalibrationMethod m) { return setting_name(m); }
// Usage error naming the text and the accepted names.
[[nodiscard]] inline Result<CalibrationMethod> parse_method(std::string_view text) {
  return parse_setting<CalibrationMethod>(text);
}

// --- statistics over float values ---------------------------------------------------------------

// Running min/max; with moving_average (as onnxruntime's MinMaxCalibrater option) each sample's
// own min/max is blended in: m = m + c * (sample_m - m), the first sample taken as is.
class MinMaxStatistic {
 public:
  explicit MinMaxStatistic(bool moving_average = false, double averaging_constant = 0.01)
      : moving_average_(moving_average), constant_(averaging_constant) {}
  void observe(std::span<const float> values);
  [[nodiscard]] bool empty() const { return samples_ == 0; }
  [[nodiscard]] float min() const { return min_; }
  [[nodiscard]] float max() const { return max_; }

 private:
  bool moving_average_;
  double constant_;
  std::uint64_t samples_ = 0;  // samples with at least one finite value
  float min_ = 0, max_ = 0;
};

// A fixed-size histogram, over |x| in [0, T] (absolute) or x in [-T, T] (signed); see above.
class Histogram {
 public:
  enum class Kind { absolute, signed_values };
  // bins: at least 4 and a multiple of 4 (checked by CollectOptions::validate; asserted here).
  Histogram(Kind kind, std::size_t bins);

  void observe(std::span<const float> values);

  [[nodiscard]] Kind kind() const { return kind_; }
  [[nodiscard]] const std::vector<std::uint64_t>& counts() const { return counts_; }
  [[nodiscard]] double threshold() const { return threshold_; }  // T; 0 while only zeros were seen
  [[nodiscard]] double lower_edge() const { return kind_ == Kind::absolute ? 0.0 : -threshold_; }
  [[nodiscard]] double bin_width() const;
  [[nodiscard]] std::uint64_t total() const;  // finite values seen
  [[nodiscard]] float min() const { return min_; }  // observed extremes (signed values)
  [[nodiscard]] float max() const { return max_; }
  // Heap bytes held; the same for every sample count.
  [[nodiscard]] std::size_t memory_bytes() const { return counts_.capacity() * sizeof(std::uint64_t); }

 private:
  void grow_to(double amax);
  Kind kind_;
  std::vector<std::uint64_t> counts_;
  double threshold_ = 0;
  std::uint64_t zeros_before_range_ = 0;  // values seen while T was still 0 (all exactly 0)
  bool any_ = false;
  float min_ = 0, max_ = 0;
};

struct Range {
  float min = 0;
  float max = 0;
};

// Percentile range from an absolute-value histogram (onnxruntime's symmetric percentile):
// t = upper edge of the bin where the cumulative count first reaches percentile% of the total;
// the range is [-t, t] clamped to the observed [min, max]. percentile in (0, 100].
[[nodiscard]] Range percentile_range(const Histogram& absolute, double percentile);

// Entropy (KL divergence) range from a signed histogram, the TensorRT / MXNet algorithm that
// onnxruntime's EntropyCalibrater uses: for every symmetric window of 2i bins around zero
// (i from quantized_bins/2 to bins/2), p = the window with the outside counts folded into its
// end bins, q = the window merged into `quantized_bins` bins and expanded back over p's
// non-zero bins; both smoothed (eps 1e-4); the window with the smallest KL(p || q) gives t, and
// the range is [-t, t] clamped to the observed [min, max]. Differences from onnxruntime: the
// windows are exactly symmetric (onnxruntime's are one bin wider on the right with an even bin
// count), q is spread in floating point (onnxruntime truncates to integers) and only over p's
// non-zero bins with the last group taking the remainder, as MXNet does (onnxruntime fills every
// bin of a group and leaves the remainder bins at 0). On sparse histograms these move t by many
// bins (tests/unit/calib/calibrator_reference_test.cpp checks the rest against a numpy reference
// with these departures switched on).
[[nodiscard]] Range entropy_range(const Histogram& signed_values, std::size_t quantized_bins);

// One tensor's statistic for a method.
class TensorStatistic {
 public:
  TensorStatistic(CalibrationMethod method, std::size_t bins, bool moving_average, double averaging_constant);
  void observe(std::span<const float> values);
  [[nodiscard]] std::optional<Range> range(double percentile, std::size_t quantized_bins) const;  // nullopt: nothing seen
  [[nodiscard]] std::size_t memory_bytes() const;

 private:
  CalibrationMethod method_;
  MinMaxStatistic minmax_;
  std::optional<Histogram> histogram_;
};

// --- ranges ------------------------------------------------------------------------------------

struct TensorRanges {
  CalibrationMethod method = CalibrationMethod::minmax;
  std::uint64_t samples = 0;
  double percentile = 99.999;  // recorded for percentile
  std::uint64_t bins = 2048;   // histogram bins (percentile, entropy)
  std::uint64_t quantized_bins = 128;  // entropy
  std::string model;           // file name of the model they were collected on (informational)
  std::string source;          // SampleSource::describe()
  std::map<std::string, Range> tensors;
};

// The ranges file, schema_version 1:
// {"schema_version": 1, "method": "minmax", "samples": 100, "percentile": 99.999, "bins": 2048,
//  "quantized_bins": 128, "model": "model.onnx", "source": "random: ...",
//  "tensors": {"name": {"min": -1.5, "max": 3.25}, ...}}
// Floats are written with enough digits to read back bit-identical.
[[nodiscard]] std::string ranges_to_json(const TensorRanges& ranges);
[[nodiscard]] Result<void> write_ranges_file(const TensorRanges& ranges, const std::filesystem::path& path);
// Errors are one line naming the file and the field ("ranges.json: tensors.'x'.min must be a
// number, got a string"); unknown schema versions, min > max and non-finite values are refused.
[[nodiscard]] Result<TensorRanges> ranges_from_json(std::string_view json);
[[nodiscard]] Result<TensorRanges> read_ranges_file(const std::filesystem::path& path);

// --- collecting over a model --------------------------------------------------------------------

struct CollectProgress {
  std::uint64_t samples_done = 0;
  std::uint64_t samples_total = 0;  // the sample limit; 0 when unknown (run until the source ends)
  double elapsed_seconds = 0;
};

// The float model's own outputs on samples run through the calibration session after the
// calibration samples (CollectOptions::reference_source), so validation can compare the
// quantized model against them without loading the float model again.
struct ReferenceOutputs {
  std::vector<std::string> names;            // the model's outputs, in its order
  std::vector<std::vector<Tensor>> samples;  // per sample, one tensor per name
};

struct CollectOptions {
  CalibrationMethod method = CalibrationMethod::minmax;
  std::uint64_t max_samples = 100;  // 0: until the source is exhausted
  double percentile = 99.999;
  std::size_t bins = 2048;          // percentile and entropy histograms
  std::size_t quantized_bins = 128;  // entropy
  bool moving_average = false;      // minmax only
  double averaging_constant = 0.01;
  int intra_op_threads = 0;         // ORT threads; 0 = ORT's default
  // Called after every sample (from the calling thread).
  std::function<void(const CollectProgress&)> progress;
  // Checked before every sample; when set, collection stops with an error "calibration
  // cancelled after N samples" (the CLI's Ctrl-C handler sets it).
  const std::atomic<bool>* cancel = nullptr;
  // When both are set: after calibration, every sample of reference_source (rewound first) runs
  // through the same session and the model's own outputs are stored in *reference_outputs.
  SampleSource* reference_source = nullptr;
  ReferenceOutputs* reference_outputs = nullptr;

  // Usage errors for out-of-range settings, naming the setting.
  [[nodiscard]] Result<void> validate() const;
};

// Statistics of tensors of one model, fed one sample's activations at a time. Exposed so
// callers (and tests) can drive it without ONNX Runtime.
class StatisticsSet {
 public:
  StatisticsSet(std::vector<std::string> tensor_names, const CollectOptions& options);
  // Observes one tensor's values by name (float32, float16 and float64 are read; other element
  // types are an error naming the tensor).
  [[nodiscard]] Result<void> observe(const Tensor& tensor);
  void finish_sample() { ++samples_; }
  // Ranges of the tensors that saw at least one finite value; `empty_tensors` receives the rest.
  [[nodiscard]] TensorRanges ranges(std::vector<std::string>* empty_tensors = nullptr) const;
  [[nodiscard]] std::size_t memory_bytes() const;
  [[nodiscard]] std::uint64_t samples() const { return samples_; }

 private:
  CollectOptions options_;
  std::vector<std::string> names_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::vector<TensorStatistic> stats_;
  std::uint64_t samples_ = 0;
};

// Runs the float model over `source` with `tensor_names` exposed as outputs (they may be node
// outputs, graph inputs or initializers of the main graph, or values inside If branches, which
// are routed out through the If's outputs), and returns their ranges. For minmax the graph
// computes each tensor's {min, max} of finite values with the calibration op (runtime.hpp's
// FiniteMinMax, one pass right after the tensor is produced) and only those pairs leave ONNX
// Runtime, the main graph's concatenated into one output; NaN and infinities are skipped, as
// the value statistics skip them. Percentile and entropy read the whole tensors. Errors: unknown
// tensor names, model/ORT failures, a source that yields no sample, cancellation. Tensors that
// never held a finite value (e.g. an If branch that never ran) are left out of the result.
[[nodiscard]] Result<TensorRanges> collect_ranges(const std::filesystem::path& model_path,
                                                  std::span<const std::string> tensor_names, SampleSource& source,
                                                  const CollectOptions& options = {});

}  // namespace modelkit::calib
