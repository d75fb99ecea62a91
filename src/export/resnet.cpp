// ResNet as transformers' modeling_resnet: a 7x7 stride-2 stem + 3x3 stride-2 max pool, stages of
// basic (two 3x3) or bottleneck (1x1, 3x3, 1x1 at a quarter width) residual layers with a 1x1
// projection shortcut where the shape changes; pooled output the spatial mean [B, C, 1, 1].
//
// Every convolution is followed by an inference-mode BatchNorm; it is folded into the convolution
// at export time (batch_norm.hpp: w' = w * g / sqrt(v + eps) per output channel, b' = beta - m * g / sqrt(v + eps)):
// one Conv per pair instead of Conv + BatchNormalization, which is what a static quantizer wants to
// see (per-channel weight scales absorb the BatchNorm scale) and what ONNX Runtime would fuse anyway.
#include "export/batch_norm.hpp"
#include "export/config_reader.hpp"
#include "export/vision_families.hpp"

#include "util/json_read.hpp"

#include <cmath>

namespace modelkit::exporter {
namespace {

constexpr auto kFloat = ::onnx::TensorProto_DataType_FLOAT;
using Ints = std::vector<std::int64_t>;

// transformers' BatchNorm2d keeps torch's default epsilon.
constexpr double kBatchNormEps = 1e-5;

struct ResNetConfig {
  std::int64_t num_channels = 3, embedding_size = 64, image_size = 224, num_labels = 2;
  Ints hidden_sizes = {256, 512, 1024, 2048}, depths = {3, 4, 6, 3};
  std::string layer_type = "bottleneck", hidden_act = "relu";
  bool downsample_in_first_stage = false, downsample_in_bottleneck = false;
};

Result<ResNetConfig> read_resnet_config(std::string_view text) {
  simdjson::dom::parser parser;
  MODELKIT_TRY_CTX(auto doc, util::parse_json(parser, text), "config.json");
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return failure("config.json: must be a JSON object");
  ConfigReader r(root);
  ResNetConfig c;
  MODELKIT_TRY(c.num_channels, r.integer("num_channels", c.num_channels, 1, 64));
  MODELKIT_TRY(c.embedding_size, r.integer("embedding_size", c.embedding_size, 1, 1 << 16));
  MODELKIT_TRY(c.image_size, r.integer("image_size", c.image_size, 1, 1 << 14));
  MODELKIT_TRY(c.hidden_sizes, r.ints("hidden_sizes", c.hidden_sizes, 1, 1 << 16));
  MODELKIT_TRY(c.depths, r.ints("depths", c.depths, 1, 1024));
  if (c.hidden_sizes.size() != c.depths.size() || c.depths.empty())
    return failure("config.json: depths (" + std::to_string(c.depths.size()) + ") and hidden_sizes (" +
                   std::to_string(c.hidden_sizes.size()) + ") disagree");
  MODELKIT_TRY(c.layer_type, r.text("layer_type", c.layer_type));
  if (c.layer_type != "basic" && c.layer_type != "bottleneck")
    return failure("config.json: layer_type '" + c.layer_type + "' is not 'basic' or 'bottleneck'");
  MODELKIT_TRY(c.hidden_act, r.text("hidden_act", c.hidden_act));
  if (c.hidden_act != "relu" && c.hidden_act != "silu" && c.hidden_act != "swish")
    return failure("config.json: hidden_act '" + c.hidden_act + "' is not supported by the exporter for resnet (relu, "
                   "silu)");
  MODELKIT_TRY(c.downsample_in_first_stage, r.flag("downsample_in_first_stage", c.downsample_in_first_stage));
  MODELKIT_TRY(c.downsample_in_bottleneck, r.flag("downsample_in_bottleneck", c.downsample_in_bottleneck));
  MODELKIT_TRY(c.num_labels, r.num_labels());
  return c;
}

class ResNetGraph {
 public:
  ResNetGraph(GraphBuilder& g, const ResNetConfig& c, DerivedWeights& derived, RandomWeights* random)
      : g_(g), c_(c), derived_(derived), random_(random) {}

  std::string act(const std::string& x) {
    if (c_.hidden_act == "relu") return g_.node("Relu", {x});
    return g_.node("Mul", {x, g_.node("Sigmoid", {x})}, {}, "silu");
  }

  // ResNetConvLayer / ResNetShortCut at `base` (".convolution" + ".normalization"), BatchNorm folded.
  std::string conv_bn(const std::string& x, const std::string& base, std::int64_t in, std::int64_t out, std::int64_t k,
                      std::int64_t stride, bool with_act) {
    const Ints wshape = {out, in, k, k};
    auto folded = fold_conv_batch_norm(g_, derived_, random_, base + ".convolution.weight", base + ".normalization.",
                                       base, wshape, kBatchNormEps);
    const std::int64_t pad = k / 2;
    auto y = g_.node("Conv", {x, folded.weight, folded.bias},
                     {{"kernel_shape", Ints{k, k}}, {"strides", Ints{stride, stride}}, {"pads", Ints{pad, pad, pad, pad}}},
                     "conv");
    return with_act ? act(y) : y;
  }

