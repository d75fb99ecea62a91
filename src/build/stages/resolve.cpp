// resolve: the model was resolved by the caller (resolve_model, the one resolver); this stage
// finds its float ONNX model (or decides the export stage makes it), reads what it is, and
// checks the output can be written.
#include "build/stages.hpp"
#include "report/json_fields.hpp"
#include "util/json_writer.hpp"
#include "util/output_guard.hpp"
#include "util/strings.hpp"

namespace modelkit::build {
namespace fs = std::filesystem;

namespace {

// Everything a build reads: the outputs may replace none of it (util::check_output).
std::vector<fs::path> inputs_read(const BuildRequest& req, const fs::path& float_model, const onnx::ModelInfo& info) {
  std::vector<fs::path> in = {float_model};
  const fs::path model_dir = float_model.has_parent_path() ? float_model.parent_path() : fs::path(".");
  for (const auto& f : info.external_data_files) in.push_back(model_dir / f.location);
  if (req.model.checkpoint) {
    const auto& src = req.model.checkpoint->source;
    in.push_back(src.folder);
    if (src.config_path) in.push_back(*src.config_path);
  }
  if (req.ranges_in) in.push_back(*req.ranges_in);
  if (req.config.calibration.data) in.push_back(fs::path(*req.config.calibration.data));
  return in;
}

}  // namespace

Result<StageOutcome> resolve_stage(Context& c) {
  const auto& req = c.request;
  auto found = find_float_model(req);
  if (found) {
    c.float_model = *found;
    c.source_onnx = c.float_model;
  } else if (req.model.checkpoint && !req.onnx && !req.model.checkpoint->source.onnx_path) {
    // No ONNX model in the checkpoint: the export stage writes one from the weights, when the
    // family, head and weights export natively; otherwise both reasons are given.
    auto support = export_support(req.model);
    if (!support) return Error{found.error().message + "; nor does it export natively: " + support.error().message,
                               found.error().kind};
    c.needs_export = true;
  } else {
    return found.take_error();
  }
  if (req.model.checkpoint && !req.output_is_file && util::path_within(req.output, req.model.checkpoint->source.folder))
    return usage_error("output " + quoted(req.output) + " is inside the input folder " +
                       quoted(req.model.checkpoint->source.folder) + "; choose another folder");
  if (c.needs_export) {
    // Checked before the export runs; read_float_model checks again with the exported model.
    const auto& src = req.model.checkpoint->source;
    std::vector<fs::path> inputs = {src.folder};
    if (src.config_path) inputs.push_back(*src.config_path);
    MODELKIT_TRY_VOID(util::check_output(req.output, req.force, inputs));
    return ran();
  }
  MODELKIT_TRY_VOID(read_float_model(c));
  return ran();
}

Result<void> read_float_model(Context& c) {
  const auto& req = c.request;
  MODELKIT_TRY(c.info, onnx::read_model_info(c.float_model));
  // The outputs (the model and --save-ranges) may replace nothing the build reads.
  const auto inputs = inputs_read(req, c.float_model, c.info);
  MODELKIT_TRY_VOID(util::check_output(req.output, req.force, inputs));
  if (req.ranges_out) MODELKIT_TRY_VOID(util::check_output(*req.ranges_out, req.force, inputs));
  if (c.info.quantization.quantized)
    return failure(quoted(c.float_model) + " is already quantized (" + util::join(c.info.quantization.evidence, ", ") +
                   "); modelkit quantizes float models only");
  // Below opset 10 the model is upgraded into a temporary folder of its own (never published)
  // and every later stage reads the upgraded copy.
  if (c.info.default_opset() < onnx::kMinQuantizableOpset) {
    MODELKIT_TRY_VOID(c.upgrade_dir.create_beside(req.output.parent_path() / (req.output.filename().string() + "-opset")));
    fs::path upgraded = c.upgrade_dir.path() / ("opset" + std::to_string(onnx::kUpgradeTargetOpset) + "-" +
                                                c.float_model.filename().string());
    MODELKIT_TRY(c.upgrade, onnx::upgrade_opset(c.float_model, upgraded));
    c.warn("model uses opset " + std::to_string(c.upgrade->from) + "; converted to opset " +
           std::to_string(c.upgrade->to) +
           " with ONNX's version converter before quantizing (static QDQ needs opset 10 or newer)" +
           (c.upgrade->note.empty() ? std::string() : "; " + c.upgrade->note));
    c.float_model = upgraded;
    MODELKIT_TRY(c.info, onnx::read_model_info(c.float_model));
  }
  return {};
}

void resolve_manifest(const Context& c, util::JsonWriter& w) {
  w.field("model", c.request.model.reference());
  w.field("model_id", c.request.model.facts.model_id);
  w.key("source_onnx");
  if (c.exported) w.null();  // the export section says where the float model came from
  else w.value(c.source_onnx.string());
  w.key("opset_upgrade");
  if (c.upgrade) {
    w.begin_object();
    w.field("original_opset", c.upgrade->from);
    w.field("opset", c.upgrade->to);
    w.field("converter", "ONNX version converter (libonnx)");
    if (!c.upgrade->note.empty()) w.field("note", c.upgrade->note);
    w.end_object();
  } else {
    w.null();
  }
  w.key("resolution");
  report::write_resolution(w, c.request.model.resolution);
}

}  // namespace modelkit::build
