// Running statistics (min/max, fixed-size histograms), the percentile and entropy range
// algorithms, and the versioned ranges file.
#include <modelkit/calib_stats.hpp>

#include "util/extremes.hpp"
#include "util/file.hpp"
#include "util/json_read.hpp"
#include "util/json_writer.hpp"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cstring>
#include <cmath>
#include <limits>

namespace modelkit::calib {
namespace {

// Smooths a distribution the way the TensorRT/MXNet KL calibration does: zero bins get eps and
// the non-zero bins give that mass back evenly. Returns false when every bin is zero.
bool smooth(std::vector<double>& p) {
  constexpr double eps = 1e-4;
  std::size_t zeros = 0;
  for (double v : p) zeros += v == 0 ? 1 : 0;
  std::size_t nonzeros = p.size() - zeros;
  if (nonzeros == 0) return false;
  double eps1 = eps * static_cast<double>(zeros) / static_cast<double>(nonzeros);
  for (double& v : p) v = v == 0 ? eps : v - eps1;
  return true;
}

double kl_divergence(const std::vector<double>& p, const std::vector<double>& q) {
  double sp = 0, sq = 0;
  for (double v : p) sp += v;
  for (double v : q) sq += v;
  double kl = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    double pn = p[i] / sp, qn = q[i] / sq;
    if (pn > 0 && qn > 0) kl += pn * std::log(pn / qn);
    else if (pn > 0) return std::numeric_limits<double>::infinity();
  }
  return kl;
}

Range clamp_symmetric(double t, float observed_min, float observed_max) {
  Range r;
  r.min = static_cast<float>(std::max<double>(-t, observed_min));
  r.max = static_cast<float>(std::min<double>(t, observed_max));
  if (r.min > r.max) r.min = r.max;  // only when nothing but one value was seen
  return r;
}

}  // namespace

// --- MinMaxStatistic ----------------------------------------------------------------------------

void MinMaxStatistic::observe(std::span<const float> values) {
  auto [lo, hi] = util::finite_extremes(values);
  if (lo > hi) return;  // no finite value in this sample
  if (samples_ == 0) {
    min_ = lo;
    max_ = hi;
  } else if (moving_average_) {
    min_ = static_cast<float>(min_ + constant_ * (static_cast<double>(lo) - min_));
    max_ = static_cast<float>(max_ + constant_ * (static_cast<double>(hi) - max_));
  } else {
    min_ = std::min(min_, lo);
    max_ = std::max(max_, hi);
  }
  ++samples_;
}

// --- Histogram ----------------------------------------------------------------------------------

Histogram::Histogram(Kind kind, std::size_t bins) : kind_(kind), counts_(bins, 0) {
  assert(bins >= 4 && bins % 4 == 0);
}

double Histogram::bin_width() const {
  double span = kind_ == Kind::absolute ? threshold_ : 2 * threshold_;
  return span / static_cast<double>(counts_.size());
}

std::uint64_t Histogram::total() const {
  std::uint64_t n = zeros_before_range_;
  for (auto c : counts_) n += c;
  return n;
}

// Doubles T until it covers amax, merging bin pairs each time. Absolute: bins [2j, 2j+1] -> j.
// Signed: the old range becomes the middle half, old bin k -> N/4 + k/2 (N % 4 == 0 keeps pairs aligned).
void Histogram::grow_to(double amax) {
  const std::size_t n = counts_.size();
  while (threshold_ <= amax) {
    if (kind_ == Kind::absolute) {
      for (std::size_t j = 0; j < n / 2; ++j) counts_[j] = counts_[2 * j] + counts_[2 * j + 1];
      std::fill(counts_.begin() + static_cast<std::ptrdiff_t>(n / 2), counts_.end(), 0);
    } else {
      std::vector<std::uint64_t> merged(n, 0);
      for (std::size_t k = 0; k < n; ++k) merged[n / 4 + k / 2] += counts_[k];
      counts_.swap(merged);
    }
    threshold_ *= 2;
  }
}

