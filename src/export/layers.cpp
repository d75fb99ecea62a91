#include "export/layers.hpp"

#include <cmath>
#include <numbers>

namespace modelkit::exporter {
namespace {

// 0.5 x (1 + erf(x / sqrt 2))
std::string gelu(GraphBuilder& g, const std::string& x) {
  auto e = g.node("Erf", {g.node("Div", {x, g.const_f32(static_cast<float>(std::sqrt(2.0)))})});
  return g.node("Mul", {g.node("Mul", {x, g.node("Add", {e, g.const_f32(1.0f)})}), g.const_f32(0.5f)}, {}, "gelu");
}

// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
std::string gelu_tanh(GraphBuilder& g, const std::string& x) {
  auto cube = g.node("Mul", {g.node("Mul", {x, x}), x});
  auto inner = g.node("Add", {x, g.node("Mul", {cube, g.const_f32(0.044715f)})});
  auto t = g.node("Tanh", {g.node("Mul", {inner, g.const_f32(static_cast<float>(std::sqrt(2.0 / std::numbers::pi)))})});
  return g.node("Mul", {g.node("Mul", {x, g.node("Add", {t, g.const_f32(1.0f)})}), g.const_f32(0.5f)}, {},
                "gelu_tanh");
}

std::string relu(GraphBuilder& g, const std::string& x) { return g.node("Relu", {x}); }
std::string silu(GraphBuilder& g, const std::string& x) { return g.node("Mul", {x, g.node("Sigmoid", {x})}, {}, "silu"); }
std::string quick_gelu(GraphBuilder& g, const std::string& x) {
  return g.node("Mul", {x, g.node("Sigmoid", {g.node("Mul", {x, g.const_f32(1.702f)})})}, {}, "quick_gelu");
}
std::string tanh_act(GraphBuilder& g, const std::string& x) { return g.node("Tanh", {x}); }
std::string relu6(GraphBuilder& g, const std::string& x) {
  return g.node("Clip", {x, g.const_f32(0.0f), g.const_f32(6.0f)}, {}, "relu6");
}

}  // namespace

const std::vector<ActivationRow>& activations() {
  static const std::vector<ActivationRow> rows = {
      {"gelu", gelu},           {"gelu_new", gelu_tanh}, {"gelu_pytorch_tanh", gelu_tanh}, {"gelu_fast", gelu_tanh},
      {"relu", relu},           {"silu", silu},          {"swish", silu},                  {"quick_gelu", quick_gelu},
      {"tanh", tanh_act},       {"relu6", relu6},
  };
  return rows;
}

std::string Layers::weight(const std::string& name, std::vector<std::int64_t> shape, Init init, bool transpose) {
  if (random_) random_->expect(name, shape);
  return g_.weight(name, std::move(shape), init, transpose);
}

std::string Layers::linear(const std::string& x, const std::string& base, std::int64_t in, std::int64_t out,
                           bool bias) {
  auto y = g_.node("MatMul", {x, weight(base + ".weight", {out, in}, Init::normal, true)}, {}, "matmul");
  if (!bias) return y;
  return g_.node("Add", {y, weight(base + ".bias", {out}, Init::zeros)}, {}, "add");
}

std::string Layers::layer_norm(const std::string& x, const std::string& base, std::int64_t size, double eps,
                               bool bias) {
  std::vector<std::string> inputs = {x, weight(base + ".weight", {size}, Init::ones)};
  if (bias) inputs.push_back(weight(base + ".bias", {size}, Init::zeros));
  return g_.node("LayerNormalization", inputs, {{"axis", std::int64_t{-1}}, {"epsilon", static_cast<float>(eps)}},
                 "layernorm");
}

Result<std::string> Layers::activation(const std::string& x, std::string_view name, std::string_view field) {
  std::string known;
  for (const auto& row : activations()) {
    if (row.name == name) return row.build(g_, x);
    known += (known.empty() ? "" : ", ") + std::string(row.name);
  }
  return failure("config.json: " + std::string(field) + " " + quoted(name) + " is not supported by the exporter (" +
                 known + ")");
}

}  // namespace modelkit::exporter