  std::string residual_layer(const std::string& x, const std::string& base, std::int64_t in, std::int64_t out,
                             std::int64_t stride) {
    std::string shortcut = x;
    if (in != out || stride != 1) shortcut = conv_bn(x, base + "shortcut", in, out, 1, stride, false);
    std::string y;
    if (c_.layer_type == "basic") {
      y = conv_bn(x, base + "layer.0", in, out, 3, stride, true);
      y = conv_bn(y, base + "layer.1", out, out, 3, 1, false);
    } else {
      const std::int64_t r = out / 4;
      y = conv_bn(x, base + "layer.0", in, r, 1, c_.downsample_in_bottleneck ? stride : 1, true);
      y = conv_bn(y, base + "layer.1", r, r, 3, c_.downsample_in_bottleneck ? 1 : stride, true);
      y = conv_bn(y, base + "layer.2", r, out, 1, 1, false);
    }
    return act(g_.node("Add", {y, shortcut}, {}, "residual"));
  }

  GraphBuilder& g_;
  const ResNetConfig& c_;
  DerivedWeights& derived_;
  RandomWeights* random_;
};

std::int64_t conv_out(std::int64_t size, std::int64_t k, std::int64_t stride) {
  return (size + 2 * (k / 2) - k) / stride + 1;
}

}  // namespace

Result<void> build_resnet(GraphBuilder& g, const VisionPlan& plan, std::string_view config_json,
                          const std::filesystem::path& folder, std::unique_ptr<WeightSource>& source,
                          RandomWeights* random, std::optional<ImageSize> size) {
  MODELKIT_TRY(auto c, read_resnet_config(config_json));
  if (c.layer_type == "bottleneck")
    for (auto h : c.hidden_sizes)
      if (h < 4) return failure("config.json: a bottleneck resnet needs hidden_sizes of 4 and more");
  std::string from;
  MODELKIT_TRY(auto hw, vision_export_size(folder, c.image_size, size, &from));
  if (hw.height < 4 || hw.width < 4 || hw.height > (1 << 14) || hw.width > (1 << 14))
    return failure("export image size " + std::to_string(hw.height) + "x" + std::to_string(hw.width) + " (from " +
                   from + ") must be 4..16384");
  MODELKIT_TRY(std::string p, backbone_prefix(plan, *source, random != nullptr, "resnet.",
                                              "embedder.embedder.convolution.weight"));
  auto wrapper = std::make_unique<DerivedWeights>(std::move(source));
  DerivedWeights& derived = *wrapper;
  source = std::move(wrapper);
  ResNetGraph v(g, c, derived, random);

  auto pixels = g.input("pixel_values", kFloat, {"batch_size", c.num_channels, hw.height, hw.width});
  auto x = v.conv_bn(pixels, p + "embedder.embedder", c.num_channels, c.embedding_size, 7, 2, true);
  x = g.node("MaxPool", {x},
             {{"kernel_shape", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}, "maxpool");
  std::int64_t h = conv_out(conv_out(hw.height, 7, 2), 3, 2), w = conv_out(conv_out(hw.width, 7, 2), 3, 2);
  std::int64_t in = c.embedding_size;
  for (std::size_t s = 0; s < c.depths.size(); ++s) {
    const std::int64_t out = c.hidden_sizes[s];
    const std::int64_t stride = s > 0 || c.downsample_in_first_stage ? 2 : 1;
    for (std::int64_t j = 0; j < c.depths[s]; ++j) {
      const std::string base = p + "encoder.stages." + std::to_string(s) + ".layers." + std::to_string(j) + ".";
      x = v.residual_layer(x, base, j == 0 ? in : out, out, j == 0 ? stride : 1);
    }
    if (stride == 2) {
      h = conv_out(h, 3, 2);
      w = conv_out(w, 3, 2);
    }
    in = out;
  }
  MODELKIT_TRY_VOID(derived.check_inputs());
  const auto last = c.hidden_sizes.back();
  auto pooled = g.node("GlobalAveragePool", {x}, {}, "pooler");
  if (plan.head == VisionHead::base) {
    g.output(x, "last_hidden_state", kFloat, {"batch_size", last, h, w});
    g.output(pooled, "pooler_output", kFloat, {"batch_size", last, 1, 1});
    return {};
  }
  auto flat = g.node("Flatten", {pooled}, {{"axis", std::int64_t{1}}});
  if (random) {
    random->expect("classifier.1.weight", {c.num_labels, last});
    random->expect("classifier.1.bias", {c.num_labels});
  }
  auto logits = g.node("Add", {g.node("MatMul", {flat, g.weight("classifier.1.weight", {c.num_labels, last}, Init::normal, true)}),
                               g.weight("classifier.1.bias", {c.num_labels}, Init::zeros)});
  g.output(logits, "logits", kFloat, {"batch_size", c.num_labels});
  return {};
}

}  // namespace modelkit::exporter
