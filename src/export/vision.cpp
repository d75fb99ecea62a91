// Vision encoders: ViT, DeiT, DINOv2 and the CLIP vision tower. All four are pre-norm
// transformers over a patch embedding (a strided Conv) with learned absolute position embeddings
// and a class token (DeiT adds a distillation token, DINOv2 layer scale, CLIP a LayerNorm before
// the encoder and one on the pooled token). The arithmetic follows transformers' eager inference.
#include "export/config_reader.hpp"
#include "export/layers.hpp"
#include "export/vision_families.hpp"

#include "util/file.hpp"
#include "util/json_read.hpp"

#include <modelkit/image.hpp>

#include <cmath>
#include <functional>
#include <map>

namespace modelkit::exporter {
namespace fs = std::filesystem;

namespace {

constexpr auto kFloat = ::onnx::TensorProto_DataType_FLOAT;
using Dims = std::vector<std::variant<std::int64_t, std::string>>;

// --- the family tables ---------------------------------------------------------------------

// Tensor names of one pre-norm backbone; "{p}" is the backbone prefix, "{i}" the layer; names end
// before ".weight"/".bias" except the parameters (tokens, position tables, layer scales).
struct VisionNames {
  std::string_view cls_token, distillation_token, position_embeddings, patch_projection, pre_norm;
  std::string_view ln1, query, key, value, attention_out, layer_scale1, ln2, fc1, fc2, layer_scale2;
  std::string_view final_norm, pooler;
};

constexpr VisionNames kVitNames = {
    .cls_token = "{p}embeddings.cls_token",
    .distillation_token = "",
    .position_embeddings = "{p}embeddings.position_embeddings",
    .patch_projection = "{p}embeddings.patch_embeddings.projection",
    .pre_norm = "",
    .ln1 = "{p}encoder.layer.{i}.layernorm_before",
    .query = "{p}encoder.layer.{i}.attention.attention.query",
    .key = "{p}encoder.layer.{i}.attention.attention.key",
    .value = "{p}encoder.layer.{i}.attention.attention.value",
    .attention_out = "{p}encoder.layer.{i}.attention.output.dense",
    .layer_scale1 = "",
    .ln2 = "{p}encoder.layer.{i}.layernorm_after",
    .fc1 = "{p}encoder.layer.{i}.intermediate.dense",
    .fc2 = "{p}encoder.layer.{i}.output.dense",
    .layer_scale2 = "",
    .final_norm = "{p}layernorm",
    .pooler = "{p}pooler.dense",
};

constexpr VisionNames kDeitNames = [] {
  VisionNames n = kVitNames;
  n.distillation_token = "{p}embeddings.distillation_token";
  return n;
}();

constexpr VisionNames kDinov2Names = [] {
  VisionNames n = kVitNames;
  n.ln1 = "{p}encoder.layer.{i}.norm1";
  n.layer_scale1 = "{p}encoder.layer.{i}.layer_scale1.lambda1";
  n.ln2 = "{p}encoder.layer.{i}.norm2";
  n.fc1 = "{p}encoder.layer.{i}.mlp.fc1";
  n.fc2 = "{p}encoder.layer.{i}.mlp.fc2";
  n.layer_scale2 = "{p}encoder.layer.{i}.layer_scale2.lambda1";
  n.pooler = "";
  return n;
}();

constexpr VisionNames kClipNames = {
    .cls_token = "{p}embeddings.class_embedding",
    .distillation_token = "",
    .position_embeddings = "{p}embeddings.position_embedding.weight",
    .patch_projection = "{p}embeddings.patch_embedding",
    .pre_norm = "{p}pre_layrnorm",  // sic: transformers' parameter name
    .ln1 = "{p}encoder.layers.{i}.layer_norm1",
    .query = "{p}encoder.layers.{i}.self_attn.q_proj",
    .key = "{p}encoder.layers.{i}.self_attn.k_proj",
    .value = "{p}encoder.layers.{i}.self_attn.v_proj",
    .attention_out = "{p}encoder.layers.{i}.self_attn.out_proj",
    .layer_scale1 = "",
    .ln2 = "{p}encoder.layers.{i}.layer_norm2",
    .fc1 = "{p}encoder.layers.{i}.mlp.fc1",
    .fc2 = "{p}encoder.layers.{i}.mlp.fc2",
    .layer_scale2 = "",
    .final_norm = "{p}post_layernorm",
    .pooler = "",
};

const VisionNames& names_of(VisionArch arch) {
  switch (arch) {
    case VisionArch::vit: return kVitNames;
    case VisionArch::deit: return kDeitNames;
    case VisionArch::dinov2: return kDinov2Names;
    case VisionArch::clip:
    case VisionArch::clip_text:
    case VisionArch::clip_model: return kClipNames;
    case VisionArch::convnext:  // convnext.cpp
    case VisionArch::resnet:        // resnet.cpp
    case VisionArch::mobilenet_v2:  // mobilenet_v2.cpp
    case VisionArch::beit:          // beit.cpp
    case VisionArch::swin:          // swin.cpp
    case VisionArch::siglip:        // siglip.cpp
    case VisionArch::siglip_vision:
    case VisionArch::siglip_text: break;
  }
  return kVitNames;
}

std::string expand(std::string_view pattern, std::string_view prefix, std::int64_t layer = -1) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern.substr(i, 3) == "{p}") {
      out += prefix;
      i += 2;
    } else if (pattern.substr(i, 3) == "{i}") {
      out += std::to_string(layer);
      i += 2;
    } else {
      out += pattern[i];
    }
  }
  return out;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// --- config.json ---------------------------------------------------------------------------

struct VisionConfig {
  std::int64_t hidden_size = 768, layers = 12, heads = 12, intermediate_size = 3072;
  std::int64_t image_size = 224, patch_size = 16, num_channels = 3, num_labels = 2;
  std::int64_t projection_dim = 512, pooler_size = 0;
  double layer_norm_eps = 1e-12, layerscale_value = 1.0;
  std::string hidden_act = "gelu", pooler_act = "tanh";
  bool qkv_bias = true;
};

