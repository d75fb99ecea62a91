#include "quant/params.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace modelkit::quant {
namespace {

template <class T>
void store(Tensor& out, std::size_t i, std::int64_t q) {
  T v = static_cast<T>(q);
  std::memcpy(out.bytes.data() + i * sizeof(T), &v, sizeof(T));
}

void store_quantized(Tensor& out, QuantType t, std::size_t i, std::int64_t q) {
  const auto& info = setting_info(t);
  if (info.bits == 8) {
    if (info.is_signed) store<std::int8_t>(out, i, q);
    else store<std::uint8_t>(out, i, q);
  } else {
    if (info.is_signed) store<std::int16_t>(out, i, q);
    else store<std::uint16_t>(out, i, q);
  }
}

Result<void> check_float(const Tensor& w) {
  if (w.type != ElementType::float32)
    return failure("tensor '" + w.name + "' is " + element_type_name(w.type) + ", only float32 is quantized");
  if (w.bytes.size() != w.element_count() * sizeof(float))
    return failure("tensor '" + w.name + "' holds " + std::to_string(w.bytes.size()) + " bytes for shape [" +
                   format_shape(w.shape) + "]");
  return {};
}

}  // namespace

QuantLimits quant_limits(QuantType t, bool symmetric) {
  const auto& info = setting_info(t);
  if (!info.is_signed) return {0, (std::int64_t{1} << info.bits) - 1};
  const std::int64_t half = std::int64_t{1} << (info.bits - 1);
  // Symmetric signed ranges are narrow ([-127, 127]) so that -x quantizes to -q.
  return {symmetric ? -(half - 1) : -half, half - 1};
}

ElementType element_type(QuantType t) { return setting_info(t).element_type; }

QuantParams asymmetric_params(float rmin, float rmax, QuantType t) {
  const auto lim = quant_limits(t, false);
  double lo = std::min<double>(rmin, 0), hi = std::max<double>(rmax, 0);
  QuantParams p;
  double scale = (hi - lo) / static_cast<double>(lim.qmax - lim.qmin);
  if (!(scale > 0) || static_cast<float>(scale) < std::numeric_limits<float>::min()) {
    p.scale = 1;
    p.zero_point = std::clamp<std::int64_t>(0, lim.qmin, lim.qmax);
    return p;
  }
  p.scale = static_cast<float>(scale);
  double zp = std::nearbyint(static_cast<double>(lim.qmin) - lo / static_cast<double>(p.scale));
  p.zero_point = std::clamp<std::int64_t>(static_cast<std::int64_t>(zp), lim.qmin, lim.qmax);
  return p;
}

QuantParams symmetric_params(float absmax, QuantType t) {
  const auto lim = quant_limits(t, true);
  QuantParams p;
  p.zero_point = setting_info(t).is_signed ? 0 : (lim.qmin + lim.qmax + 1) / 2;  // unsigned: 128 / 32768
  double scale = 2.0 * std::fabs(static_cast<double>(absmax)) / static_cast<double>(lim.qmax - lim.qmin);
  if (!(scale > 0) || static_cast<float>(scale) < std::numeric_limits<float>::min()) {
    p.scale = 1;
    return p;
  }
  p.scale = static_cast<float>(scale);
  return p;
}

std::int64_t quantize_value(float x, const QuantParams& p, QuantType t) {
  const auto lim = quant_limits(t, false);
  double q = std::nearbyint(static_cast<double>(x) / static_cast<double>(p.scale)) + static_cast<double>(p.zero_point);
  if (std::isnan(q)) q = static_cast<double>(p.zero_point);
  return static_cast<std::int64_t>(std::clamp(q, static_cast<double>(lim.qmin), static_cast<double>(lim.qmax)));
}

namespace {
// [outer, channels, inner] around `axis`.
struct Layout {
  std::size_t outer = 1, channels = 1, inner = 1;
};
Layout layout_of(const Tensor& w, int axis) {
  Layout l;
  if (axis < 0) {
    l.inner = static_cast<std::size_t>(w.element_count());
    return l;
  }
  l.channels = static_cast<std::size_t>(w.shape[static_cast<std::size_t>(axis)]);
  for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < w.shape.size(); ++d) l.inner *= static_cast<std::size_t>(w.shape[d]);
  for (std::size_t d = 0; d < static_cast<std::size_t>(axis); ++d) l.outer *= static_cast<std::size_t>(w.shape[d]);
  return l;
}
}  // namespace

