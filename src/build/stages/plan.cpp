// plan: the op types to quantize (given, or chosen from the graph), then which nodes get QDQ
// and which activation tensors calibration must collect (quant::plan_quantization).
#include "build/stages.hpp"

#include <cstdint>

namespace modelkit::build {

// The op types to quantize when the user names none. Measured on a MiniLM-size encoder
// (bench/quantized_vs_float.sh): quantizing only MatMul/Gemm ran 2.1x faster than float at
// cosine 0.9999, quantizing every supported op 1.4x at 0.997 — the Q/DQ around elementwise
// Add/Mul (residuals, LayerNorm pieces) costs more than integer kernels save. On a ResNet-style
// CNN, every op (residual Adds included) was faster (2.8x vs 2.2x). So the default follows the
// graph: MatMul-dominated graphs quantize MatMul and Gemm, the others every supported op.
OpTypePolicy default_op_types(const onnx::ModelInfo& info, quant::QuantizeOptions& options) {
  if (!options.op_types.empty()) return {options.op_types, "given with --op-types"};
  std::int64_t matmuls = 0, convs = 0;
  for (const auto& op : info.op_types) {
    if (op.op == "MatMul" || op.op == "Gemm") matmuls += op.count;
    if (op.op == "Conv" || op.op == "ConvTranspose") convs += op.count;
  }
  std::string counts = std::to_string(matmuls) + " MatMul/Gemm, " + std::to_string(convs) + " Conv";
  if (matmuls > convs) {
    options.op_types = {"MatMul", "Gemm"};
    options.op_types_from_user = false;
    return {options.op_types, "transformer-style graph (" + counts +
                                  "): MatMul and Gemm only; elementwise ops stay float, where Q/DQ costs more than it saves"};
  }
  return {{}, "convolutional graph (" + counts + "): every supported op type"};
}

Result<StageOutcome> plan_stage(Context& c) {
  const auto& q = c.request.config.quantization;
  c.options.activation_type = q.activation_type;
  c.options.weight_type = q.weight_type;
  c.options.per_channel = q.per_channel;
  c.options.op_types = q.op_types;
  c.options.exclude_nodes = q.exclude_nodes;
  c.options.symmetric_activations = q.symmetric;
  c.options.reduce_range = q.reduce_range;
  if (!needs_calibration(precision_of(c).kind)) return plan_without_qdq(c);
  c.op_policy = default_op_types(c.info, c.options);
  MODELKIT_TRY(c.plan, quant::plan_quantization(c.float_model, c.options));
  for (const auto& w : c.plan.warnings) c.warn(w);
  return ran();
}

}  // namespace modelkit::build
