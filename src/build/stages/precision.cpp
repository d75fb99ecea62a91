// The precisions that are not static QDQ (settings.hpp, PrecisionKind): no QDQ plan, no
// calibration run (the sample source is still built, for validation), and their own conversion
// in the quantize stage (quant/precisions.hpp). The stages dispatch here by precision.
#include "build/samples.hpp"
#include "build/stages.hpp"

#include <modelkit/precisions.hpp>

#include "util/json_writer.hpp"

namespace modelkit::build {

const PrecisionInfo& precision_of(const Context& c) { return setting_info(c.request.config.quantization.precision); }

std::string no_calibration_reason(const Context& c) {
  return "precision " + std::string(precision_of(c).name) + " needs no calibration";
}

Result<StageOutcome> plan_without_qdq(Context& c) {
  const auto& req = c.request;
  const auto name = std::string(precision_of(c).name);
  if (req.ranges_in || req.ranges_out)
    return usage_error(std::string(req.ranges_in ? "--ranges" : "--save-ranges") +
                       " applies to static precisions (int8, int16, w8a16), not to --precision " + name);
  return skipped("precision " + name + " plans no QDQ: its conversion decides per node in the quantize stage");
}

Result<StageOutcome> validation_samples_only(Context& c) {
  auto& req = c.request;
  const auto& cs = req.config.calibration;
  calib::SourceRequest sreq;
  sreq.kind = cs.kind;
  sreq.kind_reason = cs.kind_reason;
  if (cs.data) sreq.data = std::filesystem::path(*cs.data);
  sreq.columns.text = cs.text_column;
  sreq.columns.pair = cs.pair_column;
  sreq.checkpoint_folder = req.model.checkpoint ? req.model.checkpoint->source.folder : c.source_onnx.parent_path();
  sreq.model_inputs = c.info.inputs;
  const auto& config = req.model.facts.config;
  sreq.hints.vocab_size = config.integer("vocab_size");
  sreq.hints.image_size = config.integer("image_size");
  sreq.hints.num_channels = config.integer("num_channels");
  sreq.hints.sampling_rate = config.integer("sampling_rate");
  for (const auto& text : cs.input_shapes) {
    MODELKIT_TRY(auto shape, parse_input_shape(text));
    sreq.input_shapes.push_back(std::move(shape));
  }
  for (const auto& shape : req.input_shapes) sreq.input_shapes.push_back(shape);
  sreq.samples = std::max(req.validation_samples, 1);
  sreq.sequence_length = cs.sequence_length;
  sreq.sample_rate = cs.sample_rate;
  sreq.seed = cs.seed;
  MODELKIT_TRY(c.selected, calib::select_source(sreq));
  for (const auto& w : c.selected->warnings) c.warn(w);
  // Nothing is calibrated: every sample is held back for validation.
  c.calibration_samples = 0;
  c.held_back = std::min(sreq.samples, static_cast<int>(c.selected->record.samples));
  if (c.held_back < 1) return failure("the validation data holds no samples (" + c.selected->record.data_source + ")");
  return skipped(no_calibration_reason(c) + "; " + std::to_string(c.held_back) + " sample(s) kept for validation");
}

void no_calibration_manifest(const Context& c, util::JsonWriter& w) {
  w.key("calibration").begin_object();
  w.field("skipped", true);
  w.field("reason", no_calibration_reason(c));
  if (c.selected) {
    w.field("kind", c.selected->record.kind);
    w.field("data_source", c.selected->record.data_source);
    w.field("user_data", c.selected->record.user_data);
  }
  w.field("held_back_for_validation", c.held_back);
  w.end_object();
}

Result<void> convert_precision(Context& c) {
  const auto& q = c.request.config.quantization;
  switch (precision_of(c).kind) {
    case PrecisionKind::float16: {
      MODELKIT_TRY(c.report, quant::convert_float16(c.float_model, c.quantized));
      return {};
    }
    case PrecisionKind::weight_only: {
      quant::WeightOnlyOptions o;
      o.block_size = q.block_size;
      o.symmetric = q.symmetric;
      o.accuracy_level = q.accuracy_level;
      o.embeddings = q.int4_embeddings;
      o.exclude_nodes = q.exclude_nodes;
      MODELKIT_TRY(c.report, quant::quantize_matmul_nbits(c.float_model, o, c.quantized));
      return {};
    }
    case PrecisionKind::dynamic_int8: {
      quant::DynamicOptions o;
      o.reduce_range = q.reduce_range;
      o.exclude_nodes = q.exclude_nodes;
      MODELKIT_TRY(c.report, quant::quantize_dynamic(c.float_model, o, c.quantized));
      return {};
    }
    case PrecisionKind::static_qdq: break;
  }
  return failure("internal: precision " + std::string(precision_of(c).name) + " is static QDQ");
}

}  // namespace modelkit::build