Result<VisionConfig> read_config(std::string_view text, VisionArch arch) {
  simdjson::dom::parser parser;
  MODELKIT_TRY_CTX(auto doc, util::parse_json(parser, text), "config.json");
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return failure("config.json: must be a JSON object");
  ConfigReader r(root);
  VisionConfig c;
  const bool clip = arch == VisionArch::clip || arch == VisionArch::clip_text || arch == VisionArch::clip_model;
  MODELKIT_TRY(c.hidden_size, r.integer("hidden_size", 768, 1, 1 << 16));
  MODELKIT_TRY(c.layers, r.integer("num_hidden_layers", 12, 1, 1024));
  MODELKIT_TRY(c.heads, r.integer("num_attention_heads", 12, 1, 4096));
  if (arch == VisionArch::dinov2) {
    MODELKIT_TRY(auto ratio, r.number("mlp_ratio", 4.0));
    if (!(ratio > 0 && ratio <= 1024)) return failure("config.json: field 'mlp_ratio' must be in (0, 1024]");
    c.intermediate_size = static_cast<std::int64_t>(static_cast<double>(c.hidden_size) * ratio);
    MODELKIT_TRY(c.layerscale_value, r.number("layerscale_value", 1.0));
    MODELKIT_TRY(auto swiglu, r.flag("use_swiglu_ffn", false));
    if (swiglu)
      return failure("config.json: use_swiglu_ffn (DINOv2 giant) is not supported by the exporter; export the ONNX "
                     "model another way and pass it with --onnx FILE");
  } else {
    MODELKIT_TRY(c.intermediate_size, r.integer("intermediate_size", 3072, 1, 1 << 20));
  }
  MODELKIT_TRY(c.image_size, r.integer("image_size", 224, 1, 1 << 14));
  MODELKIT_TRY(c.patch_size, r.integer("patch_size", clip ? 32 : arch == VisionArch::dinov2 ? 14 : 16, 1, 1 << 12));
  MODELKIT_TRY(c.num_channels, r.integer("num_channels", 3, 1, 64));
  MODELKIT_TRY(c.projection_dim, r.integer("projection_dim", 512, 1, 1 << 16));
  MODELKIT_TRY(c.pooler_size, r.integer("pooler_output_size", c.hidden_size, 1, 1 << 16));
  MODELKIT_TRY(c.layer_norm_eps, r.number("layer_norm_eps", clip ? 1e-5 : arch == VisionArch::dinov2 ? 1e-6 : 1e-12));
  MODELKIT_TRY(c.hidden_act, r.text("hidden_act", clip ? "quick_gelu" : "gelu"));
  MODELKIT_TRY(c.pooler_act, r.text("pooler_act", "tanh"));
  MODELKIT_TRY(auto qkv, r.flag("qkv_bias", true));
  c.qkv_bias = clip || qkv;
  MODELKIT_TRY_VOID(check_whole_heads("config.json", c.hidden_size, c.heads));
  MODELKIT_TRY_VOID(check_patch_fits("config.json", c.image_size, c.patch_size));
  MODELKIT_TRY(c.num_labels, r.num_labels());
  return c;
}

// --- derived weights -------------------------------------------------------------------------

// --- the graph -------------------------------------------------------------------------------

class VisionGraph {
 public:
  VisionGraph(GraphBuilder& g, const VisionConfig& c, const VisionFamily& f, const WeightSource& source,
              RandomWeights* random)
      : g_(g), c_(c), f_(f), n_(names_of(f.arch)), source_(source), random_(random) {}

  // Layers shared by every family (layers.hpp).
  std::string weight(const std::string& name, std::vector<std::int64_t> shape, Init init, bool transpose = false) {
    return l_.weight(name, std::move(shape), init, transpose);
  }

  std::string linear(const std::string& x, const std::string& base, std::int64_t in, std::int64_t out,
                     bool bias = true) {
    return l_.linear(x, base, in, out, bias);
  }

  std::string layer_norm(const std::string& x, const std::string& base) {
    return l_.layer_norm(x, base, c_.hidden_size, c_.layer_norm_eps);
  }

  Result<std::string> activation(const std::string& x, std::string_view name) { return l_.activation(x, name); }

  // The backbone prefix: where the patch projection is ("vit." in a classifier, "" in a base model).
  Result<void> pick_prefix(VisionHead head) {
    const auto probe = std::string(n_.patch_projection) + ".weight";
    if (random_) {
      prefix_ = head == VisionHead::base && f_.arch != VisionArch::clip && f_.arch != VisionArch::clip_text
                    ? ""
                    : std::string(f_.base_prefixes.front());
      return {};
    }
    for (auto p : f_.base_prefixes)
      if (source_.find(expand(probe, p))) {
        prefix_ = p;
        return {};
      }
    return failure("tensor '" + expand(probe, f_.base_prefixes.front()) + "' is missing from the checkpoint's weights");
  }

  [[nodiscard]] const std::string& prefix() const { return prefix_; }

  // pixel_values [B, C, H, W] -> hidden [B, T, hidden] before the encoder; `positions` is the
  // initializer holding the position embeddings ([1, T, hidden] or [T, hidden]).
  std::string embeddings(const std::string& pixels, const std::string& positions) {
    const auto H = c_.hidden_size, P = c_.patch_size;
    const auto projection = expand(n_.patch_projection, prefix_);
    std::vector<std::string> conv_inputs = {pixels,
                                            weight(projection + ".weight", {H, c_.num_channels, P, P}, Init::normal)};
    if (f_.arch != VisionArch::clip && f_.arch != VisionArch::clip_model) conv_inputs.push_back(weight(projection + ".bias", {H}, Init::zeros));
    auto patches = g_.node("Conv", conv_inputs,
                           {{"kernel_shape", std::vector<std::int64_t>{P, P}},
                            {"strides", std::vector<std::int64_t>{P, P}}},
                           "patch_embeddings");
    auto x = g_.node("Transpose", {g_.node("Reshape", {patches, g_.const_i64({0, H, -1})})},
                     {{"perm", std::vector<std::int64_t>{0, 2, 1}}}, "patches");
    // The class token (and DeiT's distillation token), one per image.
    auto batch = g_.node("Slice", {g_.node("Shape", {pixels}), g_.const_i64({0}), g_.const_i64({1})});
    auto token_shape = g_.node("Concat", {batch, g_.const_i64({1, H})}, {{"axis", std::int64_t{0}}});
    auto token = [&](std::string_view pattern) {
      const auto name = expand(pattern, prefix_);
      std::string t = f_.arch == VisionArch::clip || f_.arch == VisionArch::clip_model
                          ? g_.node("Reshape", {weight(name, {H}, Init::normal), g_.const_i64({1, 1, H})})
                          : weight(name, {1, 1, H}, Init::normal);
      return g_.node("Expand", {t, token_shape}, {}, "token");
    };
    std::vector<std::string> parts = {token(n_.cls_token)};
    if (!n_.distillation_token.empty()) parts.push_back(token(n_.distillation_token));
    parts.push_back(x);
    x = g_.node("Concat", parts, {{"axis", std::int64_t{1}}}, "tokens");
    x = g_.node("Add", {x, positions}, {}, "embeddings");
    if (!n_.pre_norm.empty()) x = layer_norm(x, expand(n_.pre_norm, prefix_));
    return x;
  }

