// compare_models: the float and the quantized model on the same samples; per output cosine
// similarity and absolute errors accumulated over all samples (in double).
#include <modelkit/quantize.hpp>
#include <modelkit/runtime.hpp>

#include "quant/report_json.hpp"
#include "util/json_writer.hpp"

#include <cmath>

namespace modelkit::quant {
namespace {

struct Accumulator {
  double dot = 0, norm_a = 0, norm_b = 0, max_abs = 0, sum_abs = 0;
  std::uint64_t elements = 0;
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

}  // namespace

Result<ValidationReport> compare_models(const std::filesystem::path& float_model,
                                        const std::filesystem::path& quantized_model, calib::SampleSource& source,
                                        const CompareOptions& options) {
  runtime::SessionOptions so;
  so.intra_op_threads = options.intra_op_threads;
  auto reference = runtime::Session::open(float_model, so);
  if (!reference) return reference.take_error();
  auto candidate = runtime::Session::open(quantized_model, so);
  if (!candidate) return candidate.take_error();

  ValidationReport report;
  std::vector<std::string> names;
  for (const auto& o : reference->outputs()) {
    names.push_back(o.name);
    bool found = false;
    for (const auto& q : candidate->outputs()) found = found || q.name == o.name;
    if (!found) return failure(quoted(quantized_model.string()) + " lacks output " + quoted(o.name));
  }
  std::vector<Accumulator> acc(names.size());
  report.outputs.resize(names.size());
  for (std::size_t i = 0; i < names.size(); ++i) report.outputs[i].name = names[i];

  MODELKIT_TRY_VOID(source.rewind());
  std::vector<double> a, b;
  while (options.max_samples == 0 || report.samples < options.max_samples) {
    auto sample = source.next();
    if (!sample) return sample.error().with_context("validation data");
    if (!*sample) break;
    auto ra = reference->run(**sample, names);
    if (!ra) return ra.take_error();
    auto rb = candidate->run(**sample, names);
    if (!rb) return rb.take_error();
    for (std::size_t i = 0; i < names.size(); ++i) {
      auto& out = report.outputs[i];
      const Tensor& ta = (*ra)[i];
      const Tensor& tb = (*rb)[i];
      if (ta.shape != tb.shape)
        return failure("output " + quoted(names[i]) + " is [" + format_shape(ta.shape) + "] in the float model but [" +
                       format_shape(tb.shape) + "] in the quantized one");
      if (!read_floats(ta, a) || !read_floats(tb, b)) {
        out.compared = false;
        out.note = "not a float output (" + element_type_name(ta.type) + ")";
        continue;
      }
      auto& s = acc[i];
      for (std::size_t k = 0; k < a.size(); ++k) {
        s.dot += a[k] * b[k];
        s.norm_a += a[k] * a[k];
        s.norm_b += b[k] * b[k];
        double e = std::fabs(a[k] - b[k]);
        s.max_abs = std::max(s.max_abs, std::isnan(e) ? std::numeric_limits<double>::infinity() : e);
        s.sum_abs += e;
      }
      s.elements += a.size();
    }
    ++report.samples;
  }
  if (report.samples == 0) return failure("validation data " + quoted(source.describe()) + " yielded no sample");
  for (std::size_t i = 0; i < names.size(); ++i) {
    auto& out = report.outputs[i];
    const auto& s = acc[i];
    if (!out.compared) continue;
    out.elements = s.elements;
    if (s.norm_a == 0 && s.norm_b == 0) out.cosine_similarity = 1;
    else if (s.norm_a == 0 || s.norm_b == 0) out.cosine_similarity = 0;
    else out.cosine_similarity = s.dot / (std::sqrt(s.norm_a) * std::sqrt(s.norm_b));
    out.max_abs_error = s.max_abs;
    out.mean_abs_error = s.elements ? s.sum_abs / static_cast<double>(s.elements) : 0;
  }
  return report;
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
      json.field("elements", o.elements);
      json.field("cosine_similarity", o.cosine_similarity);
      json.field("max_abs_error", o.max_abs_error);
      json.field("mean_abs_error", o.mean_abs_error);
    } else {
      json.field("note", o.note);
    }
    json.end_object();
  }
  json.end_array();
  json.end_object();
}

}  // namespace modelkit::quant
