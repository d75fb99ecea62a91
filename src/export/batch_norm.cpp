#include "export/batch_norm.hpp"

#include <cmath>

namespace modelkit::exporter {

FoldedConv fold_conv_batch_norm(GraphBuilder& g, DerivedWeights& derived, RandomWeights* random,
                                const std::string& conv_weight, const std::string& bn, const std::string& folded,
                                const std::vector<std::int64_t>& wshape, double eps) {
  const std::int64_t out = wshape[0];
  std::int64_t per_out = 1;
  for (std::size_t i = 1; i < wshape.size(); ++i) per_out *= wshape[i];
  std::vector<DerivedWeights::Input> inputs = {{conv_weight, wshape, Init::normal},
                                               {bn + "weight", {out}, Init::ones},
                                               {bn + "bias", {out}, Init::zeros},
                                               {bn + "running_mean", {out}, Init::zeros},
                                               {bn + "running_var", {out}, Init::ones}};
  if (random)
    for (const auto& i : inputs) random->expect(i.name, i.shape);
  // inputs: 0 conv weight, 1 gamma, 2 beta, 3 running mean, 4 running variance
  auto scale = [eps](const std::vector<std::vector<float>>& v, std::int64_t o) {
    const auto i = static_cast<std::size_t>(o);
    return static_cast<double>(v[1][i]) / std::sqrt(static_cast<double>(v[4][i]) + eps);
  };
  derived.add(folded + ".folded_weight",
              {wshape, inputs, [out, per_out, scale](const std::vector<std::vector<float>>& v, std::span<float> dst) {
                 for (std::int64_t o = 0; o < out; ++o) {
                   const double s = scale(v, o);
                   for (std::int64_t i = 0; i < per_out; ++i) {
                     const auto at = static_cast<std::size_t>(o * per_out + i);
                     dst[at] = static_cast<float>(v[0][at] * s);
                   }
                 }
               }});
  derived.add(folded + ".folded_bias",
              {{out}, inputs, [out, scale](const std::vector<std::vector<float>>& v, std::span<float> dst) {
                 for (std::int64_t o = 0; o < out; ++o) {
                   const auto i = static_cast<std::size_t>(o);
                   dst[i] = static_cast<float>(v[2][i] - v[3][i] * scale(v, o));
                 }
               }});
  return {g.weight(folded + ".folded_weight", wshape, Init::normal), g.weight(folded + ".folded_bias", {out}, Init::zeros)};
}

}  // namespace modelkit::exporter
