// dynamic: int8 weights, activations quantized at run time (precisions.hpp). The graph is the
// one ONNX Runtime's dynamic quantizer writes for MatMul: DynamicQuantizeLinear on the
// activation (uint8, asymmetric, one scale per run), MatMulInteger with the int8 weight, Cast
// to float and Mul by the product of the two scales; ONNX Runtime fuses that chain into one
// kernel (MatMulIntegerToFloat / DynamicQuantizeMatMul).
#include <modelkit/precisions.hpp>

#include "onnx/model_proto.hpp"
#include "quant/graph.hpp"
#include "quant/rewrite.hpp"
#include "util/name_pattern.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

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
    std::string q, scale, zero_point;
  };
  std::map<std::string, Weight> weights;
  struct Activation {
    std::string q, scale, zero_point;
  };
  std::map<std::string, Activation> activations;
  std::map<int, std::vector<::onnx::NodeProto>> replacement;  // node index -> the nodes replacing it
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    NodeOutcome o{n.name(), onnx::op_key(n), s.path, "skipped", ""};
    auto skip = [&](std::string reason) {
      o.reason = std::move(reason);
      outcomes.push_back(o);
    };
    if (n.op_type() != "MatMul" || !onnx::is_default_domain(n) || n.input_size() != 2) {
      skip("not a MatMul (dynamic quantizes MatMul weights)");
      continue;
    }
    const ::onnx::TensorProto* b_proto = nullptr;
    if (auto refusal = matmul_weight_refusal(n, s, excludes, exclude_used, b_proto)) {
      skip(*refusal);
      continue;
    }
    auto w = weights.find(n.input(1));
    if (w == weights.end()) {
      MODELKIT_TRY(auto b, onnx::tensor_from_proto(*b_proto, m.dir));
      float absmax = 0;
      for (float v : b.values<float>())
        if (std::isfinite(v)) absmax = std::max(absmax, std::fabs(v));
      const float qmax = options.reduce_range ? kReducedMax : kInt8Max;
      const float scale = absmax > 0 ? absmax / qmax : 1.f;
      std::vector<std::int8_t> q;
      q.reserve(b.element_count());
      for (float v : b.values<float>())
        q.push_back(static_cast<std::int8_t>(std::clamp(std::nearbyint(v / scale), -qmax, qmax)));
      Weight entry{names.unique(n.input(1) + "_quantized"), names.unique(n.input(1) + "_scale"),
                   names.unique(n.input(1) + "_zero_point")};
      Tensor qt = Tensor::from_values<std::int8_t>(entry.q, b.shape, q);
      *g.add_initializer() = onnx::tensor_to_proto(qt);
      *g.add_initializer() = onnx::tensor_to_proto(Tensor::from_values<float>(entry.scale, {}, std::vector<float>{scale}));
      *g.add_initializer() =
          onnx::tensor_to_proto(Tensor::from_values<std::int8_t>(entry.zero_point, {}, std::vector<std::int8_t>{0}));
      ++report.weights_quantized;
      w = weights.emplace(n.input(1), std::move(entry)).first;
    }
    auto& list = replacement[i];
    const std::string a = n.input(0);
    auto act = activations.find(a);
    if (act == activations.end()) {
      Activation entry{names.unique(a + "_quantized"), names.unique(a + "_scale"), names.unique(a + "_zero_point")};
      list.push_back(node("DynamicQuantizeLinear", names.unique(a + "_DynamicQuantizeLinear"), {a},
                          {entry.q, entry.scale, entry.zero_point}));
      act = activations.emplace(a, std::move(entry)).first;
    }
    const std::string base = n.name().empty() ? n.output(0) : n.name();
    const std::string integer = names.unique(base + "_MatMulInteger_Output");
    const std::string as_float = names.unique(base + "_Cast_Output");
    const std::string scale = names.unique(base + "_scale_product");
    list.push_back(node("MatMulInteger", names.unique(base + "_MatMulInteger"),
                        {act->second.q, w->second.q, act->second.zero_point, w->second.zero_point}, {integer}));
    auto cast = node("Cast", names.unique(base + "_Cast"), {integer}, {as_float});
    auto* to = cast.add_attribute();
    to->set_name("to");
    to->set_type(::onnx::AttributeProto::INT);
    to->set_i(::onnx::TensorProto::FLOAT);
    list.push_back(std::move(cast));
    list.push_back(node("Mul", names.unique(base + "_scales_Mul"), {act->second.scale, w->second.scale}, {scale}));
    list.push_back(node("Mul", names.unique(base + "_output_Mul"), {as_float, scale}, {n.output(0)}));
    o.status = "quantized";
    outcomes.push_back(o);
  }
  for (std::size_t p = 0; p < excludes.size(); ++p)
    if (!exclude_used[p]) report.warnings.push_back("exclude pattern " + quoted(options.exclude_nodes[p]) + " matches no node");
  if (replacement.empty())
    return failure("nothing to quantize dynamically in " + quoted(model_path.string()) +
                   ": dynamic quantizes main-graph MatMuls with a constant 2-D float32 weight, and it has none");
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
