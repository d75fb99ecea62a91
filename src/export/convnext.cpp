// ConvNeXt: a patchify Conv with a channels-first LayerNorm, then stages of blocks (depthwise 7x7
// Conv, LayerNorm over channels, two pointwise Linears with the activation between, layer scale,
// residual), each stage after the first opening with LayerNorm + a 2x2 stride-2 Conv; the pooled
// output is the LayerNorm of the spatial mean. As transformers' modeling_convnext (eager).
#include "export/config_reader.hpp"
#include "export/layers.hpp"
#include "export/vision_families.hpp"

#include "util/json_read.hpp"

#include <cmath>

namespace modelkit::exporter {
namespace {

constexpr auto kFloat = ::onnx::TensorProto_DataType_FLOAT;
using Ints = std::vector<std::int64_t>;

struct ConvNextConfig {
  std::int64_t num_channels = 3, patch_size = 4, image_size = 224, num_labels = 2;
  Ints hidden_sizes = {96, 192, 384, 768}, depths = {3, 3, 9, 3};
  double layer_norm_eps = 1e-12, layer_scale_init_value = 1e-6;
  std::string hidden_act = "gelu";
};

Result<ConvNextConfig> read_convnext_config(std::string_view text) {
  simdjson::dom::parser parser;
  MODELKIT_TRY_CTX(auto doc, util::parse_json(parser, text), "config.json");
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return failure("config.json: must be a JSON object");
  ConfigReader r(root);
  ConvNextConfig c;
  MODELKIT_TRY(c.num_channels, r.integer("num_channels", c.num_channels, 1, 64));
  MODELKIT_TRY(c.patch_size, r.integer("patch_size", c.patch_size, 1, 1 << 10));
  MODELKIT_TRY(c.image_size, r.integer("image_size", c.image_size, 1, 1 << 14));
  MODELKIT_TRY(c.hidden_sizes, r.ints("hidden_sizes", c.hidden_sizes, 1, 1 << 16));
  MODELKIT_TRY(c.depths, r.ints("depths", c.depths, 1, 1024));
  std::int64_t stages = static_cast<std::int64_t>(c.depths.size());
  MODELKIT_TRY(stages, r.integer("num_stages", stages, 1, 64));
  if (stages != static_cast<std::int64_t>(c.depths.size()) || stages != static_cast<std::int64_t>(c.hidden_sizes.size()))
    return failure("config.json: num_stages " + std::to_string(stages) + ", depths (" + std::to_string(c.depths.size()) +
                   ") and hidden_sizes (" + std::to_string(c.hidden_sizes.size()) + ") disagree");
  MODELKIT_TRY(c.layer_norm_eps, r.number("layer_norm_eps", c.layer_norm_eps));
  MODELKIT_TRY(c.layer_scale_init_value, r.number("layer_scale_init_value", c.layer_scale_init_value));
  MODELKIT_TRY(c.hidden_act, r.text("hidden_act", c.hidden_act));
  MODELKIT_TRY(c.num_labels, r.num_labels());
  return c;
}

class ConvNextGraph {
 public:
  ConvNextGraph(GraphBuilder& g, const ConvNextConfig& c, RandomWeights* random) : g_(g), c_(c), random_(random) {}

  // Layers shared by every family (layers.hpp).
  std::string weight(const std::string& name, Ints shape, Init init, bool transpose = false) {
    return l_.weight(name, std::move(shape), init, transpose);
  }

  std::string conv(const std::string& x, const std::string& base, std::int64_t out, std::int64_t in, std::int64_t k,
                   std::int64_t stride, std::int64_t pad, std::int64_t groups = 1) {
    return g_.node("Conv",
                   {x, weight(base + ".weight", {out, in / groups, k, k}, Init::normal),
                    weight(base + ".bias", {out}, Init::zeros)},
                   {{"kernel_shape", Ints{k, k}},
                    {"strides", Ints{stride, stride}},
                    {"pads", Ints{pad, pad, pad, pad}},
                    {"group", groups}},
                   "conv");
  }

  std::string linear(const std::string& x, const std::string& base, std::int64_t in, std::int64_t out) {
    return l_.linear(x, base, in, out);
  }

  // LayerNorm over the last axis.
  std::string layer_norm(const std::string& x, const std::string& base, std::int64_t size, double eps) {
    return l_.layer_norm(x, base, size, eps);
  }

