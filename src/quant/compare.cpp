// compare_models: the float and the quantized model on the same samples; per output the
// metrics of docs/validation.md, accumulated in double; validation_warnings decides which of
// them warrant a warning.
#include <modelkit/quantize.hpp>
#include <modelkit/runtime.hpp>

#include "quant/report_json.hpp"
#include "util/json_writer.hpp"

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>

namespace modelkit::quant {
namespace {

// Cosine of two vectors from their dot product and squared norms; 1 when both are zero, 0 when
// only one is.
double cosine(double dot, double norm_a, double norm_b) {
  if (norm_a == 0 && norm_b == 0) return 1;
  if (norm_a == 0 || norm_b == 0) return 0;
  return dot / (std::sqrt(norm_a) * std::sqrt(norm_b));
}

struct Accumulator {
  double dot = 0, norm_f = 0, norm_q = 0, norm_diff = 0, max_abs = 0, sum_abs = 0;
  double min_cosine = std::numeric_limits<double>::infinity(), sum_cosine = 0;
  std::uint64_t elements = 0, samples = 0;
  std::vector<double> first_float;  // the first sample's float output, to see whether it ever changes
  bool float_varies = false;
};

bool read_floats(const Tensor& t, std::vector<double>& out) {
  out.clear();
  if (t.type == ElementType::float32) {
    for (float v : t.values<float>()) out.push_back(v);
    return true;
  }
  if (t.type == ElementType::float64) {
    for (double v : t.values<double>()) out.push_back(v);
    return true;
  }
  return false;
}

void add_sample(Accumulator& s, const std::vector<double>& f, const std::vector<double>& q) {
  double dot = 0, nf = 0, nq = 0;
  for (std::size_t k = 0; k < f.size(); ++k) {
    dot += f[k] * q[k];
    nf += f[k] * f[k];
    nq += q[k] * q[k];
    double d = q[k] - f[k];
    s.norm_diff += d * d;
    double e = std::fabs(d);
    s.max_abs = std::max(s.max_abs, std::isnan(e) ? std::numeric_limits<double>::infinity() : e);
    s.sum_abs += e;
  }
  s.dot += dot;
  s.norm_f += nf;
  s.norm_q += nq;
  double c = cosine(dot, nf, nq);
  s.min_cosine = std::min(s.min_cosine, std::isnan(c) ? -1.0 : c);
  s.sum_cosine += c;
  if (s.samples == 0) s.first_float = f;
  else if (!s.float_varies) s.float_varies = s.first_float != f;
  s.elements += f.size();
  ++s.samples;
}

void finish(OutputComparison& out, const Accumulator& s) {
  out.elements = s.elements;
  out.cosine_similarity = cosine(s.dot, s.norm_f, s.norm_q);
  out.min_cosine = s.samples ? s.min_cosine : 0;
  out.mean_cosine = s.samples ? s.sum_cosine / static_cast<double>(s.samples) : 0;
  const double norm_f = std::sqrt(s.norm_f), norm_diff = std::sqrt(s.norm_diff);
  if (norm_f > 0) out.relative_l2_error = norm_diff / norm_f;
  else out.relative_l2_error = norm_diff == 0 ? 0 : std::numeric_limits<double>::infinity();
  out.sqnr_db = 20 * std::log10(std::max(norm_f, DBL_EPSILON) / std::max(norm_diff, DBL_EPSILON));
  out.max_abs_error = s.max_abs;
  out.mean_abs_error = s.elements ? s.sum_abs / static_cast<double>(s.elements) : 0;
  if (s.norm_f == 0) {
    out.informative = false;
    out.note = "the float output is zero for every sample";
  } else if (s.samples >= 2 && !s.float_varies) {
    out.informative = false;
    out.note = "the float output is the same for all " + std::to_string(s.samples) +
               " samples: the validation data does not exercise the model";
  }
}

std::string format(const char* fmt, double a, double b = 0, double c = 0) {
  char buf[160];
  std::snprintf(buf, sizeof buf, fmt, a, b, c);
  return buf;
}

}  // namespace

namespace {

// The float side of one sample: its outputs, in the order of the compared names.
using FloatOutputs = std::function<Result<std::vector<Tensor>>(std::uint64_t sample, const calib::Sample&)>;

Result<ValidationReport> compare_against(const std::vector<std::string>& names, runtime::Session& quantized,
                                         const std::filesystem::path& quantized_model, calib::SampleSource& source,
                                         const CompareOptions& options, const FloatOutputs& float_outputs);

// The bytes of a model and of its external-data file ("<model>_data", as modelkit writes it).
std::uint64_t model_bytes(const std::filesystem::path& model) {
  std::error_code ec;
  std::uint64_t total = 0;
  for (const auto& p : {model, std::filesystem::path(model.string() + "_data")}) {
    auto size = std::filesystem::file_size(p, ec);
    if (!ec) total += size;
  }
  return total;
}

// A validation session runs a handful of samples: for big models ONNX Runtime's prepacked copy
// of every weight costs more than it saves (same threshold as calibration's).
runtime::SessionOptions validation_session(const std::filesystem::path& model, int intra_op_threads) {
  runtime::SessionOptions so;
  so.intra_op_threads = intra_op_threads;
  so.prepack_weights = model_bytes(model) < calib::kCalibrationBatchWeightBytes;
  return so;
}

}  // namespace

Result<ValidationReport> compare_models(const std::filesystem::path& float_model,
                                        const std::filesystem::path& quantized_model, calib::SampleSource& source,
                                        const CompareOptions& options) {
  auto reference = runtime::Session::open(float_model, validation_session(float_model, options.intra_op_threads));
  if (!reference) return reference.take_error();
  auto candidate = runtime::Session::open(quantized_model, validation_session(quantized_model, options.intra_op_threads));
  if (!candidate) return candidate.take_error();
  std::vector<std::string> names;
  for (const auto& o : reference->outputs()) names.push_back(o.name);
  return compare_against(names, *candidate, quantized_model, source, options,
                         [&](std::uint64_t, const calib::Sample& sample) { return reference->run(sample, names); });
}

Result<ValidationReport> compare_with_reference(const std::filesystem::path& quantized_model,
                                                calib::SampleSource& source, const calib::ReferenceOutputs& reference,
                                                const CompareOptions& options) {
  auto candidate = runtime::Session::open(quantized_model, validation_session(quantized_model, options.intra_op_threads));
  if (!candidate) return candidate.take_error();
  return compare_against(reference.names, *candidate, quantized_model, source, options,
                         [&](std::uint64_t i, const calib::Sample&) -> Result<std::vector<Tensor>> {
                           if (i >= reference.samples.size())
                             return failure("validation sample " + std::to_string(i + 1) + " has no float outputs (" +
                                            std::to_string(reference.samples.size()) + " were kept)");
                           return reference.samples[i];
                         });
}

namespace {

Result<ValidationReport> compare_against(const std::vector<std::string>& names, runtime::Session& quantized,
                                         const std::filesystem::path& quantized_model, calib::SampleSource& source,
                                         const CompareOptions& options, const FloatOutputs& float_outputs) {
  auto* candidate = &quantized;
  ValidationReport report;
  for (const auto& name : names) {
    const auto& o = name;
    bool found = false;
    for (const auto& q : candidate->outputs()) found = found || q.name == o;
    if (!found) return failure(quoted(quantized_model.string()) + " lacks output " + quoted(o));
  }
  std::vector<Accumulator> acc(names.size());
  report.outputs.resize(names.size());
  for (std::size_t i = 0; i < names.size(); ++i) report.outputs[i].name = names[i];

  MODELKIT_TRY_VOID(source.rewind());
  std::vector<double> f, q;
  while (options.max_samples == 0 || report.samples < options.max_samples) {
    auto sample = source.next();
    if (!sample) return sample.error().with_context("validation data");
    if (!*sample) break;
    auto rf = float_outputs(report.samples, **sample);
    if (!rf) return rf.take_error();
    if (rf->size() != names.size()) return failure("the float side returned " + std::to_string(rf->size()) + " outputs for " + std::to_string(names.size()));
    auto rq = candidate->run(**sample, names);
    if (!rq) return rq.take_error();
    for (std::size_t i = 0; i < names.size(); ++i) {
      auto& out = report.outputs[i];
      const Tensor& tf = (*rf)[i];
      const Tensor& tq = (*rq)[i];
      if (tf.shape != tq.shape)
        return failure("output " + quoted(names[i]) + " is [" + format_shape(tf.shape) + "] in the float model but [" +
                       format_shape(tq.shape) + "] in the quantized one");
      if (!read_floats(tf, f) || !read_floats(tq, q)) {
        out.compared = false;
        out.informative = false;
        out.note = "not a float output (" + element_type_name(tf.type) + ")";
        continue;
      }
      add_sample(acc[i], f, q);
    }
    ++report.samples;
  }
  if (report.samples == 0) return failure("validation data " + quoted(source.describe()) + " yielded no sample");
  for (std::size_t i = 0; i < names.size(); ++i)
    if (report.outputs[i].compared) finish(report.outputs[i], acc[i]);
  return report;
}

}  // namespace

ValidationThresholds default_validation_thresholds() {
  ValidationThresholds t;
  t.min_sqnr_db = kDefaultMinSqnrDb;
  return t;
}

std::vector<std::string> validation_warnings(const ValidationReport& report, const ValidationThresholds& t) {
  std::vector<std::string> warnings;
  for (const auto& o : report.outputs) {
    if (!o.compared) continue;
    const std::string head = "output " + quoted(o.name) + ": ";
    if (!o.informative) {
      warnings.push_back(head + "validation cannot judge the quantization: " + o.note);
      continue;
    }
    if (o.min_cosine < t.min_cosine)
      warnings.push_back(head + format("cosine similarity to the float model %.4f (lowest sample) is below %.4g",
                                       o.min_cosine, t.min_cosine));
    if (o.sqnr_db < t.min_sqnr_db)
      warnings.push_back(head + format("SQNR %.1f dB is below %.4g dB (relative L2 error %.3g)", o.sqnr_db,
                                       t.min_sqnr_db, o.relative_l2_error));
  }
  return warnings;
}

void write_validation_json(util::JsonWriter& json, const ValidationReport& r) {
  json.begin_object();
  json.field("samples", r.samples);
  json.key("outputs").begin_array();
  for (const auto& o : r.outputs) {
    json.begin_object();
    json.field("name", o.name);
    json.field("compared", o.compared);
    if (o.compared) {
      json.field("informative", o.informative);
      json.field("elements", o.elements);
      json.field("cosine_similarity", o.cosine_similarity);
      json.field("min_cosine", o.min_cosine);
      json.field("mean_cosine", o.mean_cosine);
      json.field("relative_l2_error", o.relative_l2_error);  // null when the float output is all zero
      json.field("sqnr_db", o.sqnr_db);
      json.field("max_abs_error", o.max_abs_error);
      json.field("mean_abs_error", o.mean_abs_error);
    }
    if (!o.note.empty()) json.field("note", o.note);
    json.end_object();
  }
  json.end_array();
  json.end_object();
}

}  // namespace modelkit::quant
