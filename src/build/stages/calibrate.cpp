// calibrate: builds the sample source the task asks for (calib::select_source applies the
// fallback rules and records them), splits its samples into calibration and held-back ones,
// and collects activation ranges by running the float model (or reads them from --ranges).
#include <modelkit/run.hpp>

#include "build/samples.hpp"
#include "build/stages.hpp"
#include "onnx/onnx_json.hpp"
#include "util/json_writer.hpp"

#include <array>
#include <cmath>

namespace modelkit::build {
namespace fs = std::filesystem;
namespace {

InputHints hints_from(const ResolvedModel& model) {
  InputHints h;
  const auto& c = model.facts.config;
  h.vocab_size = c.integer("vocab_size");
  h.image_size = c.integer("image_size");
  h.num_channels = c.integer("num_channels");
  h.sampling_rate = c.integer("sampling_rate");
  return h;
}

}  // namespace

Result<StageOutcome> calibrate_stage(Context& c) {
  if (!needs_calibration(precision_of(c).kind)) return validation_samples_only(c);
  auto& req = c.request;
  const auto& cs = req.config.calibration;
  calib::SourceRequest sreq;
  sreq.kind = cs.kind;
  sreq.kind_reason = cs.kind_reason;
  if (cs.data) sreq.data = fs::path(*cs.data);
  sreq.columns.text = cs.text_column;
  sreq.columns.pair = cs.pair_column;
  // Beside the model the user named, not the opset-upgraded copy's temporary folder.
  sreq.checkpoint_folder = req.model.checkpoint ? req.model.checkpoint->source.folder : c.source_onnx.parent_path();
  sreq.model_inputs = c.info.inputs;
  sreq.hints = hints_from(req.model);
  for (const auto& text : cs.input_shapes) {
    MODELKIT_TRY(auto shape, parse_input_shape(text));
    sreq.input_shapes.push_back(std::move(shape));
  }
  for (const auto& shape : req.input_shapes) sreq.input_shapes.push_back(shape);
  MODELKIT_TRY(sreq.image, infer::image_options(cs.image));
  sreq.samples = cs.samples + req.validation_samples;
  sreq.sequence_length = cs.sequence_length;
  sreq.sample_rate = cs.sample_rate;
  sreq.seed = cs.seed;
  MODELKIT_TRY(c.selected, calib::select_source(sreq));
  for (const auto& w : c.selected->warnings) c.warn(w);
  auto split = split_samples(c.selected->record.samples, cs.samples, req.validation_samples);
  c.held_back = split.held_back;
  c.calibration_samples = split.calibration;
  if (c.calibration_samples < 1)
    return failure("the calibration data holds no samples (" + c.selected->record.data_source + ")");
  if (c.calibration_samples < cs.samples && !req.ranges_in)
    c.warn("calibration uses " + std::to_string(c.calibration_samples) + " samples, fewer than the " +
           std::to_string(cs.samples) + " asked for: " + c.selected->record.data_source + " holds " +
           std::to_string(c.selected->record.samples) +
           (c.held_back > 0 ? " and " + std::to_string(c.held_back) + " are held back for validation" : std::string()));
  if (req.ranges_in) {
    MODELKIT_TRY(c.ranges, calib::read_ranges_file(*req.ranges_in));
    c.calibration_samples = static_cast<int>(c.ranges.samples);
    return ran();
  }
  WindowSource calibration_view(*c.selected->source, 0, c.calibration_samples);
  // Validation's samples run through the calibration session too: their float outputs are kept,
  // so validation loads only the quantized model.
  MODELKIT_TRY(c.validation_window, choose_validation_window(c));
  WindowSource validation_view(*c.selected->source, c.validation_window->offset, c.validation_window->count);
  calib::CollectOptions copts;
  copts.method = cs.method;
  copts.max_samples = static_cast<std::uint64_t>(c.calibration_samples);
  copts.percentile = cs.percentile;
  copts.bins = static_cast<std::size_t>(cs.histogram_bins);
  copts.intra_op_threads = req.threads;
  copts.cancel = req.cancel;
  copts.reference_source = &validation_view;
  copts.reference_outputs = &c.reference;
  if (req.events.progress)
    copts.progress = [&req](const calib::CollectProgress& p) {
      req.events.progress(p.samples_done, p.samples_total, p.elapsed_seconds);
    };
  auto collected = calib::collect_ranges(c.float_model, c.plan.tensors_to_calibrate, calibration_view, copts);
  if (!collected) {
    if (req.cancel && req.cancel->load()) return failure("build cancelled during calibration; nothing was written");
    return collected.take_error();
  }
  c.ranges = std::move(*collected);
  if (req.ranges_out) MODELKIT_TRY_VOID(calib::write_ranges_file(c.ranges, *req.ranges_out));
  return ran();
}

void calibrate_manifest(const Context& c, util::JsonWriter& w) {
  if (!needs_calibration(precision_of(c).kind)) return no_calibration_manifest(c, w);
  const auto& r = c.selected->record;
  const auto& s = c.request.config.calibration;
  const auto& ranges_in = c.request.ranges_in;
  const auto& method = setting_info(s.method);
  w.key("calibration").begin_object();
  w.field("requested_kind", r.requested_kind);
  w.field("kind", ranges_in ? std::string("ranges-file") : r.kind);
  w.field("fallback", r.fallback_reason.has_value());
  w.field("fallback_reason", r.fallback_reason);
  w.field("data_source", ranges_in ? ranges_in->string() : r.data_source);
  w.field("user_data", r.user_data);
  w.field("samples", c.calibration_samples);
  w.field("requested_samples", s.samples);
  w.field("held_back_for_validation", c.held_back);
  w.field("seed", s.seed);
  w.field("method", method.name);
  if (s.method == CalibrationMethod::percentile) w.field("percentile", s.percentile);
  if (method.histogram) w.field("histogram_bins", s.histogram_bins);
  w.key("dropped_inputs").string_array(r.dropped_inputs);
  w.key("filled_inputs").string_array(r.filled_inputs);
  w.key("casts").string_array(r.casts);
  w.key("notes").string_array(r.notes);
  if (r.kind == "random" || !r.filled_inputs.empty()) {
    w.key("random_inputs");
    write_random_input_records_json(w, r.random_inputs);
  }
  w.end_object();
}

}  // namespace modelkit::build
