// quantize: QDQ from the ranges, written into a temporary folder beside the output.
#include "build/stages.hpp"
#include "quant/report_json.hpp"
#include "util/json_writer.hpp"
#include "util/temp_folder.hpp"

namespace modelkit::build {
namespace fs = std::filesystem;

Result<StageOutcome> quantize_stage(Context& c) {
  const auto& req = c.request;
  // Named with this process's id, so a build killed before it could clean up (SIGKILL) leaves a
  // folder the next build to this output recognises as stale and removes.
  MODELKIT_TRY_VOID(c.temp.create_beside(req.output));
  util::remove_stale_temporaries(req.output);
  c.quantized = c.temp.path() / (req.output_is_file ? req.output.filename() : fs::path("model.onnx"));
  if (needs_calibration(precision_of(c).kind)) {
    // The validate stage loads the quantized model next: quantize() need not load it as well.
    auto options = c.options;
    options.check_loads = false;
    MODELKIT_TRY(c.report, quant::quantize(c.float_model, c.ranges, options, c.quantized));
    c.report.precision = std::string(precision_of(c).name);
  } else {
    MODELKIT_TRY_VOID(convert_precision(c));
  }
  for (const auto& w : c.report.warnings) c.warn_once(w);
  // The report names where the model will live, not the temporary folder.
  c.report.output = req.output_is_file ? req.output.string() : (req.output / "model.onnx").string();
  return ran();
}

void quantize_manifest(const Context& c, util::JsonWriter& w) {
  w.key("quantization");
  quant::write_report_json(w, c.report, false);
  if (!needs_calibration(precision_of(c).kind)) return;
  w.key("op_type_policy").begin_object();
  w.key("op_types").string_array(c.op_policy.op_types.empty() ? quant::supported_op_types() : c.op_policy.op_types);
  w.field("reason", c.op_policy.reason);
  w.end_object();
}

}  // namespace modelkit::build
