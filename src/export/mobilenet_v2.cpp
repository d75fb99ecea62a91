// MobileNetV2 as transformers' modeling_mobilenet_v2: a stride-2 3x3 stem convolution, the first
// inverted residual (depthwise 3x3, 1x1 projection), 16 inverted residual layers (1x1 expansion,
// depthwise 3x3, 1x1 projection, a residual where shape allows), a final 1x1 convolution; pooled
// output the spatial mean [B, C]. Channel counts follow depth_multiplier / depth_divisible_by /
// min_depth exactly as transformers rounds them; output_stride < 32 turns later strides into
// dilations. Every convolution's BatchNorm is folded into it at export time (batch_norm.hpp).
//
// tf_padding (the TensorFlow checkpoints' "SAME" padding) depends on the input size; the export
// size is static, so each convolution gets its explicit, possibly asymmetric, pads.
#include "export/batch_norm.hpp"
#include "export/config_reader.hpp"
#include "export/layers.hpp"
#include "export/vision_families.hpp"

#include "util/json_read.hpp"

#include <algorithm>
#include <cmath>

namespace modelkit::exporter {
namespace {

constexpr auto kFloat = ::onnx::TensorProto_DataType_FLOAT;
using Ints = std::vector<std::int64_t>;

struct MobileNetV2Config {
  std::int64_t num_channels = 3, image_size = 224, depth_divisible_by = 8, min_depth = 8, output_stride = 32;
  std::int64_t num_labels = 2;
  double depth_multiplier = 1.0, expand_ratio = 6.0, batch_norm_eps = 1e-3;
  bool first_layer_is_expansion = true, finegrained_output = true, tf_padding = true;
  std::string hidden_act = "relu6";
};

Result<MobileNetV2Config> read_mobilenet_v2_config(std::string_view text) {
  simdjson::dom::parser parser;
  MODELKIT_TRY_CTX(auto doc, util::parse_json(parser, text), "config.json");
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return failure("config.json: must be a JSON object");
  ConfigReader r(root);
  MobileNetV2Config c;
  MODELKIT_TRY(c.num_channels, r.integer("num_channels", c.num_channels, 1, 64));
  MODELKIT_TRY(c.image_size, r.integer("image_size", c.image_size, 1, 1 << 14));
  MODELKIT_TRY(c.depth_divisible_by, r.integer("depth_divisible_by", c.depth_divisible_by, 1, 1024));
  MODELKIT_TRY(c.min_depth, r.integer("min_depth", c.min_depth, 1, 1 << 16));
  MODELKIT_TRY(c.output_stride, r.integer("output_stride", c.output_stride, 1, 1024));
  MODELKIT_TRY(c.depth_multiplier, r.number("depth_multiplier", c.depth_multiplier));
  if (!(c.depth_multiplier > 0 && c.depth_multiplier <= 16))
    return failure("config.json: field 'depth_multiplier' must be in (0, 16]");
  MODELKIT_TRY(c.expand_ratio, r.number("expand_ratio", c.expand_ratio));
  if (!(c.expand_ratio > 0 && c.expand_ratio <= 64))
    return failure("config.json: field 'expand_ratio' must be in (0, 64]");
  MODELKIT_TRY(c.batch_norm_eps, r.number("layer_norm_eps", c.batch_norm_eps));
  if (!(c.batch_norm_eps > 0 && c.batch_norm_eps < 1)) return failure("config.json: field 'layer_norm_eps' must be in (0, 1)");
  MODELKIT_TRY(c.first_layer_is_expansion, r.flag("first_layer_is_expansion", c.first_layer_is_expansion));
  MODELKIT_TRY(c.finegrained_output, r.flag("finegrained_output", c.finegrained_output));
  MODELKIT_TRY(c.tf_padding, r.flag("tf_padding", c.tf_padding));
  MODELKIT_TRY(c.hidden_act, r.text("hidden_act", c.hidden_act));
  MODELKIT_TRY(c.num_labels, r.num_labels());
  return c;
}

// transformers' make_divisible: nearest multiple of `divisor` (at least min_value), one step up when
// rounding lost more than 10%.
std::int64_t make_divisible(double value, std::int64_t divisor, std::int64_t min_value) {
  auto v = std::max<std::int64_t>(
      min_value, static_cast<std::int64_t>(value + static_cast<double>(divisor) / 2.0) / divisor * divisor);
  if (static_cast<double>(v) < 0.9 * value) v += divisor;
  return v;
}

// int(round(x)) as Python computes it: halves to even (nearbyint in the default rounding mode).
double python_round(double x) { return std::nearbyint(x); }

std::int64_t apply_depth_multiplier(const MobileNetV2Config& c, std::int64_t channels) {
  return make_divisible(python_round(static_cast<double>(channels) * c.depth_multiplier), c.depth_divisible_by,
                        c.min_depth);
}

class MobileNetV2Graph {
 public:
  MobileNetV2Graph(GraphBuilder& g, const MobileNetV2Config& c, DerivedWeights& derived, RandomWeights* random,
                   std::int64_t height, std::int64_t width)
      : g_(g), c_(c), derived_(derived), random_(random), h_(height), w_(width) {}