void Histogram::observe(std::span<const float> values) {
  auto [lo, hi] = util::finite_extremes(values);
  if (lo > hi) return;
  if (!any_) {
    min_ = lo;
    max_ = hi;
    any_ = true;
  } else {
    min_ = std::min(min_, lo);
    max_ = std::max(max_, hi);
  }
  double amax = std::max(std::fabs(static_cast<double>(lo)), std::fabs(static_cast<double>(hi)));
  if (threshold_ == 0) {
    if (amax == 0) {  // only zeros so far: no scale to bin them on yet
      for (float v : values) zeros_before_range_ += std::isfinite(v) ? 1 : 0;
      return;
    }
    // Slightly above the largest value, so every value lies strictly inside the range and a
    // later doubling merges bins exactly (no value sits on an edge that becomes interior).
    threshold_ = amax * (1 + std::ldexp(1.0, -20));
    // The zeros seen before the range existed belong to the bin holding 0.
    counts_[kind_ == Kind::absolute ? 0 : counts_.size() / 2] += zeros_before_range_;
    zeros_before_range_ = 0;
  } else if (amax >= threshold_) {
    grow_to(amax);
  }
  const std::size_t n = counts_.size();
  const double scale = static_cast<double>(n) / (kind_ == Kind::absolute ? threshold_ : 2 * threshold_);
  const double origin = kind_ == Kind::absolute ? 0.0 : -threshold_;
  for (float v : values) {
    if (!std::isfinite(v)) continue;
    double x = kind_ == Kind::absolute ? std::fabs(static_cast<double>(v)) : static_cast<double>(v);
    double pos = (x - origin) * scale;
    std::size_t bin = pos <= 0 ? 0 : static_cast<std::size_t>(pos);
    if (bin >= n) bin = n - 1;  // rounding at the top edge
    ++counts_[bin];
  }
}

// --- ranges from histograms ----------------------------------------------------------------------

Range percentile_range(const Histogram& h, double percentile) {
  const auto& counts = h.counts();
  std::uint64_t total = h.total();
  if (total == 0 || h.threshold() == 0) return Range{h.min(), h.max()};
  double target = percentile / 100.0 * static_cast<double>(total);
  double cumulative = 0;
  std::size_t idx = counts.size() - 1;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    cumulative += static_cast<double>(counts[i]);
    if (cumulative >= target) {
      idx = i;
      break;
    }
  }
  double t = h.lower_edge() + static_cast<double>(idx + 1) * h.bin_width();
  return clamp_symmetric(t, h.min(), h.max());
}

