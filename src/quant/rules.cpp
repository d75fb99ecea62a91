#include "quant/rules.hpp"

#include "onnx/model_proto.hpp"

namespace modelkit::quant {
namespace {

std::int64_t int_attribute(const ::onnx::NodeProto& n, std::string_view name, std::int64_t fallback) {
  for (const auto& a : n.attribute())
    if (a.name() == name && a.type() == ::onnx::AttributeProto::INT) return a.i();
  return fallback;
}

// Per-channel axes follow ONNX Runtime's quantizer: the output-channel axis of each weight.
int conv_axis(const ::onnx::NodeProto&, int) { return 0; }  // [M, C/group, kH, kW]
int conv_transpose_axis(const ::onnx::NodeProto& n, int) {
  // [C, M/group, kH, kW]: output channels are axis 1, which is per-channel only without groups.
  return int_attribute(n, "group", 1) == 1 ? 1 : -1;
}
int matmul_axis(const ::onnx::NodeProto&, int rank) { return rank >= 2 ? rank - 1 : -1; }  // [K, N]
int gemm_axis(const ::onnx::NodeProto& n, int) { return int_attribute(n, "transB", 0) ? 0 : 1; }

constexpr OpRule kRules[] = {
    {"Conv", 10, kAnyOpset, Role::weighted, true, conv_axis},
    {"ConvTranspose", 10, kAnyOpset, Role::weighted, true, conv_transpose_axis},
    {"MatMul", 10, kAnyOpset, Role::weighted, false, matmul_axis},
    {"Gemm", 10, kAnyOpset, Role::weighted, false, gemm_axis},
    {"Add", 10, kAnyOpset, Role::binary},
    {"Mul", 10, kAnyOpset, Role::binary},
    {"Concat", 10, kAnyOpset, Role::concat},
    {"AveragePool", 10, kAnyOpset, Role::own_scale},
    {"GlobalAveragePool", 10, kAnyOpset, Role::own_scale},
    {"Softmax", 10, kAnyOpset, Role::softmax},
    {"MaxPool", 10, kAnyOpset, Role::data_movement},
    {"Resize", 10, kAnyOpset, Role::data_movement},  // Resize exists from opset 10 (Upsample before)
    {"Reshape", 10, kAnyOpset, Role::data_movement},
    {"Transpose", 10, kAnyOpset, Role::data_movement},
    {"Squeeze", 10, kAnyOpset, Role::data_movement},
    {"Unsqueeze", 10, kAnyOpset, Role::data_movement},
    {"Flatten", 10, kAnyOpset, Role::data_movement},
    {"Gather", 10, kAnyOpset, Role::data_movement},
    {"Split", 10, kAnyOpset, Role::data_movement},
    {"Slice", 10, kAnyOpset, Role::data_movement},
    {"Expand", 10, kAnyOpset, Role::data_movement},
    {"Tile", 10, kAnyOpset, Role::data_movement},
    {"DepthToSpace", 10, kAnyOpset, Role::data_movement},
    {"SpaceToDepth", 10, kAnyOpset, Role::data_movement},
    {"Relu", 10, kAnyOpset, Role::activation},
    {"Clip", 10, kAnyOpset, Role::activation},  // bounds: attributes before opset 11, inputs from 11
};

}  // namespace

std::span<const OpRule> op_rules() { return kRules; }

const OpRule* find_op_rule(const ::onnx::NodeProto& node, std::int64_t opset) {
  if (!onnx::is_default_domain(node)) return nullptr;
  for (const auto& r : kRules)
    if (r.op == node.op_type()) return opset >= r.min_opset && opset <= r.max_opset ? &r : nullptr;
  return nullptr;
}

}  // namespace modelkit::quant