  // MobileNetV2ConvLayer at `base` (".convolution" + ".normalization", folded), then the activation.
  Result<std::string> conv(const std::string& x, const std::string& base, std::int64_t in, std::int64_t out,
                           std::int64_t k, std::int64_t stride, std::int64_t groups, std::int64_t dilation, bool act) {
    const Ints wshape = {out, in / groups, k, k};
    auto folded = fold_conv_batch_norm(g_, derived_, random_, base + ".convolution.weight", base + ".normalization.",
                                       base, wshape, c_.batch_norm_eps);
    Ints pads;  // [top, left, bottom, right]
    if (c_.tf_padding) {
      // TensorFlow's SAME padding from the input size, the kernel and the stride (then scaled by the dilation).
      auto along = [&](std::int64_t size) {
        return size % stride == 0 ? std::max<std::int64_t>(k - stride, 0) : std::max<std::int64_t>(k - size % stride, 0);
      };
      const std::int64_t ph = along(h_), pw = along(w_);
      pads = {ph / 2 * dilation, pw / 2 * dilation, (ph - ph / 2) * dilation, (pw - pw / 2) * dilation};
    } else {
      const std::int64_t p = (k - 1) / 2 * dilation;
      pads = {p, p, p, p};
    }
    const std::int64_t span = dilation * (k - 1) + 1;
    h_ = (h_ + pads[0] + pads[2] - span) / stride + 1;
    w_ = (w_ + pads[1] + pads[3] - span) / stride + 1;
    if (h_ < 1 || w_ < 1) return failure("the export image size is too small for mobilenet_v2's convolutions");
    auto y = g_.node("Conv", {x, folded.weight, folded.bias},
                     {{"kernel_shape", Ints{k, k}},
                      {"strides", Ints{stride, stride}},
                      {"dilations", Ints{dilation, dilation}},
                      {"group", groups},
                      {"pads", pads}},
                     "conv");
    if (!act) return y;
    return layers_.activation(y, c_.hidden_act);
  }

  [[nodiscard]] std::int64_t height() const { return h_; }
  [[nodiscard]] std::int64_t width() const { return w_; }