Range entropy_range(const Histogram& h, std::size_t quantized_bins) {
  const auto& hist = h.counts();
  const std::size_t n = hist.size();
  if (h.total() == 0 || h.threshold() == 0) return Range{h.min(), h.max()};
  const std::size_t zero_bin = n / 2;
  const std::size_t half_q = std::max<std::size_t>(1, quantized_bins / 2);
  const double width = h.bin_width();

  // Prefix sums give the outlier counts outside each window in O(1).
  std::vector<double> prefix(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + static_cast<double>(hist[i]);

  double best_kl = std::numeric_limits<double>::infinity();
  std::size_t best_i = zero_bin;
  std::vector<double> p, q;
  for (std::size_t i = std::min(half_q, zero_bin); i <= zero_bin; ++i) {
    const std::size_t start = zero_bin - i, end = zero_bin + i, size = end - start;
    if (size == 0) continue;
    p.assign(hist.begin() + static_cast<std::ptrdiff_t>(start), hist.begin() + static_cast<std::ptrdiff_t>(end));
    const std::vector<double> sliced = p;
    p.front() += prefix[start];
    p.back() += prefix[n] - prefix[end];

    const std::size_t nq = std::min(quantized_bins, size);
    const std::size_t merged = size / nq;
    q.assign(size, 0);
    for (std::size_t b = 0; b < nq; ++b) {
      const std::size_t s = b * merged;
      const std::size_t e = b + 1 == nq ? size : s + merged;  // the last bin takes the remainder
      double sum = 0;
      std::size_t nonzero = 0;
      for (std::size_t j = s; j < e; ++j) {
        sum += sliced[j];
        nonzero += p[j] != 0 ? 1 : 0;
      }
      if (nonzero == 0) continue;
      for (std::size_t j = s; j < e; ++j)
        if (p[j] != 0) q[j] = sum / static_cast<double>(nonzero);
    }
    if (!smooth(p) || !smooth(q)) continue;
    double kl = kl_divergence(p, q);
    if (kl < best_kl) {
      best_kl = kl;
      best_i = i;
    }
  }
  return clamp_symmetric(static_cast<double>(best_i) * width, h.min(), h.max());
}

// --- TensorStatistic ----------------------------------------------------------------------------

TensorStatistic::TensorStatistic(CalibrationMethod method, std::size_t bins, bool moving_average,
                                 double averaging_constant)
    : method_(method), minmax_(moving_average, averaging_constant) {
  if (method == CalibrationMethod::percentile) histogram_.emplace(Histogram::Kind::absolute, bins);
  if (method == CalibrationMethod::entropy) histogram_.emplace(Histogram::Kind::signed_values, bins);
}

void TensorStatistic::observe(std::span<const float> values) {
  if (histogram_) histogram_->observe(values);
  else minmax_.observe(values);
}

std::optional<Range> TensorStatistic::range(double percentile, std::size_t quantized_bins) const {
  if (!histogram_) {
    if (minmax_.empty()) return std::nullopt;
    return Range{minmax_.min(), minmax_.max()};
  }
  if (histogram_->total() == 0) return std::nullopt;
  if (method_ == CalibrationMethod::percentile) return percentile_range(*histogram_, percentile);
  return entropy_range(*histogram_, quantized_bins);
}

std::size_t TensorStatistic::memory_bytes() const {
  return sizeof(*this) + (histogram_ ? histogram_->memory_bytes() : 0);
}

// --- StatisticsSet ------------------------------------------------------------------------------

Result<void> CollectOptions::validate() const {
  if (!(percentile > 0 && percentile <= 100))
    return usage_error("percentile must be in (0, 100], got " + std::to_string(percentile));
  if (method != CalibrationMethod::minmax && (bins < 4 || bins % 4 != 0 || bins > (std::size_t{1} << 24)))
    return usage_error("histogram bins must be a multiple of 4 between 4 and 16777216, got " + std::to_string(bins));
  if (method == CalibrationMethod::entropy && (quantized_bins < 2 || quantized_bins > bins))
    return usage_error("entropy quantized bins must be between 2 and the histogram bins (" + std::to_string(bins) +
                       "), got " + std::to_string(quantized_bins));
  if (moving_average && !(averaging_constant > 0 && averaging_constant <= 1))
    return usage_error("moving-average constant must be in (0, 1], got " + std::to_string(averaging_constant));
  return {};
}

StatisticsSet::StatisticsSet(std::vector<std::string> tensor_names, const CollectOptions& options)
    : options_(options), names_(std::move(tensor_names)) {
  stats_.reserve(names_.size());
  for (std::size_t i = 0; i < names_.size(); ++i) {
    index_.emplace(names_[i], i);
    stats_.emplace_back(options.method, options.bins, options.moving_average, options.averaging_constant);
  }
}

namespace {
float half_to_float(std::uint16_t h) {
  std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000) << 16;
  std::uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while (!(mant & 0x400));
      bits = sign | static_cast<std::uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
}  // namespace

Result<void> StatisticsSet::observe(const Tensor& tensor) {
  auto it = index_.find(tensor.name);
  if (it == index_.end()) return failure("no statistic for tensor " + quoted(tensor.name));
  auto& stat = stats_[it->second];
  switch (tensor.type) {
    case ElementType::float32: stat.observe(tensor.values<float>()); return {};
    case ElementType::float16: {
      auto raw = tensor.values<std::uint16_t>();
      std::vector<float> converted(raw.size());
      for (std::size_t i = 0; i < raw.size(); ++i) converted[i] = half_to_float(raw[i]);
      stat.observe(converted);
      return {};
    }
    case ElementType::float64: {
      auto raw = tensor.values<double>();
      std::vector<float> converted(raw.begin(), raw.end());
      stat.observe(converted);
      return {};
    }
    default:
      return failure("tensor " + quoted(tensor.name) + " is " + element_type_name(tensor.type) +
                     ", calibration needs float values");
  }
}

TensorRanges StatisticsSet::ranges(std::vector<std::string>* empty_tensors) const {
  TensorRanges out;
  out.method = options_.method;
  out.samples = samples_;
  out.percentile = options_.percentile;
  out.bins = options_.bins;
  out.quantized_bins = options_.quantized_bins;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    auto r = stats_[i].range(options_.percentile, options_.quantized_bins);
    if (r) out.tensors.emplace(names_[i], *r);
    else if (empty_tensors) empty_tensors->push_back(names_[i]);
  }
  return out;
}

std::size_t StatisticsSet::memory_bytes() const {
  std::size_t n = 0;
  for (const auto& s : stats_) n += s.memory_bytes();
  return n;
}

// --- the ranges file ----------------------------------------------------------------------------

namespace {
// Shortest text that reads back as the same float.
std::string float_text(float v) {
  if (v == 0 && std::signbit(v)) return "-0.0";  // "-0" would read back as the integer 0
  // Nine significant digits (max_digits10), not the shortest form: the reader parses a
  // double and narrows it, and the shortest form of a subnormal can narrow to a neighbour.
  char buf[32];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 9);
  return std::string(buf, ptr);
}
}  // namespace

std::string ranges_to_json(const TensorRanges& r) {
  util::JsonWriter json;
  json.begin_object();
  json.field("schema_version", 1);
  json.field("method", method_name(r.method));
  json.field("samples", r.samples);
  json.field("percentile", r.percentile);
  json.field("bins", r.bins);
  json.field("quantized_bins", r.quantized_bins);
  json.field("model", r.model);
  json.field("source", r.source);
  json.key("tensors").begin_object();
  for (const auto& [name, range] : r.tensors) {
    json.key(name).begin_object();
    json.key("min").raw(float_text(range.min));
    json.key("max").raw(float_text(range.max));
    json.end_object();
  }
  json.end_object();
  json.end_object();
  return json.take() + "\n";
}