  // One pre-norm layer: x + s1 * attn(ln1(x)); then + s2 * mlp(ln2(x)).
  Result<std::string> layer(const std::string& x, std::int64_t i, const std::string& mask_bias = "") {
    const auto H = c_.hidden_size, heads = c_.heads, head_dim = H / c_.heads;
    auto name = [&](std::string_view pattern) { return expand(pattern, prefix_, i); };
    auto h = layer_norm(x, name(n_.ln1));
    auto split_shape = g_.const_i64({0, 0, heads, head_dim});
    auto q = g_.node("Reshape", {linear(h, name(n_.query), H, H, c_.qkv_bias), split_shape});
    auto k = g_.node("Reshape", {linear(h, name(n_.key), H, H, c_.qkv_bias), split_shape});
    auto v = g_.node("Reshape", {linear(h, name(n_.value), H, H, c_.qkv_bias), split_shape});
    q = g_.node("Transpose", {q}, {{"perm", std::vector<std::int64_t>{0, 2, 1, 3}}});
    k = g_.node("Transpose", {k}, {{"perm", std::vector<std::int64_t>{0, 2, 3, 1}}});
    v = g_.node("Transpose", {v}, {{"perm", std::vector<std::int64_t>{0, 2, 1, 3}}});
    auto scale = g_.const_f32(static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim))));
    auto scores = g_.node("Mul", {g_.node("MatMul", {q, k}), scale}, {}, "scores");
    if (!mask_bias.empty()) scores = g_.node("Add", {scores, mask_bias});
    auto probs = g_.node("Softmax", {scores}, {{"axis", std::int64_t{-1}}}, "softmax");
    auto ctx = g_.node("Transpose", {g_.node("MatMul", {probs, v})}, {{"perm", std::vector<std::int64_t>{0, 2, 1, 3}}});
    ctx = g_.node("Reshape", {ctx, g_.const_i64({0, 0, H})});
    auto attn = linear(ctx, name(n_.attention_out), H, H);
    if (!n_.layer_scale1.empty())
      attn = g_.node("Mul", {attn, weight(name(n_.layer_scale1), {H}, Init::ones)}, {}, "layer_scale");
    auto y = g_.node("Add", {x, attn}, {}, "residual");
    auto m = linear(layer_norm(y, name(n_.ln2)), name(n_.fc1), H, c_.intermediate_size);
    MODELKIT_TRY(m, activation(m, c_.hidden_act));
    m = linear(m, name(n_.fc2), c_.intermediate_size, H);
    if (!n_.layer_scale2.empty())
      m = g_.node("Mul", {m, weight(name(n_.layer_scale2), {H}, Init::ones)}, {}, "layer_scale");
    return g_.node("Add", {y, m}, {}, "residual");
  }

  std::string token(const std::string& hidden, std::int64_t index) {
    return g_.node("Gather", {hidden, g_.const_i64({index}, true)}, {{"axis", std::int64_t{1}}}, "token");
  }

  GraphBuilder& g_;
  const VisionConfig& c_;
  const VisionFamily& f_;
  const VisionNames& n_;
  const WeightSource& source_;
  RandomWeights* random_;
  std::string prefix_;
  Layers l_{g_, random_};
};

}  // namespace

// The export size: an explicit one, else the processor's fixed output, else config.json's image_size.
Result<std::string> backbone_prefix(const VisionPlan& plan, const WeightSource& source, bool random,
                                    std::string_view head_prefix, const std::string& probe) {
  if (random) return plan.head == VisionHead::base ? std::string() : std::string(head_prefix);
  for (auto prefix : plan.family->base_prefixes)
    if (source.find(std::string(prefix) + probe)) return std::string(prefix);
  return failure("tensor '" + std::string(head_prefix) + probe + "' is missing from the checkpoint's weights");
}

Result<ImageSize> vision_export_size(const fs::path& folder, std::int64_t image_size, std::optional<ImageSize> size,
                              std::string* from) {
  if (size) {
    *from = "--input-shape";
    return *size;
  }
  const auto processor = folder / "preprocessor_config.json";
  std::error_code ec;
  if (!folder.empty() && fs::is_regular_file(processor, ec)) {
    MODELKIT_TRY(auto p, image::ImageProcessorConfig::from_file(processor));
    if (p.has_fixed_output()) {
      auto hw = p.output_size(static_cast<int>(image_size), static_cast<int>(image_size));
      *from = "preprocessor_config.json";
      return ImageSize{hw[0], hw[1]};
    }
  }
  *from = "config.json's image_size";
  return ImageSize{image_size, image_size};
}

// --- tables, plan --------------------------------------------------------------------------