 private:
  GraphBuilder& g_;
  const MobileNetV2Config& c_;
  DerivedWeights& derived_;
  RandomWeights* random_;
  Layers layers_{g_, random_};
  std::int64_t h_, w_;
};

}  // namespace

Result<void> build_mobilenet_v2(GraphBuilder& g, const VisionPlan& plan, std::string_view config_json,
                                const std::filesystem::path& folder, std::unique_ptr<WeightSource>& source,
                                RandomWeights* random, std::optional<ImageSize> size) {
  MODELKIT_TRY(auto c, read_mobilenet_v2_config(config_json));
  std::string from;
  MODELKIT_TRY(auto hw, vision_export_size(folder, c.image_size, size, &from));
  if (hw.height < 1 || hw.width < 1 || hw.height > (1 << 14) || hw.width > (1 << 14))
    return failure("export image size " + std::to_string(hw.height) + "x" + std::to_string(hw.width) + " (from " +
                   from + ") must be 1..16384");
  MODELKIT_TRY(std::string p, backbone_prefix(plan, *source, random != nullptr, "mobilenet_v2.",
                                              "conv_stem.first_conv.convolution.weight"));
  auto wrapper = std::make_unique<DerivedWeights>(std::move(source));
  DerivedWeights& derived = *wrapper;
  source = std::move(wrapper);
  MobileNetV2Graph v(g, c, derived, random, hw.height, hw.width);

  // Output channels of the stem and the 16 layers, and the depthwise strides (transformers' tables).
  Ints channels = {16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320};
  for (auto& ch : channels) ch = apply_depth_multiplier(c, ch);
  const Ints strides = {2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1};

  auto pixels = g.input("pixel_values", kFloat, {"batch_size", c.num_channels, hw.height, hw.width});
  const std::int64_t stem = apply_depth_multiplier(c, 32);
  const std::string sp = p + "conv_stem.";
  MODELKIT_TRY(auto x, v.conv(pixels, sp + "first_conv", c.num_channels, stem, 3, 2, 1, 1, true));
  if (!c.first_layer_is_expansion) {
    MODELKIT_TRY(x, v.conv(x, sp + "expand_1x1", stem, stem, 1, 1, 1, 1, true));
  }
  MODELKIT_TRY(x, v.conv(x, sp + "conv_3x3", stem, stem, 3, 1, stem, 1, true));
  MODELKIT_TRY(x, v.conv(x, sp + "reduce_1x1", stem, channels[0], 1, 1, 1, 1, false));

  std::int64_t current_stride = 2, dilation = 1;
  for (std::size_t i = 0; i < strides.size(); ++i) {
    std::int64_t layer_stride = strides[i], layer_dilation = 1;
    if (current_stride == c.output_stride) {  // stop shrinking: dilate the following depthwise convolutions
      layer_stride = 1;
      layer_dilation = dilation;
      dilation *= strides[i];
    } else {
      current_stride *= layer_stride;
    }
    const std::int64_t in = channels[i], out = channels[i + 1];
    const std::int64_t expanded =
        make_divisible(python_round(static_cast<double>(in) * c.expand_ratio), c.depth_divisible_by, c.min_depth);
    const std::string base = p + "layer." + std::to_string(i) + ".";
    MODELKIT_TRY(auto y, v.conv(x, base + "expand_1x1", in, expanded, 1, 1, 1, 1, true));
    MODELKIT_TRY(y, v.conv(y, base + "conv_3x3", expanded, expanded, 3, layer_stride, expanded, layer_dilation, true));
    MODELKIT_TRY(y, v.conv(y, base + "reduce_1x1", expanded, out, 1, 1, 1, 1, false));
    x = layer_stride == 1 && in == out ? g.node("Add", {x, y}, {}, "residual") : y;
  }
  const std::int64_t last =
      c.finegrained_output && c.depth_multiplier < 1.0 ? 1280 : apply_depth_multiplier(c, 1280);
  MODELKIT_TRY(x, v.conv(x, p + "conv_1x1", channels.back(), last, 1, 1, 1, 1, true));
  MODELKIT_TRY_VOID(derived.check_inputs());

  auto pooled = g.node("Flatten", {g.node("GlobalAveragePool", {x}, {}, "pooler")}, {{"axis", std::int64_t{1}}});
  if (plan.head == VisionHead::base) {
    g.output(x, "last_hidden_state", kFloat, {"batch_size", last, v.height(), v.width()});
    g.output(pooled, "pooler_output", kFloat, {"batch_size", last});
    return {};
  }
  Layers layers(g, random);
  g.output(layers.linear(pooled, "classifier", last, c.num_labels), "logits", kFloat, {"batch_size", c.num_labels});
  return {};
}

}  // namespace modelkit::exporter
