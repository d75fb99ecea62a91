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
  switch (t) {
    case QuantType::uint8: store<std::uint8_t>(out, i, q); break;
    case QuantType::int8: store<std::int8_t>(out, i, q); break;
    case QuantType::uint16: store<std::uint16_t>(out, i, q); break;
    case QuantType::int16: store<std::int16_t>(out, i, q); break;
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
  switch (t) {
    case QuantType::uint8: return {0, 255};
    case QuantType::int8: return symmetric ? QuantLimits{-127, 127} : QuantLimits{-128, 127};
    case QuantType::uint16: return {0, 65535};
    case QuantType::int16: return symmetric ? QuantLimits{-32767, 32767} : QuantLimits{-32768, 32767};
  }
  return {0, 255};
}

ElementType element_type(QuantType t) {
  switch (t) {
    case QuantType::uint8: return ElementType::uint8;
    case QuantType::int8: return ElementType::int8;
    case QuantType::uint16: return ElementType::uint16;
    case QuantType::int16: return ElementType::int16;
  }
  return ElementType::uint8;
}

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
  p.zero_point = (lim.qmin + lim.qmax + 1) / 2;  // 0 for signed, 128 / 32768 for unsigned
  if (t == QuantType::int8 || t == QuantType::int16) p.zero_point = 0;
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

Result<QuantizedTensor> quantize_weight(const Tensor& w, QuantType t, int axis) {
  MODELKIT_TRY_VOID(check_float(w));
  auto values = w.values<float>();
  QuantizedTensor out;
  out.values = Tensor{w.name, element_type(t), w.shape, {}};
  out.values.bytes.resize(element_storage_bytes(out.values.type, w.element_count()));
  if (axis < 0) {
    float absmax = 0;
    for (float v : values)
      if (std::isfinite(v)) absmax = std::max(absmax, std::fabs(v));
    out.params.push_back(symmetric_params(absmax, t));
    for (std::size_t i = 0; i < values.size(); ++i) store_quantized(out.values, t, i, quantize_value(values[i], out.params[0], t));
    return out;
  }
  if (static_cast<std::size_t>(axis) >= w.shape.size())
    return failure("tensor '" + w.name + "' of shape [" + format_shape(w.shape) + "] has no axis " + std::to_string(axis));
  // Layout [outer, channels, inner] around the axis.
  const std::size_t channels = static_cast<std::size_t>(w.shape[static_cast<std::size_t>(axis)]);
  std::size_t inner = 1, outer = 1;
  for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < w.shape.size(); ++d) inner *= static_cast<std::size_t>(w.shape[d]);
  for (std::size_t d = 0; d < static_cast<std::size_t>(axis); ++d) outer *= static_cast<std::size_t>(w.shape[d]);
  std::vector<float> absmax(channels, 0);
  for (std::size_t o = 0; o < outer; ++o)
    for (std::size_t c = 0; c < channels; ++c)
      for (std::size_t i = 0; i < inner; ++i) {
        float v = values[(o * channels + c) * inner + i];
        if (std::isfinite(v)) absmax[c] = std::max(absmax[c], std::fabs(v));
      }
  out.axis = axis;
  for (std::size_t c = 0; c < channels; ++c) out.params.push_back(symmetric_params(absmax[c], t));
  for (std::size_t o = 0; o < outer; ++o)
    for (std::size_t c = 0; c < channels; ++c)
      for (std::size_t i = 0; i < inner; ++i) {
        std::size_t k = (o * channels + c) * inner + i;
        store_quantized(out.values, t, k, quantize_value(values[k], out.params[c], t));
      }
  return out;
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