Result<void> write_ranges_file(const TensorRanges& ranges, const std::filesystem::path& path) {
  return util::write_file_atomic(path, ranges_to_json(ranges));
}

Result<TensorRanges> ranges_from_json(std::string_view text) {
  simdjson::dom::parser parser;
  auto root = util::parse_json(parser, text);
  if (!root) return root.take_error();
  simdjson::dom::object obj;
  if (root->get(obj) != simdjson::SUCCESS)
    return failure("ranges file must hold a JSON object, got " + std::string(util::json_type_name(*root)));

  TensorRanges out;
  auto version = util::optional_int(obj, "schema_version");
  if (!version) return version.take_error();
  if (!*version) return failure("field 'schema_version' is missing");
  if (**version != 1)
    return failure("field 'schema_version' is " + std::to_string(**version) + ", this modelkit reads version 1");

  auto method = util::optional_string(obj, "method");
  if (!method) return method.take_error();
  if (!*method) return failure("field 'method' is missing");
  auto parsed = parse_method(**method);
  if (!parsed) return failure("field 'method': " + parsed.error().message);
  out.method = *parsed;

  auto samples = util::optional_int(obj, "samples");
  if (!samples) return samples.take_error();
  if (*samples) {
    if (**samples < 0) return failure("field 'samples' must not be negative, got " + std::to_string(**samples));
    out.samples = static_cast<std::uint64_t>(**samples);
  }
  auto percentile = util::optional_number(obj, "percentile");
  if (!percentile) return percentile.take_error();
  if (*percentile) out.percentile = **percentile;
  for (auto [key, target] : {std::pair<const char*, std::uint64_t*>{"bins", &out.bins},
                             std::pair<const char*, std::uint64_t*>{"quantized_bins", &out.quantized_bins}}) {
    auto v = util::optional_int(obj, key);
    if (!v) return v.take_error();
    if (*v) {
      if (**v < 0) return failure("field '" + std::string(key) + "' must not be negative");
      *target = static_cast<std::uint64_t>(**v);
    }
  }
  for (auto [key, target] : {std::pair<const char*, std::string*>{"model", &out.model},
                             std::pair<const char*, std::string*>{"source", &out.source}}) {
    auto v = util::optional_string(obj, key);
    if (!v) return v.take_error();
    if (*v) *target = std::string(**v);
  }

  simdjson::dom::element tensors_el;
  if (obj["tensors"].get(tensors_el) != simdjson::SUCCESS) return failure("field 'tensors' is missing");
  simdjson::dom::object tensors;
  if (tensors_el.get(tensors) != simdjson::SUCCESS)
    return failure("field 'tensors' must be an object, got " + std::string(util::json_type_name(tensors_el)));
  for (auto [key, value] : tensors) {
    std::string name(key);
    std::string where = "tensors." + quoted(name);
    simdjson::dom::object entry;
    if (value.get(entry) != simdjson::SUCCESS)
      return failure(where + " must be an object with min and max, got " + std::string(util::json_type_name(value)));
    Range range;
    for (auto [field, target] : {std::pair<const char*, float*>{"min", &range.min},
                                 std::pair<const char*, float*>{"max", &range.max}}) {
      simdjson::dom::element el;
      if (entry[field].get(el) != simdjson::SUCCESS) return failure(where + "." + field + " is missing");
      double d;
      if (el.get(d) != simdjson::SUCCESS)
        return failure(where + "." + field + " must be a number, got " + std::string(util::json_type_name(el)));
      // The float32 the text names: values up to half an ulp past FLT_MAX still round to it
      // (the writer's nine digits of FLT_MAX read back as a double just above it).
      float narrowed = static_cast<float>(d);
      if (!std::isfinite(d) || !std::isfinite(narrowed))
        return failure(where + "." + field + " is not a finite float32 value");
      *target = narrowed;
    }
    if (range.min > range.max)
      return failure(where + ": min " + float_text(range.min) + " is greater than max " + float_text(range.max));
    if (!out.tensors.emplace(name, range).second) return failure("tensor " + quoted(name) + " is listed twice");
  }
  return out;
}

Result<TensorRanges> read_ranges_file(const std::filesystem::path& path) {
  auto text = util::read_file(path, std::uint64_t{1} << 30);
  if (!text) return text.take_error();
  auto r = ranges_from_json(*text);
  if (!r) return r.error().with_context(path.string());
  return r;
}

}  // namespace modelkit::calib
