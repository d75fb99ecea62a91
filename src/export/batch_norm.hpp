// A convolution followed by an inference-mode BatchNorm, folded into one convolution at export
// time (the convolution has no bias of its own): w' = w * g / sqrt(v + eps) per output channel,
// b' = beta - m * g / sqrt(v + eps). The folded tensors are derived from the checkpoint's own, so
// those are still checked by name and shape.
#pragma once

#include "export/vision_families.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace modelkit::exporter {

struct FoldedConv {
  std::string weight, bias;  // initializer names for Conv's inputs 1 and 2
};

// `conv_weight` is the convolution's weight [out, in / groups, kh, kw]; `bn` the BatchNorm's prefix
// (`<bn>weight`, `<bn>bias`, `<bn>running_mean`, `<bn>running_var`); `folded` names the results
// (`<folded>.folded_weight`, `<folded>.folded_bias`). With a random source the inputs are
// registered with their shapes (BatchNorm scale 1, shift, mean 0, variance 1).
[[nodiscard]] FoldedConv fold_conv_batch_norm(GraphBuilder& g, DerivedWeights& derived, RandomWeights* random,
                                              const std::string& conv_weight, const std::string& bn,
                                              const std::string& folded, const std::vector<std::int64_t>& wshape,
                                              double eps);

}  // namespace modelkit::exporter
