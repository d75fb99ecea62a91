// Scale / zero point arithmetic and offline tensor quantization (internal to the quant area,
// exposed for its tests). Conventions follow ONNX QuantizeLinear and onnxruntime's quantizer:
// asymmetric ranges are widened to include 0; symmetric ranges use [-absmax, absmax] with the
// narrow signed range (int8 [-127, 127]) and the midpoint zero point for unsigned types
// (uint8 128); values are rounded to nearest even and saturated.
#pragma once

#include <modelkit/quantize.hpp>
#include <modelkit/tensor.hpp>

#include <cstdint>
#include <span>
#include <vector>

namespace modelkit::quant {

struct QuantLimits {
  std::int64_t qmin;
  std::int64_t qmax;
};

[[nodiscard]] QuantLimits quant_limits(QuantType t, bool symmetric);
[[nodiscard]] ElementType element_type(QuantType t);

struct QuantParams {
  float scale = 1;
  std::int64_t zero_point = 0;
};

// Asymmetric (activations): rmin' = min(rmin, 0), rmax' = max(rmax, 0),
// scale = (rmax' - rmin') / (qmax - qmin), zero_point = round(qmin - rmin' / scale) saturated.
// A zero-width range gives scale 1, zero point 0 clamped into the type.
[[nodiscard]] QuantParams asymmetric_params(float rmin, float rmax, QuantType t);
// Symmetric (weights): scale = 2 * absmax / (qmax - qmin) over the symmetric limits.
[[nodiscard]] QuantParams symmetric_params(float absmax, QuantType t);

// round-half-even(x / scale) + zero_point, saturated to the type's full range.
[[nodiscard]] std::int64_t quantize_value(float x, const QuantParams& p, QuantType t);

// A tensor quantized offline: raw bytes in the quant type, with one QuantParams per channel
// (one entry for per-tensor).
struct QuantizedTensor {
  Tensor values;                    // element type = element_type(t), same shape
  std::vector<QuantParams> params;  // size 1 (per-tensor) or shape[axis]
  int axis = -1;                    // -1: per-tensor
};

// Weights: symmetric, per-tensor (axis < 0) or per-channel along `axis`. `w` must be float32.
[[nodiscard]] Result<QuantizedTensor> quantize_weight(const Tensor& w, QuantType t, int axis);
// Quantizes with given params: one (per-tensor, axis < 0) or one per channel along `axis`.
[[nodiscard]] Result<QuantizedTensor> quantize_with_channel_params(const Tensor& w, QuantType t, int axis,
                                                                   std::vector<QuantParams> params);
// Raises weight scales where a bias value would not fit int32 at input_scale * weight_scale
// (onnxruntime's quantizer does the same), keeping |bias / scale| <= 2^30. Returns whether any changed.
bool widen_weight_scales_for_bias(std::vector<QuantParams>& weight_params, std::span<const float> bias,
                                  float input_scale);
// Constant operands quantized as activations with given params (per-tensor).
[[nodiscard]] Result<QuantizedTensor> quantize_with_params(const Tensor& w, QuantType t, const QuantParams& p);
// Bias to int32 with scale = input_scale * weight_scale[c]; fails (so the caller keeps the float
// bias) when a value does not fit in int32.
[[nodiscard]] Result<QuantizedTensor> quantize_bias(const Tensor& b, float input_scale,
                                                    std::span<const QuantParams> weight_params);

}  // namespace modelkit::quant