const std::vector<VisionFamily>& vision_families() {
  static const std::vector<VisionFamily> table = {
      {"vit", VisionArch::vit,
       {{"ViTModel", VisionHead::base}, {"ViTForImageClassification", VisionHead::image_classification}},
       {"vit.", ""}},
      {"deit", VisionArch::deit,
       {{"DeiTModel", VisionHead::base},
        {"DeiTForImageClassification", VisionHead::image_classification},
        {"DeiTForImageClassificationWithTeacher", VisionHead::teacher}},
       {"deit.", ""}},
      {"dinov2", VisionArch::dinov2,
       {{"Dinov2Model", VisionHead::base}, {"Dinov2ForImageClassification", VisionHead::image_classification}},
       {"dinov2.", ""}},
      {"clip_vision_model", VisionArch::clip,
       {{"CLIPVisionModel", VisionHead::base}, {"CLIPVisionModelWithProjection", VisionHead::with_projection}},
       {"vision_model."}},
      {"convnext", VisionArch::convnext,
       {{"ConvNextModel", VisionHead::base}, {"ConvNextForImageClassification", VisionHead::image_classification}},
       {"convnext.", ""}},
      {"clip_text_model", VisionArch::clip_text,
       {{"CLIPTextModel", VisionHead::base}, {"CLIPTextModelWithProjection", VisionHead::with_projection}},
       {"text_model."}},
      // A CLIPModel checkpoint also holds either tower alone (feature-extraction resolves to the text
      // tower, image-feature-extraction to the vision tower): the same tensor names as the tower's own
      // checkpoints, the tower's config nested in text_config / vision_config.
      {"clip", VisionArch::clip_model,
       {{"CLIPModel", VisionHead::contrastive},
        {"CLIPTextModel", VisionHead::base},
        {"CLIPTextModelWithProjection", VisionHead::with_projection},
        {"CLIPVisionModel", VisionHead::base},
        {"CLIPVisionModelWithProjection", VisionHead::with_projection}},
       {""}},
      {"resnet", VisionArch::resnet,
       {{"ResNetModel", VisionHead::base}, {"ResNetForImageClassification", VisionHead::image_classification}},
       {"resnet.", ""}},
      {"mobilenet_v2", VisionArch::mobilenet_v2,
       {{"MobileNetV2Model", VisionHead::base},
        {"MobileNetV2ForImageClassification", VisionHead::image_classification}},
       {"mobilenet_v2.", ""}},
      {"beit", VisionArch::beit,
       {{"BeitModel", VisionHead::base}, {"BeitForImageClassification", VisionHead::image_classification}},
       {"beit.", ""}},
      {"swin", VisionArch::swin,
       {{"SwinModel", VisionHead::base}, {"SwinForImageClassification", VisionHead::image_classification}},
       {"swin.", ""}},
      // SigLIP (siglip.cpp): a SiglipModel checkpoint also holds either tower alone (what feature-extraction
      // and image-feature-extraction resolve to) and the backbone of the classifier.
      {"siglip", VisionArch::siglip,
       {{"SiglipModel", VisionHead::contrastive},
        {"SiglipVisionModel", VisionHead::base},
        {"SiglipTextModel", VisionHead::base},
        {"SiglipForImageClassification", VisionHead::image_classification}},
       {""}},
      {"siglip_vision_model", VisionArch::siglip_vision, {{"SiglipVisionModel", VisionHead::base}}, {""}},
      {"siglip_text_model", VisionArch::siglip_text, {{"SiglipTextModel", VisionHead::base}}, {""}},
  };
  return table;
}

const VisionFamily* find_vision_family(std::string_view model_type) {
  for (const auto& f : vision_families())
    if (f.model_type == model_type) return &f;
  return nullptr;
}

std::string_view vision_head_name(VisionHead head) {
  switch (head) {
    case VisionHead::base: return "base";
    case VisionHead::with_projection: return "with-projection";
    case VisionHead::image_classification: return "image-classification";
    case VisionHead::teacher: return "image-classification-with-teacher";
    case VisionHead::contrastive: return "contrastive";
  }
  return "?";
}

Result<std::optional<VisionPlan>> vision_plan(const ResolvedModel& model) {
  const auto& type = model.facts.config.model_type;
  if (!type) return std::optional<VisionPlan>{};
  const VisionFamily* family = find_vision_family(*type);
  if (!family) return std::optional<VisionPlan>{};
  MODELKIT_TRY_VOID(require_resolved(model.resolution, model.reference()));
  const auto cls = model.resolution.model_class.value_or("");
  std::string supported;
  for (const auto& c : family->classes) {
    if (c.name == cls) return std::optional<VisionPlan>{VisionPlan{family, c.head, cls}};
    supported += (supported.empty() ? "" : ", ") + std::string(c.name);
  }
  return failure("model class " + quoted(cls.empty() ? "(none)" : cls) + " (task " +
                 quoted(model.resolution.task.value_or("?")) + ") is not supported by the exporter (" +
                 std::string(family->model_type) + " exports " + supported +
                 "); export the ONNX model another way and pass it with --onnx FILE");
}

std::vector<float> resize_bicubic(const std::vector<float>& in, std::int64_t channels, std::int64_t in_h,
                                  std::int64_t in_w, std::int64_t out_h, std::int64_t out_w) {
  constexpr double a = -0.75;
  auto near = [](double x) { return ((a + 2) * x - (a + 3)) * x * x + 1; };          // |x| <= 1
  auto far = [](double x) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; };     // 1 < |x| < 2
  // Per output index along one axis: the four source indices (clamped) and their weights.
  struct Taps {
    std::array<std::int64_t, 4> index;
    std::array<double, 4> weight;
  };
  auto taps = [&](std::int64_t in_size, std::int64_t out_size) {
    std::vector<Taps> out(static_cast<std::size_t>(out_size));
    const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
    for (std::int64_t d = 0; d < out_size; ++d) {
      const double real = scale * (static_cast<double>(d) + 0.5) - 0.5;
      const double base = std::floor(real);
      const double t = real - base;
      auto& tp = out[static_cast<std::size_t>(d)];
      tp.weight = {far(t + 1), near(t), near(1 - t), far(2 - t)};
      for (int k = 0; k < 4; ++k)
        tp.index[static_cast<std::size_t>(k)] =
            std::clamp<std::int64_t>(static_cast<std::int64_t>(base) - 1 + k, 0, in_size - 1);
    }
    return out;
  };
  const auto rows = taps(in_h, out_h), cols = taps(in_w, out_w);
  std::vector<float> out(static_cast<std::size_t>(channels * out_h * out_w));
  for (std::int64_t ch = 0; ch < channels; ++ch) {
    const float* plane = in.data() + ch * in_h * in_w;
    for (std::int64_t y = 0; y < out_h; ++y)
      for (std::int64_t x = 0; x < out_w; ++x) {
        const auto& r = rows[static_cast<std::size_t>(y)];
        const auto& c = cols[static_cast<std::size_t>(x)];
        double sum = 0;
        for (int i = 0; i < 4; ++i) {
          double row = 0;
          for (int j = 0; j < 4; ++j)
            row += c.weight[static_cast<std::size_t>(j)] *
                   plane[r.index[static_cast<std::size_t>(i)] * in_w + c.index[static_cast<std::size_t>(j)]];
          sum += r.weight[static_cast<std::size_t>(i)] * row;
        }
        out[static_cast<std::size_t>((ch * out_h + y) * out_w + x)] = static_cast<float>(sum);
      }
  }
  return out;
}