  std::string to_channels_last(const std::string& x) { return g_.node("Transpose", {x}, {{"perm", Ints{0, 2, 3, 1}}}); }
  std::string to_channels_first(const std::string& x) { return g_.node("Transpose", {x}, {{"perm", Ints{0, 3, 1, 2}}}); }

  // ConvNextLayerNorm(channels_first): the same normalisation over the channel axis of NCHW.
  std::string channels_first_norm(const std::string& x, const std::string& base, std::int64_t size) {
    return to_channels_first(layer_norm(to_channels_last(x), base, size, 1e-6));
  }

  Result<std::string> activation(const std::string& x) { return l_.activation(x, c_.hidden_act); }

  GraphBuilder& g_;
  const ConvNextConfig& c_;
  RandomWeights* random_;
  Layers l_{g_, random_};
};

}  // namespace

Result<void> build_convnext(GraphBuilder& g, const VisionPlan& plan, std::string_view config_json,
                            const std::filesystem::path& folder, const WeightSource& source, RandomWeights* random,
                            std::optional<ImageSize> size) {
  MODELKIT_TRY(auto c, read_convnext_config(config_json));
  std::string from;
  MODELKIT_TRY(auto hw, vision_export_size(folder, c.image_size, size, &from));
  // The patchify Conv and every stage's stride-2 Conv must leave at least one position.
  const std::int64_t shrink = c.patch_size << (c.depths.size() - 1);
  if (hw.height < shrink || hw.width < shrink || hw.height > (1 << 14) || hw.width > (1 << 14))
    return failure("export image size " + std::to_string(hw.height) + "x" + std::to_string(hw.width) + " (from " +
                   from + ") must be " + std::to_string(shrink) + "..16384 for this convnext");

  ConvNextGraph v(g, c, random);
  MODELKIT_TRY(std::string p, backbone_prefix(plan, source, random != nullptr, "convnext.",
                                              "embeddings.patch_embeddings.weight"));

  auto pixels = g.input("pixel_values", kFloat, {"batch_size", c.num_channels, hw.height, hw.width});
  const auto C0 = c.hidden_sizes.front();
  auto x = v.conv(pixels, p + "embeddings.patch_embeddings", C0, c.num_channels, c.patch_size, c.patch_size, 0);
  x = v.channels_first_norm(x, p + "embeddings.layernorm", C0);
  std::int64_t prev = C0, h = hw.height / c.patch_size, w = hw.width / c.patch_size;
  for (std::size_t s = 0; s < c.depths.size(); ++s) {
    const auto C = c.hidden_sizes[s];
    const std::string stage = p + "encoder.stages." + std::to_string(s) + ".";
    if (s > 0 || prev != C) {
      const std::int64_t stride = s > 0 ? 2 : 1;
      x = v.channels_first_norm(x, stage + "downsampling_layer.0", prev);
      x = v.conv(x, stage + "downsampling_layer.1", C, prev, 2, stride, 0);
      h = (h - 2) / stride + 1;
      w = (w - 2) / stride + 1;
    }
    for (std::int64_t j = 0; j < c.depths[s]; ++j) {
      const std::string layer = stage + "layers." + std::to_string(j) + ".";
      auto y = v.conv(x, layer + "dwconv", C, C, 7, 1, 3, C);
      y = v.layer_norm(v.to_channels_last(y), layer + "layernorm", C, 1e-6);
      y = v.linear(y, layer + "pwconv1", C, 4 * C);
      MODELKIT_TRY(y, v.activation(y));
      y = v.linear(y, layer + "pwconv2", 4 * C, C);
      if (c.layer_scale_init_value > 0)
        y = g.node("Mul", {y, v.weight(layer + "layer_scale_parameter", {C}, Init::ones)}, {}, "layer_scale");
      x = g.node("Add", {x, v.to_channels_first(y)}, {}, "residual");
    }
    prev = C;
  }
  const auto last = c.hidden_sizes.back();
  auto pooled = v.layer_norm(g.reduce("ReduceMean", x, {2, 3}, false), p + "layernorm", last, c.layer_norm_eps);
  if (plan.head == VisionHead::base) {
    g.output(x, "last_hidden_state", kFloat, {"batch_size", last, h, w});
    g.output(pooled, "pooler_output", kFloat, {"batch_size", last});
    return {};
  }
  g.output(v.linear(pooled, "classifier", last, c.num_labels), "logits", kFloat, {"batch_size", c.num_labels});
  return {};
}

}  // namespace modelkit::exporter
