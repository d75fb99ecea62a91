// resolve: the model was resolved by the caller (resolve_model, the one resolver); this stage
// finds its float ONNX model, reads what it is, and checks the output can be written.
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
  MODELKIT_TRY(c.float_model, find_float_model(req));
  if (req.model.checkpoint && !req.output_is_file && inside(req.output, req.model.checkpoint->source.folder))
    return usage_error("output " + quoted(req.output) + " is inside the input folder " +
                       quoted(req.model.checkpoint->source.folder) + "; choose another folder");
  MODELKIT_TRY(c.info, onnx::read_model_info(c.float_model));
  // The outputs (the model and --save-ranges) may replace nothing the build reads.
  const auto inputs = inputs_read(req, c.float_model, c.info);
  MODELKIT_TRY_VOID(util::check_output(req.output, req.force, inputs));
  if (req.ranges_out) MODELKIT_TRY_VOID(util::check_output(*req.ranges_out, req.force, inputs));
  if (c.info.quantization.quantized)
    return failure(quoted(c.float_model) + " is already quantized (" + util::join(c.info.quantization.evidence, ", ") +
                   "); modelkit quantizes float models only");
  return ran();
}

void resolve_manifest(const Context& c, util::JsonWriter& w) {
  w.field("model", c.request.model.reference());
  w.field("model_id", c.request.model.facts.model_id);
  w.field("source_onnx", c.float_model.string());
  w.key("resolution");
  report::write_resolution(w, c.request.model.resolution);
}

}  // namespace modelkit::build
