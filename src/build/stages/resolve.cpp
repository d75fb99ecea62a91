// resolve: the model was resolved by the caller (resolve_model, the one resolver); this stage
// finds its float ONNX model (or decides the export stage makes it), reads what it is, and
// checks the output can be written.
#include "build/stages.hpp"
#include "report/json_fields.hpp"
#include "util/json_writer.hpp"
#include "util/strings.hpp"

namespace modelkit::build {
namespace fs = std::filesystem;

Result<StageOutcome> resolve_stage(Context& c) {
  const auto& req = c.request;
  auto found = find_float_model(req);
  if (found) {
    c.float_model = *found;
    c.source_onnx = c.float_model;
  } else if (req.model.checkpoint && !req.onnx && !req.model.checkpoint->source.onnx_path) {
    // No ONNX model in the checkpoint: the export stage writes one from the weights, when the
    // family and head export natively; otherwise both reasons are given.
    auto support = export_support(req.model);
    if (!support) return Error{found.error().message + "; nor does it export natively: " + support.error().message,
                               found.error().kind};
    c.needs_export = true;
  } else {
    return found.take_error();
  }
  if (fs::exists(req.output) && !req.force)
    return failure("output " + quoted(req.output) + " exists; pass --force to replace it");
  if (req.model.checkpoint && !req.output_is_file && inside(req.output, req.model.checkpoint->source.folder))
    return usage_error("output " + quoted(req.output) + " is inside the input folder " +
                       quoted(req.model.checkpoint->source.folder) + "; choose another folder");
  if (c.needs_export) return ran();
  MODELKIT_TRY_VOID(read_float_model(c));
  return ran();
}

Result<void> read_float_model(Context& c) {
  const auto& req = c.request;
  MODELKIT_TRY(c.info, onnx::read_model_info(c.float_model));
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
