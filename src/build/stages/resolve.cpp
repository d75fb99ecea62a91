// resolve: the model was resolved by the caller (resolve_model, the one resolver); this stage
// finds its float ONNX model, reads what it is, and checks the output can be written.
#include "build/stages.hpp"
#include "report/json_fields.hpp"
#include "util/json_writer.hpp"
#include "util/strings.hpp"

namespace modelkit::build {
namespace fs = std::filesystem;

Result<StageOutcome> resolve_stage(Context& c) {
  const auto& req = c.request;
  MODELKIT_TRY(c.float_model, find_float_model(req));
  if (fs::exists(req.output) && !req.force)
    return failure("output " + quoted(req.output) + " exists; pass --force to replace it");
  if (req.model.checkpoint && !req.output_is_file && inside(req.output, req.model.checkpoint->source.folder))
    return usage_error("output " + quoted(req.output) + " is inside the input folder " +
                       quoted(req.model.checkpoint->source.folder) + "; choose another folder");
  MODELKIT_TRY(c.info, onnx::read_model_info(c.float_model));
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
