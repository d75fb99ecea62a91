// export: writes the float ONNX model from the checkpoint's safetensors weights when the
// checkpoint has no ONNX model. Until the exporter exists (src/export/), a build needs an
// ONNX model; the resolve stage then names where it looked and how to get one.
#include "build/stages.hpp"

namespace modelkit::build {

std::optional<std::string> export_skip(const Context& c) {
  return "using the ONNX model " + quoted(c.float_model);
}

Result<StageOutcome> export_stage(Context&) { return ran(); }

}  // namespace modelkit::build
