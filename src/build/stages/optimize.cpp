// optimize: ONNX Runtime's offline graph optimization (the session writes the model as it
// optimized it) at --optimize's level, before planning, so QDQ goes into the graph ONNX Runtime
// will run. At extended, fusions bring com.microsoft operators: the manifest records them and
// that the result runs on ONNX Runtime's CPU provider only.
#include "build/stages.hpp"

#include <modelkit/runtime.hpp>

#include "util/json_writer.hpp"

namespace modelkit::build {
namespace fs = std::filesystem;

std::optional<std::string> optimize_skip(const Context& c) {
  const auto level = c.request.config.quantization.optimize;
  if (level == OptimizeLevel::none) return "--optimize none";
  return std::nullopt;
}

Result<StageOutcome> optimize_stage(Context& c) {
  const auto& req = c.request;
  const auto level = req.config.quantization.optimize;
  MODELKIT_TRY_VOID(c.optimize_dir.create_beside(req.output.parent_path() / (req.output.filename().string() + "-optimize")));
  const fs::path optimized = c.optimize_dir.path() / ("optimized-" + c.float_model.filename().string());
  runtime::SessionOptions options;
  options.intra_op_threads = 1;
  options.optimization =
      level == OptimizeLevel::extended ? runtime::GraphOptimization::extended : runtime::GraphOptimization::basic;
  options.optimized_model_path = optimized;
  // Conv + activation would become com.microsoft FusedConv, which static QDQ does not quantize
  // (measured on the ResNet-style CNN: 5 of 12 Convs left float, int8 1.54x instead of 2.57x
  // faster than float); the QDQ Conv + Relu is fused by ONNX Runtime at run time anyway.
  options.disabled_optimizers = {"ConvActivationFusion"};
  {
    auto session = runtime::Session::open(c.float_model, options);
    if (!session) return session.error().with_context("optimize (--optimize " + std::string(setting_name(level)) + ")");
  }
  c.nodes_before_optimize = c.info.node_count;
  c.float_model = optimized;
  MODELKIT_TRY(c.info, onnx::read_model_info(c.float_model));
  for (const auto& op : c.info.op_types)
    if (op.op.starts_with("com.microsoft.")) c.contrib_ops.push_back(op.op);
  return ran();
}

void optimize_manifest(const Context& c, util::JsonWriter& w) {
  const auto level = c.request.config.quantization.optimize;
  w.key("optimize").begin_object();
  w.field("level", setting_name(level));
  if (level != OptimizeLevel::none) {
    w.field("optimizer", "ONNX Runtime " + runtime::onnxruntime_version());
    w.field("nodes_before", c.nodes_before_optimize);
    w.field("nodes_after", c.info.node_count);
    w.key("com_microsoft_ops").string_array(c.contrib_ops);
    // Fused com.microsoft operators have kernels in ONNX Runtime's CPU provider, not in other
    // runtimes or accelerators.
    w.field("runtime", c.contrib_ops.empty() ? "portable" : "CPU-only");
  }
  w.end_object();
}

}  // namespace modelkit::build