// --- derived weights -------------------------------------------------------------------------

Result<void> DerivedWeights::check_inputs() const {
  for (const auto& [name, d] : derived_)
    for (const auto& in : d.inputs) {
      auto info = base_->find(in.name);
      if (!info) return failure("tensor '" + in.name + "' is missing from the checkpoint's weights");
      if (info->shape != in.shape)
        return failure("tensor '" + in.name + "' has shape " + shape_text(info->shape) + ", config.json calls for " +
                       shape_text(in.shape));
      if (!convertible_dtype(info->dtype))
        return failure("tensor '" + in.name + "' has dtype " + info->dtype + "; export reads F32, F16 and BF16 weights");
    }
  return {};
}

std::optional<TensorInfo> DerivedWeights::find(const std::string& name) const {
  auto it = derived_.find(name);
  if (it == derived_.end()) return base_->find(name);
  return TensorInfo{"F32", it->second.shape};
}

Result<void> DerivedWeights::read(const std::string& name, Init init, std::span<float> out) const {
  auto it = derived_.find(name);
  if (it == derived_.end()) return base_->read(name, init, out);
  std::vector<std::vector<float>> inputs;
  for (const auto& in : it->second.inputs) {
    std::size_t count = 1;
    for (auto dim : in.shape) count *= static_cast<std::size_t>(dim);
    inputs.emplace_back(count);
    MODELKIT_TRY_VOID(base_->read(in.name, in.init, inputs.back()));
  }
  it->second.compute(inputs, out);
  return {};
}

Result<bool> DerivedWeights::write_f32(const std::string& name,
                                       const std::function<Result<void>(const void*, std::size_t)>& sink) const {
  if (derived_.count(name)) return false;
  return base_->write_f32(name, sink);
}

// --- build ---------------------------------------------------------------------------------