Result<QuantizedTensor> quantize_with_channel_params(const Tensor& w, QuantType t, int axis,
                                                     std::vector<QuantParams> params) {
  MODELKIT_TRY_VOID(check_float(w));
  if (axis >= 0 && static_cast<std::size_t>(axis) >= w.shape.size())
    return failure("tensor '" + w.name + "' of shape [" + format_shape(w.shape) + "] has no axis " + std::to_string(axis));
  const Layout l = layout_of(w, axis);
  if (params.size() != l.channels)
    return failure("tensor '" + w.name + "': " + std::to_string(params.size()) + " quantization parameters for " +
                   std::to_string(l.channels) + " channels");
  auto values = w.values<float>();
  QuantizedTensor out;
  out.values = Tensor{w.name, element_type(t), w.shape, {}};
  out.values.bytes.resize(element_storage_bytes(out.values.type, w.element_count()));
  out.axis = axis;
  out.params = std::move(params);
  for (std::size_t o = 0; o < l.outer; ++o)
    for (std::size_t c = 0; c < l.channels; ++c)
      for (std::size_t i = 0; i < l.inner; ++i) {
        std::size_t k = (o * l.channels + c) * l.inner + i;
        store_quantized(out.values, t, k, quantize_value(values[k], out.params[c], t));
      }
  return out;
}

Result<QuantizedTensor> quantize_weight(const Tensor& w, QuantType t, int axis) {
  MODELKIT_TRY_VOID(check_float(w));
  if (axis >= 0 && static_cast<std::size_t>(axis) >= w.shape.size())
    return failure("tensor '" + w.name + "' of shape [" + format_shape(w.shape) + "] has no axis " + std::to_string(axis));
  const Layout l = layout_of(w, axis);
  auto values = w.values<float>();
  std::vector<float> absmax(l.channels, 0);
  for (std::size_t o = 0; o < l.outer; ++o)
    for (std::size_t c = 0; c < l.channels; ++c)
      for (std::size_t i = 0; i < l.inner; ++i) {
        float v = values[(o * l.channels + c) * l.inner + i];
        if (std::isfinite(v)) absmax[c] = std::max(absmax[c], std::fabs(v));
      }
  std::vector<QuantParams> params;
  for (float a : absmax) params.push_back(symmetric_params(a, t));
  return quantize_with_channel_params(w, t, axis, std::move(params));
}

bool widen_weight_scales_for_bias(std::vector<QuantParams>& weight_params, std::span<const float> bias,
                                  float input_scale) {
  constexpr double limit = double(1 << 30);
  bool changed = false;
  for (std::size_t i = 0; i < bias.size(); ++i) {
    auto& p = weight_params[weight_params.size() == 1 ? 0 : i];
    if (!std::isfinite(bias[i])) continue;
    double needed = std::fabs(static_cast<double>(bias[i])) / (static_cast<double>(input_scale) * limit);
    if (static_cast<double>(p.scale) < needed) {
      p.scale = static_cast<float>(needed * (1 + 1e-6));
      changed = true;
    }
  }
  return changed;
}

Result<QuantizedTensor> quantize_with_params(const Tensor& w, QuantType t, const QuantParams& p) {
  MODELKIT_TRY_VOID(check_float(w));
  auto values = w.values<float>();
  QuantizedTensor out;
  out.values = Tensor{w.name, element_type(t), w.shape, {}};
  out.values.bytes.resize(element_storage_bytes(out.values.type, w.element_count()));
  out.params.push_back(p);
  for (std::size_t i = 0; i < values.size(); ++i) store_quantized(out.values, t, i, quantize_value(values[i], p, t));
  return out;
}

Result<QuantizedTensor> quantize_bias(const Tensor& b, float input_scale, std::span<const QuantParams> weight_params) {
  MODELKIT_TRY_VOID(check_float(b));
  auto values = b.values<float>();
  if (weight_params.size() != 1 && weight_params.size() != values.size())
    return failure("bias '" + b.name + "' has " + std::to_string(values.size()) + " values for " +
                   std::to_string(weight_params.size()) + " weight channels");
  QuantizedTensor out;
  out.values = Tensor{b.name, ElementType::int32, b.shape, {}};
  out.values.bytes.resize(values.size() * sizeof(std::int32_t));
  out.axis = weight_params.size() == 1 ? -1 : 0;
  for (const auto& wp : weight_params) out.params.push_back(QuantParams{input_scale * wp.scale, 0});
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto& p = out.params[weight_params.size() == 1 ? 0 : i];
    double q = std::nearbyint(static_cast<double>(values[i]) / static_cast<double>(p.scale));
    if (!std::isfinite(q) || q > std::numeric_limits<std::int32_t>::max() || q < std::numeric_limits<std::int32_t>::min())
      return failure("bias '" + b.name + "' value " + std::to_string(values[i]) + " does not fit int32 at scale " +
                     std::to_string(p.scale));
    std::int32_t v = static_cast<std::int32_t>(q);
    std::memcpy(out.values.bytes.data() + i * sizeof v, &v, sizeof v);
  }
  return out;
}

}  // namespace modelkit::quant
