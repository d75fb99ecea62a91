// validate: the quantized model against the float one on the held-back samples (the
// calibration ones, with a warning, when the data held too few to keep some apart).
#include "build/samples.hpp"
#include "build/stages.hpp"
#include "quant/report_json.hpp"
#include "util/json_writer.hpp"

#include <algorithm>

namespace modelkit::build {
namespace {

quant::ValidationThresholds validation_thresholds(const BuildRequest& req) {
  auto t = quant::default_validation_thresholds();
  t.min_cosine = req.cosine_warning;
  return t;
}

}  // namespace

Result<Context::ValidationWindow> choose_validation_window(Context& c) {
  auto& source = *c.selected->source;
  // Unreadable inputs (a truncated image) are skipped by the source: when every held-back one
  // was unreadable, validation falls back to calibration samples rather than failing.
  Context::ValidationWindow w;
  if (c.held_back > 0) {
    MODELKIT_TRY(int usable, count_samples(source, c.calibration_samples, c.held_back));
    w.held_back_unreadable = usable == 0;
    if (w.held_back_unreadable) c.held_back = 0;
  }
  w.count = c.held_back > 0 ? c.held_back : std::min(c.calibration_samples, 3);
  w.offset = c.held_back > 0 ? c.calibration_samples : 0;
  return w;
}

Result<StageOutcome> validate_stage(Context& c) {
  const auto& req = c.request;
  auto& source = *c.selected->source;
  if (!c.validation_window) {
    MODELKIT_TRY(c.validation_window, choose_validation_window(c));
  }
  const auto window = *c.validation_window;
  const bool held_back_unreadable = window.held_back_unreadable;
  WindowSource held(source, window.offset, window.count);
  quant::CompareOptions vopts;
  vopts.max_samples = static_cast<std::uint64_t>(window.count);
  vopts.intra_op_threads = req.threads;
  // The float outputs kept by calibration spare loading the float model a second time.
  if (!c.reference.samples.empty()) {
    MODELKIT_TRY(c.validation, quant::compare_with_reference(c.quantized, held, c.reference, vopts));
    c.reference = {};
  } else {
    MODELKIT_TRY(c.validation, quant::compare_models(c.float_model, c.quantized, held, vopts));
  }
  if (held_back_unreadable) c.warn("validation reuses calibration samples: every held-back input was unreadable");
  else if (c.held_back == 0) c.warn("validation reuses calibration samples: the data held too few samples to hold some back");
  // The lowest per-sample cosine of any output; which outputs warrant a warning is the quant
  // library's decision (docs/validation.md).
  for (const auto& o : c.validation.outputs)
    if (o.compared) c.result.min_cosine = std::min(c.result.min_cosine, o.min_cosine);
  for (auto& w : quant::validation_warnings(c.validation, validation_thresholds(req))) c.warn(std::move(w));
  // The quality gate: --min-cosine fails the build below it; without it, loud warnings.
  QualityGate gate;
  gate.required = req.config.min_cosine;
  gate.warn_below = req.cosine_warning;
  c.quality = judge_quality(c.result.min_cosine, gate);
  if (c.quality.verdict == QualityVerdict::warn || c.quality.verdict == QualityVerdict::severe) c.warn(c.quality.message);
  auto& record = c.selected->record;
  for (auto& skipped : source.skipped_inputs()) {
    // The user's own data gets a warning; a broken file among the default photographs only a note.
    if (req.config.calibration.data) c.warn(skipped);
    record.notes.push_back(std::move(skipped));
  }
  return ran();
}

void validate_manifest(const Context& c, util::JsonWriter& w) {
  w.key("validation").begin_object();
  w.field("cosine_warning_below", c.request.cosine_warning);
  w.field("sqnr_warning_below_db", validation_thresholds(c.request).min_sqnr_db);
  w.field("min_cosine_similarity", c.result.min_cosine);
  w.field("min_cosine_required", c.request.config.min_cosine);
  w.field("quality", quality_verdict_name(c.quality.verdict));
  w.key("report");
  quant::write_validation_json(w, c.validation);
  w.end_object();
}

}  // namespace modelkit::build