namespace {

struct TextExtras {
  std::int64_t vocab_size = 49408, max_positions = 77, eos_token_id = 49407, projection_dim = 512;
};

Result<TextExtras> read_text_extras(simdjson::dom::object root) {
  ConfigReader r(root);
  TextExtras t;
  MODELKIT_TRY(t.vocab_size, r.integer("vocab_size", t.vocab_size, 1, std::int64_t{1} << 24));
  MODELKIT_TRY(t.max_positions, r.integer("max_position_embeddings", t.max_positions, 1, 1 << 20));
  MODELKIT_TRY(t.eos_token_id, r.integer("eos_token_id", t.eos_token_id, 0, std::int64_t{1} << 24));
  MODELKIT_TRY(t.projection_dim, r.integer("projection_dim", t.projection_dim, 1, 1 << 16));
  return t;
}

// CLIP's text transformer: token + position embeddings, causal pre-norm layers (padding masked too),
// final LayerNorm; pooled = the hidden state at the end-of-text token: the largest id when
// eos_token_id is 2 (the original configs), else the first position holding eos_token_id.
struct TextOutputs {
  std::string hidden, pooled;
};
Result<TextOutputs> clip_text(GraphBuilder& g, VisionGraph& v, const VisionConfig& c, const TextExtras& t,
                              const std::string& ids, const std::string& mask) {
  const auto H = c.hidden_size;
  const auto& p = v.prefix();
  auto x = g.node("Gather", {v.weight(p + "embeddings.token_embedding.weight", {t.vocab_size, H}, Init::normal), ids});
  auto seq = g.node("Slice", {g.node("Shape", {ids}), g.const_i64({1}), g.const_i64({2})});
  auto pos = v.weight(p + "embeddings.position_embedding.weight", {t.max_positions, H}, Init::normal);
  x = g.node("Add", {x, g.node("Slice", {pos, g.const_i64({0}), seq, g.const_i64({0})})}, {}, "text_embeddings");
  // Additive bias [B, 1, S, S]: key k is visible from query q when k <= q and k is not padding.
  auto range = g.node("Range", {g.const_i64({0}, true), g.node("Squeeze", {seq, g.const_i64({0})}), g.const_i64({1}, true)});
  auto causal = g.node("LessOrEqual", {g.node("Unsqueeze", {range, g.const_i64({0})}),
                                       g.node("Unsqueeze", {range, g.const_i64({1})})});  // [S(q), S(k)]
  auto keys = g.node("Unsqueeze", {g.node("Cast", {mask}, {{"to", std::int64_t{::onnx::TensorProto_DataType_BOOL}}}),
                                   g.const_i64({1, 2})});  // [B, 1, 1, S]
  auto visible = g.node("And", {causal, keys});
  auto bias = g.node("Where", {visible, g.const_f32(0.0f), g.const_f32(std::numeric_limits<float>::lowest())}, {},
                     "mask_bias");
  for (std::int64_t i = 0; i < c.layers; ++i) {
    MODELKIT_TRY(x, v.layer(x, i, bias));
  }
  x = v.layer_norm(x, p + "final_layer_norm");
  std::string score = g.node("Cast", {ids}, {{"to", std::int64_t{kFloat}}});
  if (t.eos_token_id != 2)
    score = g.node("Cast", {g.node("Equal", {ids, g.const_i64({t.eos_token_id}, true)})}, {{"to", std::int64_t{kFloat}}});
  auto at = g.node("ArgMax", {score}, {{"axis", std::int64_t{1}}, {"keepdims", std::int64_t{1}}});  // [B, 1], first max
  auto index = g.node("Expand", {g.node("Unsqueeze", {at, g.const_i64({2})}),
                                 g.node("Concat", {g.node("Slice", {g.node("Shape", {ids}), g.const_i64({0}), g.const_i64({1})}),
                                                   g.const_i64({1, H})},
                                        {{"axis", std::int64_t{0}}})});
  auto pooled = g.node("Squeeze", {g.node("GatherElements", {x, index}, {{"axis", std::int64_t{1}}}), g.const_i64({1})},
                       {}, "eos_pooled");
  return TextOutputs{x, pooled};
}

Result<simdjson::dom::object> sub_config(simdjson::dom::object root, std::string_view key) {
  simdjson::dom::object o;
  if (root[key].get_object().get(o) != simdjson::SUCCESS)
    return failure("config.json: missing object field '" + std::string(key) + "'");
  return o;
}

std::string l2_normalize(GraphBuilder& g, const std::string& x) {
  return g.node("Div", {x, g.reduce("ReduceL2", x, {1}, true)}, {}, "normalized");
}

// CLIPConfig's vision_config as a config of its own, with CLIPConfig's projection_dim when it has one.
Result<std::string> clip_vision_config(std::string_view config_json) {
  simdjson::dom::parser parser;
  MODELKIT_TRY_CTX(auto doc, util::parse_json(parser, config_json), "config.json");
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return failure("config.json: must be a JSON object");
  MODELKIT_TRY(auto vision, sub_config(root, "vision_config"));
  auto projection = util::optional_int(root, "projection_dim");
  if (!projection) return projection.take_error().with_context("config.json");
  std::string json = simdjson::to_string(vision);
  if (*projection) {
    // The nested object rebuilt with CLIPConfig's projection_dim in place of its own.
    auto quote = [](std::string_view key) {
      std::string q = "\"";
      for (char ch : key) {
        if (ch == '"' || ch == '\\') q += '\\';
        if (static_cast<unsigned char>(ch) < 0x20) continue;  // control characters: not in any field we read
        q += ch;
      }
      return q + "\"";
    };
    std::string rebuilt = "{";
    for (auto field : vision) {
      if (field.key == "projection_dim") continue;
      if (rebuilt.size() > 1) rebuilt += ",";
      rebuilt += quote(field.key) + ":" + simdjson::to_string(field.value);
    }
    if (rebuilt.size() > 1) rebuilt += ",";
    rebuilt += "\"projection_dim\":" + std::to_string(**projection) + "}";
    json = std::move(rebuilt);
  }
  return json;
}

Result<void> build_clip(GraphBuilder& g, const VisionPlan& plan, std::string_view config_json, const fs::path& folder,
                        const WeightSource& source, RandomWeights* random, std::optional<ImageSize> size) {
  const VisionFamily& f = *plan.family;
  simdjson::dom::parser parser;
  MODELKIT_TRY_CTX(auto doc, util::parse_json(parser, config_json), "config.json");
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return failure("config.json: must be a JSON object");
  const auto int64 = ::onnx::TensorProto_DataType_INT64;
  const Dims text_dims = f.arch == VisionArch::clip_model ? Dims{"text_batch_size", "sequence_length"}
                                                           : Dims{"batch_size", "sequence_length"};

  if (plan.head != VisionHead::contrastive) {  // the text tower, alone or from a CLIPModel's text_config
    if (size) return usage_error("--input-shape pixel_values: " + plan.model_class + " takes no pixel_values");
    simdjson::dom::object text_root = root;
    if (f.arch == VisionArch::clip_model) {
      MODELKIT_TRY(text_root, sub_config(root, "text_config"));
    }
    MODELKIT_TRY(auto c, read_config(simdjson::to_string(text_root), VisionArch::clip_text));
    MODELKIT_TRY(auto t, read_text_extras(text_root));
    if (f.arch == VisionArch::clip_model) {
      // CLIPConfig's projection_dim is the one the projection is built with.
      auto v = util::optional_int(root, "projection_dim");
      if (!v) return v.take_error().with_context("config.json");
      if (*v) t.projection_dim = **v;
    }
    VisionGraph v(g, c, f, source, random);
    v.prefix_ = "text_model.";
    auto ids = g.input("input_ids", int64, text_dims);
    auto mask = g.input("attention_mask", int64, text_dims);
    MODELKIT_TRY(auto out, clip_text(g, v, c, t, ids, mask));
    if (plan.head == VisionHead::with_projection) {
      g.output(v.linear(out.pooled, "text_projection", c.hidden_size, t.projection_dim, false), "text_embeds", kFloat,
               {"batch_size", t.projection_dim});
      g.output(out.hidden, "last_hidden_state", kFloat, {"batch_size", "sequence_length", c.hidden_size});
    } else {
      g.output(out.hidden, "last_hidden_state", kFloat, {"batch_size", "sequence_length", c.hidden_size});
      g.output(out.pooled, "pooler_output", kFloat, {"batch_size", c.hidden_size});
    }
    return {};
  }

  // CLIPModel: both towers, their projections, and the scaled cosine similarities.
  MODELKIT_TRY(auto text_obj, sub_config(root, "text_config"));
  MODELKIT_TRY(auto vision_obj, sub_config(root, "vision_config"));
  MODELKIT_TRY(auto tc, read_config(simdjson::to_string(text_obj), VisionArch::clip_text));
  MODELKIT_TRY(auto vc, read_config(simdjson::to_string(vision_obj), VisionArch::clip));
  MODELKIT_TRY(auto t, read_text_extras(text_obj));
  std::int64_t projection = 512;
  {
    auto v = util::optional_int(root, "projection_dim");
    if (!v) return v.take_error().with_context("config.json");
    if (*v) projection = **v;
    if (projection < 1 || projection > (1 << 16)) return failure("config.json: field 'projection_dim' is out of range");
  }
  std::string from;
  MODELKIT_TRY(auto hw, vision_export_size(folder, vc.image_size, size, &from));
  if (hw.height != vc.image_size || hw.width != vc.image_size)
    return failure("export image size " + std::to_string(hw.height) + "x" + std::to_string(hw.width) + " (from " +
                   from + ") differs from vision_config's image_size " + std::to_string(vc.image_size) +
                   "; clip does not interpolate its position embeddings");

  auto pixels = g.input("pixel_values", kFloat, {"batch_size", vc.num_channels, hw.height, hw.width});
  auto ids = g.input("input_ids", int64, text_dims);
  auto mask = g.input("attention_mask", int64, text_dims);

  VisionGraph vision(g, vc, f, source, random);
  vision.prefix_ = "vision_model.";
  const std::int64_t grid = vc.image_size / vc.patch_size;
  auto positions = vision.weight("vision_model.embeddings.position_embedding.weight", {grid * grid + 1, vc.hidden_size},
                                 Init::normal);
  auto x = vision.embeddings(pixels, positions);
  for (std::int64_t i = 0; i < vc.layers; ++i) {
    MODELKIT_TRY(x, vision.layer(x, i));
  }
  auto image_pooled = vision.layer_norm(vision.token(x, 0), "vision_model.post_layernorm");
  auto image_embeds = l2_normalize(g, vision.linear(image_pooled, "visual_projection", vc.hidden_size, projection, false));

  VisionGraph text(g, tc, f, source, random);
  text.prefix_ = "text_model.";
  MODELKIT_TRY(auto out, clip_text(g, text, tc, t, ids, mask));
  auto text_embeds = l2_normalize(g, text.linear(out.pooled, "text_projection", tc.hidden_size, projection, false));

  auto scale = g.node("Exp", {text.weight("logit_scale", {}, Init::ones)});
  auto per_text = g.node("Mul", {g.node("MatMul", {text_embeds, g.node("Transpose", {image_embeds}, {{"perm", std::vector<std::int64_t>{1, 0}}})}), scale},
                         {}, "logits_per_text");
  auto per_image = g.node("Transpose", {per_text}, {{"perm", std::vector<std::int64_t>{1, 0}}});
  g.output(per_image, "logits_per_image", kFloat, {"image_batch_size", "text_batch_size"});
  g.output(per_text, "logits_per_text", kFloat, {"text_batch_size", "image_batch_size"});
  g.output(text_embeds, "text_embeds", kFloat, {"text_batch_size", projection});
  g.output(image_embeds, "image_embeds", kFloat, {"image_batch_size", projection});
  return {};
}

}  // namespace

