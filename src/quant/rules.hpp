// The QDQ rules as data (internal to the quant area; docs/design.md, "QDQ conventions"): one row
// per op type with the default-domain opset range it applies to, its role in planning, and how
// its constant weight is quantized per channel. The planner (graph.cpp) looks rules up here and
// holds no per-op if-chains; adding an op is adding a row.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <span>
#include <string_view>

namespace modelkit::quant {

enum class Role { weighted, binary, own_scale, softmax, concat, data_movement, activation };

inline constexpr std::int64_t kAnyOpset = 1'000'000;

struct OpRule {
  std::string_view op;          // default-domain op type
  std::int64_t min_opset = 10;  // the rule applies to models whose opset is in [min_opset, max_opset]
  std::int64_t max_opset = kAnyOpset;
  Role role = Role::data_movement;
  // weighted ops: the weight must be a constant initializer (no activation x activation form)
  bool constant_weight_required = false;
  // weighted ops: the per-channel axis of the weight (input 1) of rank `rank`, or -1 when the op
  // can only be quantized per tensor; nullptr for ops without a weight.
  int (*weight_axis)(const ::onnx::NodeProto& node, int rank) = nullptr;
};

// Every rule, in the order supported_op_types() lists them.
[[nodiscard]] std::span<const OpRule> op_rules();
// The rule for a node at the model's opset; nullptr when the op is not quantized (another domain,
// an op without a rule, or an opset outside the rule's range).
[[nodiscard]] const OpRule* find_op_rule(const ::onnx::NodeProto& node, std::int64_t opset);

}  // namespace modelkit::quant
