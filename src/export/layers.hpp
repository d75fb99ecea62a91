// The layers every family's graph is made of (a torch Linear, LayerNorm, the activations), written
// once: the families differ in how they wire these, not in what a Linear is.
#pragma once

#include "export/graph.hpp"
#include "export/weights.hpp"

#include <modelkit/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace modelkit::exporter {

// One activation of `hidden_act`-style config fields, by its transformers name.
struct ActivationRow {
  std::string_view name;
  std::string (*build)(GraphBuilder& g, const std::string& x);
};
[[nodiscard]] const std::vector<ActivationRow>& activations();

// Builds layers into `g`; with a random source, each weight is registered with its shape.
class Layers {
 public:
  Layers(GraphBuilder& g, RandomWeights* random) : g_(g), random_(random) {}

  // A checkpoint tensor as an initializer (transposed for MatMul when asked).
  std::string weight(const std::string& name, std::vector<std::int64_t> shape, Init init, bool transpose = false);

  // y = x W^T + b for a torch Linear stored as `<base>.weight` [out, in] and `<base>.bias` [out].
  std::string linear(const std::string& x, const std::string& base, std::int64_t in, std::int64_t out,
                     bool bias = true);

  // LayerNorm over the last axis: `<base>.weight` [size] and, with `bias`, `<base>.bias` [size].
  std::string layer_norm(const std::string& x, const std::string& base, std::int64_t size, double eps,
                         bool bias = true);

  // The activation named `name` (the value of config.json's `field`); unknown names are an error
  // listing the known ones.
  [[nodiscard]] Result<std::string> activation(const std::string& x, std::string_view name,
                                               std::string_view field = "hidden_act");

 private:
  GraphBuilder& g_;
  RandomWeights* random_;
};

}  // namespace modelkit::exporter
