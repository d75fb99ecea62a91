// dynamic: int8 weights, activations quantized at run time (precisions.hpp). MatMuls take the
// graph ONNX Runtime's dynamic quantizer writes (its "integer ops" form): DynamicQuantizeLinear
// on the activation (uint8, asymmetric, one scale per run), MatMulInteger with the int8 weight,
// Cast to float and Mul by the product of the two scales, which ONNX Runtime fuses into
// DynamicQuantizeMatMul / MatMulIntegerToFloat (it fuses the QDQ form to the same kernels).
// Convs take the QDQ form by default: ONNX Runtime runs ConvInteger without fusions or its NCHWc
// kernels, about 3x slower than a float Conv on dequantized inputs (docs/precisions.md, "dynamic").
#include <modelkit/precisions.hpp>

#include "onnx/model_proto.hpp"
#include "quant/graph.hpp"
#include "quant/rewrite.hpp"
#include "util/name_pattern.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <span>

namespace modelkit::quant {
namespace fs = std::filesystem;
namespace {

// Symmetric int8 weights: [-127, 127], or [-64, 64] with reduce_range (as ONNX Runtime's
// quantizer: 7 bits of magnitude leave room in the 16-bit accumulations of CPUs without VNNI).
constexpr float kInt8Max = 127, kReducedMax = 64;

::onnx::NodeProto node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                       std::vector<std::string> outputs) {
  ::onnx::NodeProto n;
  n.set_op_type(op);
  n.set_name(name);
  for (auto& i : inputs) n.add_input(i);
  for (auto& o : outputs) n.add_output(o);
  return n;
}

struct SymmetricInt8 {
  std::vector<std::int8_t> values;
  std::vector<float> scales;  // one per channel
};

// Symmetric int8 over `channels` equal runs of `weight` (the first axis): scale = absmax / qmax.
SymmetricInt8 quantize_symmetric(std::span<const float> weight, std::int64_t channels, float qmax) {
  SymmetricInt8 out;
  const std::size_t run = weight.size() / static_cast<std::size_t>(channels);
  out.values.reserve(weight.size());
  for (std::int64_t c = 0; c < channels; ++c) {
    auto part = weight.subspan(static_cast<std::size_t>(c) * run, run);
    float absmax = 0;
    for (float v : part)
      if (std::isfinite(v)) absmax = std::max(absmax, std::fabs(v));
    const float scale = absmax > 0 ? absmax / qmax : 1.f;
    out.scales.push_back(scale);
    for (float v : part) out.values.push_back(static_cast<std::int8_t>(std::clamp(std::nearbyint(v / scale), -qmax, qmax)));
  }
  return out;
}

// As matmul_weight_refusal for a Conv: float32 X, constant float32 W of rank >= 3 and, when
// present, a constant 1-D float32 bias (returned through `bias`).
std::optional<std::string> conv_weight_refusal(const ::onnx::NodeProto& n, const GraphScope& s,
                                               const std::vector<util::NamePattern>& excludes,
                                               std::vector<bool>& exclude_used, const ::onnx::TensorProto*& weight,
                                               const ::onnx::TensorProto*& bias) {
  bool excluded = false;
  for (std::size_t p = 0; p < excludes.size() && !n.name().empty(); ++p)
    if (excludes[p].matches(n.name())) excluded = exclude_used[p] = true;
  if (excluded) return "excluded by --exclude-nodes";
  auto x_type = s.type_of(n.input(0));
  if (x_type && *x_type != ElementType::float32) return "input X is not float32";
  weight = s.find_initializer(n.input(1));
  if (!weight) return "weight is not a constant";
  if (weight->data_type() != ::onnx::TensorProto::FLOAT || weight->dims_size() < 3 || weight->dims(0) <= 0)
    return "weight is not a float32 tensor of rank 3 or more";
  if (n.input_size() > 2 && !n.input(2).empty()) {
    bias = s.find_initializer(n.input(2));
    if (!bias) return "bias is not a constant";
    if (bias->data_type() != ::onnx::TensorProto::FLOAT || bias->dims_size() != 1 || bias->dims(0) != weight->dims(0))
      return "bias is not a 1-D float32 tensor of the output channels";
  }
  return std::nullopt;
}

}  // namespace