Result<void> build_vision(GraphBuilder& g, const VisionPlan& plan, std::string_view config_json,
                          const fs::path& folder, std::unique_ptr<WeightSource>& source, RandomWeights* random,
                          std::optional<ImageSize> size) {
  const VisionFamily& f = *plan.family;
  if (f.arch == VisionArch::convnext) return build_convnext(g, plan, config_json, folder, *source, random, size);
  if (f.arch == VisionArch::resnet) return build_resnet(g, plan, config_json, folder, source, random, size);
  if (f.arch == VisionArch::mobilenet_v2) return build_mobilenet_v2(g, plan, config_json, folder, source, random, size);
  if (f.arch == VisionArch::beit) return build_beit(g, plan, config_json, folder, source, random, size);
  if (f.arch == VisionArch::swin) return build_swin(g, plan, config_json, folder, source, random, size);
  if (f.arch == VisionArch::clip_model && plan.model_class.rfind("CLIPVision", 0) == 0) {
    // The vision tower of a CLIPModel checkpoint: built as a CLIPVisionModel checkpoint is, from
    // vision_config, with CLIPConfig's projection_dim (the one its visual_projection was made with).
    MODELKIT_TRY(auto vision_json, clip_vision_config(config_json));
    VisionPlan tower = plan;
    tower.family = find_vision_family("clip_vision_model");
    if (!tower.family) return failure("the exporter lost its clip_vision_model family");
    return build_vision(g, tower, vision_json, folder, source, random, size);
  }
  if (f.arch == VisionArch::clip_text || f.arch == VisionArch::clip_model)
    return build_clip(g, plan, config_json, folder, *source, random, size);
  if (f.arch == VisionArch::siglip || f.arch == VisionArch::siglip_vision || f.arch == VisionArch::siglip_text)
    return build_siglip(g, plan, config_json, folder, *source, random, size);
  MODELKIT_TRY(auto c, read_config(config_json, f.arch));
  std::string size_from;
  MODELKIT_TRY(auto hw, vision_export_size(folder, c.image_size, size, &size_from));
  const auto H = c.hidden_size, P = c.patch_size;
  if (hw.height < P || hw.width < P || hw.height > (1 << 14) || hw.width > (1 << 14))
    return failure("export image size " + std::to_string(hw.height) + "x" + std::to_string(hw.width) + " (from " +
                   size_from + ") must be " + std::to_string(P) + "..16384 (patch_size " + std::to_string(P) + ")");
  const bool interpolates = f.arch == VisionArch::dinov2;
  if (!interpolates && (hw.height != c.image_size || hw.width != c.image_size))
    return failure("export image size " + std::to_string(hw.height) + "x" + std::to_string(hw.width) + " (from " +
                   size_from + ") differs from config.json's image_size " + std::to_string(c.image_size) + "; " +
                   std::string(f.model_type) + " does not interpolate its position embeddings");

  VisionGraph v(g, c, f, *source, random);
  MODELKIT_TRY_VOID(v.pick_prefix(plan.head));
  const auto& n = names_of(f.arch);

  // Position embeddings: as stored, or (DINOv2 at another size) the patch grid resized bicubically
  // at export time, as transformers does on every forward pass.
  const std::int64_t grid = c.image_size / P, tokens = f.arch == VisionArch::deit ? 2 : 1;
  const std::int64_t grid_h = hw.height / P, grid_w = hw.width / P;
  const std::string pos_name = expand(n.position_embeddings, v.prefix());
  std::vector<std::int64_t> pos_shape = f.arch == VisionArch::clip ? std::vector<std::int64_t>{grid * grid + tokens, H}
                                                                   : std::vector<std::int64_t>{1, grid * grid + tokens, H};
  std::string positions;
  if (interpolates && (grid_h != grid || grid_w != grid || hw.height != hw.width)) {
    // Checked here: check_weights sees only the derived tensor.
    if (random) {
      random->expect(pos_name, pos_shape);
    } else {
      auto info = source->find(pos_name);
      if (!info) return failure("tensor '" + pos_name + "' is missing from the checkpoint's weights");
      if (info->shape != pos_shape)
        return failure("tensor '" + pos_name + "' has shape " + shape_text(info->shape) + ", config.json calls for " +
                       shape_text(pos_shape));
      if (!convertible_dtype(info->dtype))
        return failure("tensor '" + pos_name + "' has dtype " + info->dtype +
                       "; export reads F32, F16 and BF16 weights");
    }
    const std::string derived = pos_name + ".interpolated_" + std::to_string(grid_h) + "x" + std::to_string(grid_w);
    auto wrapper = std::make_unique<DerivedWeights>(std::move(source));
    DerivedWeights::Derived d;
    d.shape = {1, grid_h * grid_w + 1, H};
    d.inputs = {{pos_name, pos_shape, Init::normal}};
    d.compute = [=](const std::vector<std::vector<float>>& in, std::span<float> out) {
      const auto& table = in[0];  // [1 + grid*grid, H]: class token's row, then the grid row-major
      std::vector<float> planes(static_cast<std::size_t>(H * grid * grid));  // [H, grid, grid]
      for (std::int64_t p = 0; p < grid * grid; ++p)
        for (std::int64_t ch = 0; ch < H; ++ch)
          planes[static_cast<std::size_t>(ch * grid * grid + p)] = table[static_cast<std::size_t>((1 + p) * H + ch)];
      auto resized = resize_bicubic(planes, H, grid, grid, grid_h, grid_w);
      for (std::int64_t ch = 0; ch < H; ++ch) out[static_cast<std::size_t>(ch)] = table[static_cast<std::size_t>(ch)];
      for (std::int64_t p = 0; p < grid_h * grid_w; ++p)
        for (std::int64_t ch = 0; ch < H; ++ch)
          out[static_cast<std::size_t>((1 + p) * H + ch)] = resized[static_cast<std::size_t>(ch * grid_h * grid_w + p)];
    };
    wrapper->add(derived, std::move(d));
    source = std::move(wrapper);
    positions = g.weight(derived, {1, grid_h * grid_w + 1, H}, Init::normal);
  } else {
    positions = v.weight(pos_name, pos_shape, Init::normal);
  }

  auto pixels = g.input("pixel_values", kFloat, {"batch_size", c.num_channels, hw.height, hw.width});
  auto x = v.embeddings(pixels, positions);
  for (std::int64_t i = 0; i < c.layers; ++i) {
    MODELKIT_TRY(x, v.layer(x, i));
  }
  const Dims hidden_dims = {"batch_size", grid_h * grid_w + tokens, H};
  const auto final_norm = expand(n.final_norm, v.prefix());
  if (f.arch == VisionArch::clip) {
    // last_hidden_state is the encoder's output; the pooled class token gets post_layernorm.
    auto pooled = v.layer_norm(v.token(x, 0), final_norm);
    if (plan.head == VisionHead::with_projection) {
      auto embeds = v.linear(pooled, "visual_projection", H, c.projection_dim, false);
      g.output(embeds, "image_embeds", kFloat, {"batch_size", c.projection_dim});
      g.output(x, "last_hidden_state", kFloat, hidden_dims);
    } else {
      g.output(x, "last_hidden_state", kFloat, hidden_dims);
      g.output(pooled, "pooler_output", kFloat, {"batch_size", H});
    }
    return {};
  }
  x = v.layer_norm(x, final_norm);
  switch (plan.head) {
    case VisionHead::base: {
      g.output(x, "last_hidden_state", kFloat, hidden_dims);
      if (f.arch == VisionArch::dinov2) {
        g.output(v.token(x, 0), "pooler_output", kFloat, {"batch_size", H});
        return {};
      }
      // ViTModel/DeiTModel carry a pooler unless built without one (add_pooling_layer=False):
      // exported when the checkpoint has it.
      const auto pooler = expand(n.pooler, v.prefix());
      if (random || source->find(pooler + ".weight")) {
        auto pooled = v.linear(v.token(x, 0), pooler, H, c.pooler_size);
        MODELKIT_TRY(pooled, v.activation(pooled, c.pooler_act));
        g.output(pooled, "pooler_output", kFloat, {"batch_size", c.pooler_size});
      }
      return {};
    }
    case VisionHead::image_classification: {
      std::string logits;
      if (f.arch == VisionArch::dinov2) {
        // [class token, mean of the patch tokens] -> classifier [labels, 2 * hidden]
        auto patches = g.node("Slice", {x, g.const_i64({1}), g.const_i64({std::numeric_limits<std::int64_t>::max()}),
                                        g.const_i64({1})});
        auto mean = g.reduce("ReduceMean", patches, {1}, false);
        auto both = g.node("Concat", {v.token(x, 0), mean}, {{"axis", std::int64_t{1}}});
        logits = v.linear(both, "classifier", 2 * H, c.num_labels);
      } else {
        logits = v.linear(v.token(x, 0), "classifier", H, c.num_labels);
      }
      g.output(logits, "logits", kFloat, {"batch_size", c.num_labels});
      return {};
    }
    case VisionHead::teacher: {
      auto a = v.linear(v.token(x, 0), "cls_classifier", H, c.num_labels);
      auto b = v.linear(v.token(x, 1), "distillation_classifier", H, c.num_labels);
      auto logits = g.node("Div", {g.node("Add", {a, b}), g.const_f32(2.0f)}, {}, "mean_logits");
      g.output(logits, "logits", kFloat, {"batch_size", c.num_labels});
      return {};
    }
    case VisionHead::with_projection:
    case VisionHead::contrastive: break;
  }
  return failure(std::string(f.model_type) + ": the head " + std::string(vision_head_name(plan.head)) +
                 " is not built by the exporter");
}

}  // namespace modelkit::exporter
