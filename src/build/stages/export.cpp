// export: writes the float ONNX model from the checkpoint's safetensors weights when the
// checkpoint has no ONNX model (the resolve stage decides); the model lives in a temporary
// folder of its own, read by the later stages and never published.
#include "build/stages.hpp"
#include "util/json_writer.hpp"

namespace modelkit::build {

std::optional<std::string> export_skip(const Context& c) {
  if (c.needs_export) return std::nullopt;
  return "using the ONNX model " + quoted(c.source_onnx);
}

Result<StageOutcome> export_stage(Context& c) {
  const auto& req = c.request;
  MODELKIT_TRY_VOID(c.export_dir.create_beside(req.output.parent_path() / (req.output.filename().string() + "-export")));
  ExportRequest er;
  er.model = req.model;
  er.output = c.export_dir.path() / "model.onnx";
  er.force = true;  // the temporary folder is ours
  MODELKIT_TRY(er.image_size, export_image_size(req.input_shapes, false));  // --input-shape pixel_values=NxCxHxW
  MODELKIT_TRY_CTX(c.exported, export_model(er), "export");
  c.float_model = c.exported->model_path;
  c.source_onnx = c.float_model;
  MODELKIT_TRY_VOID(read_float_model(c));
  return ran();
}

void export_manifest(const Context& c, util::JsonWriter& w) {
  w.key("export");
  if (!c.exported) {
    w.null();
    return;
  }
  const auto& e = *c.exported;
  w.begin_object();
  w.field("exporter_version", e.exporter_version);
  w.field("opset", e.opset);
  w.field("family", e.family);
  w.field("head", e.head);
  w.field("model_class", e.model_class);
  if (!e.component.empty()) w.field("component", e.component);  // "encoder": the decoder is not in this model
  w.field("sentence_transformers", e.sentence_transformers);
  w.field("pooling", e.pooling);
  w.field("parameters", e.parameters);
  w.key("inputs").string_array(e.inputs);
  w.key("outputs").string_array(e.outputs);
  w.key("source_weights").begin_object();
  w.key("files").string_array(e.source_weights.files);
  w.key("dtypes").begin_object();
  for (const auto& d : e.source_weights.dtypes) w.field(d.dtype, d.parameters);
  w.end_object();
  w.end_object();
  w.end_object();
}

}  // namespace modelkit::build