Result<QuantizeReport> quantize_dynamic(const fs::path& model_path, const DynamicOptions& options,
                                        const fs::path& output_path) {
  MODELKIT_TRY(auto m, load_model_for(model_path, "dynamic"));
  if (m.info.default_opset() < 10)
    return failure(quoted(model_path.string()) + " uses opset " + std::to_string(m.info.default_opset()) +
                   "; dynamic quantization needs opset 10 or newer (DynamicQuantizeLinear, MatMulInteger)");
  auto report = start_report(m, model_path, output_path, "dynamic");
  report.weight_type = options.reduce_range ? "int8 (7-bit range)" : "int8";
  report.activation_type = "uint8 (dynamic)";
  report.reduce_range = options.reduce_range;
  std::vector<util::NamePattern> excludes;
  std::vector<bool> exclude_used(options.exclude_nodes.size(), false);
  for (const auto& text : options.exclude_nodes) excludes.emplace_back(text);

  constants_to_initializers(m.model);
  auto scopes = build_scopes(m.model);
  NameSet names(m.model);
  std::vector<NodeOutcome> outcomes;
  // Only the main graph: a body's activations would be quantized per iteration in its own scope.
  auto& s = *scopes.front();
  auto& g = *s.graph;
  struct Weight {
    std::string q, scale, zero_point, dequantized;  // dequantized: the QDQ form's DequantizeLinear output
  };
  std::map<std::string, Weight> weights;
  struct Activation {
    std::string q, scale, zero_point, dequantized;
  };
  const bool conv_qdq = options.conv_form == DynamicConvForm::qdq;
  std::map<std::string, Activation> activations;
  std::map<int, std::vector<::onnx::NodeProto>> replacement;  // node index -> the nodes replacing it
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    NodeOutcome o{n.name(), onnx::op_key(n), s.path, "skipped", ""};
    auto skip = [&](std::string reason) {
      o.reason = std::move(reason);
      outcomes.push_back(o);
    };
    const bool is_matmul = n.op_type() == "MatMul" && onnx::is_default_domain(n) && n.input_size() == 2;
    const bool is_conv = n.op_type() == "Conv" && onnx::is_default_domain(n) && n.input_size() >= 2;
    if (!is_matmul && !is_conv) {
      skip("not a MatMul or Conv (dynamic quantizes their weights)");
      continue;
    }
    const ::onnx::TensorProto* b_proto = nullptr;
    const ::onnx::TensorProto* bias_proto = nullptr;
    if (auto refusal = is_matmul ? matmul_weight_refusal(n, s, excludes, exclude_used, b_proto)
                                 : conv_weight_refusal(n, s, excludes, exclude_used, b_proto, bias_proto)) {
      skip(*refusal);
      continue;
    }
    if (is_conv && conv_qdq && m.info.default_opset() < 13) {
      skip("the QDQ form's per-channel DequantizeLinear needs opset 13 or newer");
      continue;
    }
    auto w = weights.find(n.input(1));
    if (w == weights.end()) {
      MODELKIT_TRY(auto b, onnx::tensor_from_proto(*b_proto, m.dir));
      const float qmax = options.reduce_range ? kReducedMax : kInt8Max;
      // MatMul: one scale for the tensor (MatMulInteger's kernel fuses only that). Conv: one per
      // output channel, applied after ConvInteger by the Mul, so the zero point stays one 0.
      const std::int64_t channels = is_conv ? b.shape.front() : 1;
      auto quantized = quantize_symmetric(b.values<float>(), channels, qmax);
      Weight entry{names.unique(n.input(1) + "_quantized"), names.unique(n.input(1) + "_scale"),
                   names.unique(n.input(1) + "_zero_point"), ""};
      *g.add_initializer() = onnx::tensor_to_proto(Tensor::from_values<std::int8_t>(entry.q, b.shape, quantized.values));
      // [] for MatMul; for Conv [M] (DequantizeLinear on axis 0) or, for ConvInteger's Mul,
      // [M, 1, ...] (broadcast over N, C and the spatial axes).
      std::vector<std::int64_t> scale_shape;
      if (is_conv && conv_qdq) {
        scale_shape = {channels};
      } else if (is_conv) {
        scale_shape.assign(b.shape.size() - 1, 1);
        scale_shape.front() = channels;
      }
      *g.add_initializer() = onnx::tensor_to_proto(Tensor::from_values<float>(entry.scale, scale_shape, quantized.scales));
      *g.add_initializer() =
          onnx::tensor_to_proto(Tensor::from_values<std::int8_t>(entry.zero_point, {}, std::vector<std::int8_t>{0}));
      ++report.weights_quantized;
      w = weights.emplace(n.input(1), std::move(entry)).first;
    }
    auto& list = replacement[i];
    const std::string a = n.input(0);
    auto act = activations.find(a);
    if (act == activations.end()) {
      Activation entry{names.unique(a + "_quantized"), names.unique(a + "_scale"), names.unique(a + "_zero_point"), ""};
      list.push_back(node("DynamicQuantizeLinear", names.unique(a + "_DynamicQuantizeLinear"), {a},
                          {entry.q, entry.scale, entry.zero_point}));
      act = activations.emplace(a, std::move(entry)).first;
    }
    const std::string base = n.name().empty() ? n.output(0) : n.name();
    if (is_conv && conv_qdq) {
      // DequantizeLinear on both sides of the float Conv (bias unchanged).
      if (act->second.dequantized.empty()) {
        act->second.dequantized = names.unique(a + "_dequantized");
        list.push_back(node("DequantizeLinear", names.unique(a + "_DequantizeLinear"),
                            {act->second.q, act->second.scale, act->second.zero_point}, {act->second.dequantized}));
      }
      if (w->second.dequantized.empty()) {
        // Per output channel, zero point 0: the per-axis form takes no zero point input.
        w->second.dequantized = names.unique(n.input(1) + "_dequantized");
        auto dq = node("DequantizeLinear", names.unique(n.input(1) + "_DequantizeLinear"), {w->second.q, w->second.scale},
                       {w->second.dequantized});
        auto* axis = dq.add_attribute();
        axis->set_name("axis");
        axis->set_type(::onnx::AttributeProto::INT);
        axis->set_i(0);
        list.push_back(std::move(dq));
      }
      auto conv = n;
      conv.set_input(0, act->second.dequantized);
      conv.set_input(1, w->second.dequantized);
      list.push_back(std::move(conv));
      o.status = "quantized";
      outcomes.push_back(o);
      continue;
    }
    const std::string integer_op = is_conv ? "ConvInteger" : "MatMulInteger";
    const std::string integer = names.unique(base + "_" + integer_op + "_Output");
    const std::string as_float = names.unique(base + "_Cast_Output");
    const std::string scale = names.unique(base + "_scale_product");
    auto product = node(integer_op, names.unique(base + "_" + integer_op),
                        {act->second.q, w->second.q, act->second.zero_point, w->second.zero_point}, {integer});
    if (is_conv)
      for (const auto& attribute : n.attribute()) *product.add_attribute() = attribute;  // ConvInteger has Conv's
    list.push_back(std::move(product));
    auto cast = node("Cast", names.unique(base + "_Cast"), {integer}, {as_float});
    auto* to = cast.add_attribute();
    to->set_name("to");
    to->set_type(::onnx::AttributeProto::INT);
    to->set_i(::onnx::TensorProto::FLOAT);
    list.push_back(std::move(cast));
    list.push_back(node("Mul", names.unique(base + "_scales_Mul"), {act->second.scale, w->second.scale}, {scale}));
    if (!bias_proto) {
      list.push_back(node("Mul", names.unique(base + "_output_Mul"), {as_float, scale}, {n.output(0)}));
    } else {
      // ConvInteger has no bias input: the float bias is added after scaling, shaped [M, 1, ...].
      const std::string scaled = names.unique(base + "_scaled_Output");
      list.push_back(node("Mul", names.unique(base + "_output_Mul"), {as_float, scale}, {scaled}));
      MODELKIT_TRY(auto bias, onnx::tensor_from_proto(*bias_proto, m.dir));
      std::vector<std::int64_t> bias_shape(static_cast<std::size_t>(b_proto->dims_size() - 1), 1);
      bias_shape.front() = bias.element_count();
      const std::string bias_name = names.unique(n.input(2) + "_broadcast");
      auto values = bias.values<float>();
      *g.add_initializer() = onnx::tensor_to_proto(
          Tensor::from_values<float>(bias_name, bias_shape, std::vector<float>(values.begin(), values.end())));
      list.push_back(node("Add", names.unique(base + "_bias_Add"), {scaled, bias_name}, {n.output(0)}));
    }
    o.status = "quantized";
    outcomes.push_back(o);
  }
  for (std::size_t p = 0; p < excludes.size(); ++p)
    if (!exclude_used[p]) report.warnings.push_back("exclude pattern " + quoted(options.exclude_nodes[p]) + " matches no node");
  if (replacement.empty())
    return failure("nothing to quantize dynamically in " + quoted(model_path.string()) +
                   ": dynamic quantizes main-graph MatMuls with a constant 2-D float32 weight and Convs with a "
                   "constant float32 weight, and it has none");
  // Bodies keep their nodes; only main-graph nodes are replaced, so body pointers stay valid.
  for (std::size_t k = 1; k < scopes.size(); ++k)
    for (const auto& n : scopes[k]->graph->node()) outcomes.push_back({n.name(), onnx::op_key(n), scopes[k]->path, "skipped",
                                                                      "inside a subgraph (dynamic quantizes the main graph)"});
  std::vector<::onnx::NodeProto> nodes;
  for (int i = 0; i < g.node_size(); ++i) {
    if (auto it = replacement.find(i); it != replacement.end()) {
      for (auto& n : it->second) nodes.push_back(std::move(n));
      continue;
    }
    nodes.push_back(std::move(*g.mutable_node(i)));
  }
  g.clear_node();
  for (auto& n : nodes) *g.add_node() = std::move(n);
  // Float weights no node reads any more.
  drop_initializers_not_in(g, names_read(g));
  summarize(report, std::move(outcomes));
  MODELKIT_TRY_VOID(save_and_check(m.model, m.dir, output_path, report));
  return report;
}

}  // namespace modelkit::quant
