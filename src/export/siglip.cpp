// SigLIP: SiglipModel (both towers, sigmoid-loss logits with a bias), SiglipVisionModel,
// SiglipTextModel and SiglipForImageClassification, from transformers' eager inference path
// (modeling_siglip.py). Differences from CLIP that shape the graph: the vision tower has a patch
// bias, one position row per patch and no class token, no LayerNorm before the encoder, and pools
// with an attention head (a learned probe attending over the post-LayerNorm states through torch's
// MultiheadAttention, then residual + MLP); the text tower is not causal, takes no attention_mask (as
// optimum exports it: SigLIP is used on texts padded to a fixed length), and pools the last position
// through a Linear `head`; SiglipModel adds `logit_bias` after scaling by exp(logit_scale).
#include "export/config_reader.hpp"
#include "export/layers.hpp"
#include "export/vision_families.hpp"

#include "util/json_read.hpp"

#include <cmath>

namespace modelkit::exporter {
namespace fs = std::filesystem;

namespace {

constexpr auto kFloat = ::onnx::TensorProto_DataType_FLOAT;
constexpr auto kInt64 = ::onnx::TensorProto_DataType_INT64;
using Perm = std::vector<std::int64_t>;

// One tower's config (SiglipVisionConfig or SiglipTextConfig); defaults as transformers'.
struct Tower {
  std::int64_t hidden = 768, layers = 12, heads = 12, intermediate = 3072;
  double eps = 1e-6;
  std::string act = "gelu_pytorch_tanh";
  // vision
  std::int64_t image_size = 224, patch_size = 16, channels = 3;
  bool use_head = true;
  // text
  std::int64_t vocab = 32000, max_positions = 64, projection = 768;
};

Result<Tower> read_tower(simdjson::dom::object o, bool vision, std::string_view where) {
  ConfigReader r(o);
  Tower t;
  MODELKIT_TRY(t.hidden, r.integer("hidden_size", 768, 1, 1 << 16));
  MODELKIT_TRY(t.layers, r.integer("num_hidden_layers", 12, 1, 1024));
  MODELKIT_TRY(t.heads, r.integer("num_attention_heads", 12, 1, 4096));
  MODELKIT_TRY(t.intermediate, r.integer("intermediate_size", 3072, 1, 1 << 20));
  MODELKIT_TRY(t.eps, r.number("layer_norm_eps", 1e-6));
  MODELKIT_TRY(t.act, r.text("hidden_act", "gelu_pytorch_tanh"));
  MODELKIT_TRY_VOID(check_whole_heads(where, t.hidden, t.heads));
  if (vision) {
    MODELKIT_TRY(t.image_size, r.integer("image_size", 224, 1, 1 << 14));
    MODELKIT_TRY(t.patch_size, r.integer("patch_size", 16, 1, 1 << 12));
    MODELKIT_TRY(t.channels, r.integer("num_channels", 3, 1, 64));
    MODELKIT_TRY(t.use_head, r.flag("vision_use_head", true));
    MODELKIT_TRY_VOID(check_patch_fits(where, t.image_size, t.patch_size));
  } else {
    MODELKIT_TRY(t.vocab, r.integer("vocab_size", 32000, 1, std::int64_t{1} << 24));
    MODELKIT_TRY(t.max_positions, r.integer("max_position_embeddings", 64, 1, 1 << 20));
    MODELKIT_TRY(t.projection, r.integer("projection_size", t.hidden, 1, 1 << 16));
  }
  return t;
}

Result<simdjson::dom::object> sub_config(simdjson::dom::object root, std::string_view key) {
  simdjson::dom::object o;
  if (root[key].get_object().get(o) != simdjson::SUCCESS)
    return failure("config.json: missing object field '" + std::string(key) + "'");
  return o;
}

class SiglipGraph {
 public:
  SiglipGraph(GraphBuilder& g, RandomWeights* random) : g_(g), l_(g, random) {}

  // Scaled dot-product attention of q [Bq, Tq, H] over k, v [B, Tk, H] (Bq may be 1: broadcast)
  // -> [B, Tq, H], heads split and merged as transformers' eager path does.
  std::string attend(const std::string& q, const std::string& k, const std::string& v, const Tower& t) {
    const auto head_dim = t.hidden / t.heads;
    auto split = g_.const_i64({0, 0, t.heads, head_dim});
    auto qh = g_.node("Transpose", {g_.node("Reshape", {q, split})}, {{"perm", Perm{0, 2, 1, 3}}});
    auto kh = g_.node("Transpose", {g_.node("Reshape", {k, split})}, {{"perm", Perm{0, 2, 3, 1}}});
    auto vh = g_.node("Transpose", {g_.node("Reshape", {v, split})}, {{"perm", Perm{0, 2, 1, 3}}});
    auto scale = g_.const_f32(static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim))));
    auto scores = g_.node("Mul", {g_.node("MatMul", {qh, kh}), scale}, {}, "scores");
    auto probs = g_.node("Softmax", {scores}, {{"axis", std::int64_t{-1}}}, "softmax");
    auto ctx = g_.node("Transpose", {g_.node("MatMul", {probs, vh})}, {{"perm", Perm{0, 2, 1, 3}}});
    return g_.node("Reshape", {ctx, g_.const_i64({0, 0, t.hidden})});
  }

  // x + fc2(act(fc1(norm(x)))): the MLP `mlp` (its fc1 and fc2) after the LayerNorm `norm`.
  Result<std::string> mlp_residual(const std::string& x, const std::string& norm, const std::string& mlp,
                                   const Tower& t) {
    auto h = l_.linear(l_.layer_norm(x, norm, t.hidden, t.eps), mlp + ".fc1", t.hidden, t.intermediate);
    MODELKIT_TRY(h, l_.activation(h, t.act));
    return g_.node("Add", {x, l_.linear(h, mlp + ".fc2", t.intermediate, t.hidden)}, {}, "residual");
  }

  // SiglipEncoder under prefix `p` ("vision_model.", "text_model."): pre-norm layers, no mask.
  Result<std::string> encoder(std::string x, const std::string& p, const Tower& t) {
    const auto H = t.hidden;
    for (std::int64_t i = 0; i < t.layers; ++i) {
      const auto lp = p + "encoder.layers." + std::to_string(i) + ".";
      auto h = l_.layer_norm(x, lp + "layer_norm1", H, t.eps);
      auto a = attend(l_.linear(h, lp + "self_attn.q_proj", H, H), l_.linear(h, lp + "self_attn.k_proj", H, H),
                      l_.linear(h, lp + "self_attn.v_proj", H, H), t);
      x = g_.node("Add", {x, l_.linear(a, lp + "self_attn.out_proj", H, H)}, {}, "residual");
      MODELKIT_TRY(x, mlp_residual(x, lp + "layer_norm2", lp + "mlp", t));
    }
    return x;
  }

  struct Outputs {
    std::string hidden, pooled;  // pooled empty without a head
  };

  // SiglipVisionTransformer on pixel_values [B, C, S, S].
  Result<Outputs> vision(const std::string& pixels, const Tower& t) {
    const std::string p = "vision_model.";
    const auto H = t.hidden, P = t.patch_size, grid = t.image_size / t.patch_size;
    auto kernel = l_.weight(p + "embeddings.patch_embedding.weight", {H, t.channels, P, P}, Init::normal);
    auto patches = g_.node("Conv", {pixels, kernel, l_.weight(p + "embeddings.patch_embedding.bias", {H}, Init::zeros)},
                           {{"kernel_shape", Perm{P, P}}, {"strides", Perm{P, P}}}, "patch_embeddings");
    auto x = g_.node("Transpose", {g_.node("Reshape", {patches, g_.const_i64({0, H, -1})})}, {{"perm", Perm{0, 2, 1}}});
    x = g_.node("Add", {x, l_.weight(p + "embeddings.position_embedding.weight", {grid * grid, H}, Init::normal)}, {},
                "embeddings");
    MODELKIT_TRY(x, encoder(x, p, t));
    x = l_.layer_norm(x, p + "post_layernorm", H, t.eps);
    if (!t.use_head) return Outputs{x, ""};
    // SiglipMultiheadAttentionPoolingHead: nn.MultiheadAttention keeps q, k and v in one in_proj
    // [3H, H]; the probe's query is the first H columns of its projection, keys and values the others.
    const std::string hp = p + "head.";
    auto in_w = l_.weight(hp + "attention.in_proj_weight", {3 * H, H}, Init::normal, true);
    auto in_b = l_.weight(hp + "attention.in_proj_bias", {3 * H}, Init::zeros);
    auto project = [&](const std::string& v) { return g_.node("Add", {g_.node("MatMul", {v, in_w}), in_b}); };
    auto columns = [&](const std::string& v, std::int64_t from) {
      return g_.node("Slice", {v, g_.const_i64({from}), g_.const_i64({from + H}), g_.const_i64({2})});
    };
    auto probe = l_.weight(hp + "probe", {1, 1, H}, Init::normal);
    auto kv = project(x);
    auto a = attend(columns(project(probe), 0), columns(kv, H), columns(kv, 2 * H), t);  // [B, 1, H]
    a = l_.linear(a, hp + "attention.out_proj", H, H);
    MODELKIT_TRY(a, mlp_residual(a, hp + "layernorm", hp + "mlp", t));
    auto pooled = g_.node("Gather", {a, g_.const_i64({0}, true)}, {{"axis", std::int64_t{1}}}, "pooled");
    return Outputs{x, pooled};
  }

  // SiglipTextTransformer on input_ids [B, S]: pooled = head(last position).
  Result<Outputs> text(const std::string& ids, const Tower& t) {
    const std::string p = "text_model.";
    const auto H = t.hidden;
    auto x = g_.node("Gather", {l_.weight(p + "embeddings.token_embedding.weight", {t.vocab, H}, Init::normal), ids});
    auto seq = g_.node("Slice", {g_.node("Shape", {ids}), g_.const_i64({1}), g_.const_i64({2})});
    auto positions = l_.weight(p + "embeddings.position_embedding.weight", {t.max_positions, H}, Init::normal);
    x = g_.node("Add", {x, g_.node("Slice", {positions, g_.const_i64({0}), seq, g_.const_i64({0})})}, {},
                "text_embeddings");
    MODELKIT_TRY(x, encoder(x, p, t));
    x = l_.layer_norm(x, p + "final_layer_norm", H, t.eps);
    auto last = g_.node("Gather", {x, g_.const_i64({-1}, true)}, {{"axis", std::int64_t{1}}}, "last_token");
    return Outputs{x, l_.linear(last, p + "head", H, t.projection)};
  }

  std::string normalize(const std::string& x) {
    return g_.node("Div", {x, g_.reduce("ReduceL2", x, {1}, true)}, {}, "normalized");
  }

  GraphBuilder& g_;
  Layers l_;
};

// The export size of a vision tower: SigLIP's towers take only their config's image_size (transformers
// interpolates position embeddings only when asked), so another size is refused, naming its source.
Result<ImageSize> tower_size(const fs::path& folder, const Tower& t, std::optional<ImageSize> size,
                             std::string_view where) {
  std::string from;
  MODELKIT_TRY(auto hw, vision_export_size(folder, t.image_size, size, &from));
  if (hw.height != t.image_size || hw.width != t.image_size)
    return failure("export image size " + std::to_string(hw.height) + "x" + std::to_string(hw.width) + " (from " +
                   from + ") differs from " + std::string(where) + "'s image_size " + std::to_string(t.image_size) +
                   "; siglip does not interpolate its position embeddings");
  return hw;
}

}  // namespace

Result<void> build_siglip(GraphBuilder& g, const VisionPlan& plan, std::string_view config_json,
                          const fs::path& folder, const WeightSource& /*source*/, RandomWeights* random,
                          std::optional<ImageSize> size) {
  simdjson::dom::parser parser;
  MODELKIT_TRY_CTX(auto doc, util::parse_json(parser, config_json), "config.json");
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return failure("config.json: must be a JSON object");
  // SiglipConfig nests the towers; SiglipVisionConfig / SiglipTextConfig are the tower itself.
  const bool nested = plan.family->arch == VisionArch::siglip;
  auto tower_config = [&](bool vision) -> Result<Tower> {
    const char* key = vision ? "vision_config" : "text_config";
    if (!nested) return read_tower(root, vision, "config.json");
    MODELKIT_TRY(auto o, sub_config(root, key));
    return read_tower(o, vision, "config.json: " + std::string(key));
  };
  SiglipGraph s(g, random);
  const std::string where = nested ? "vision_config" : "config.json";

  if (plan.model_class == "SiglipTextModel") {
    if (size) return usage_error("--input-shape pixel_values: " + plan.model_class + " takes no pixel_values");
    MODELKIT_TRY(auto t, tower_config(false));
    auto ids = g.input("input_ids", kInt64, {"batch_size", "sequence_length"});
    MODELKIT_TRY(auto out, s.text(ids, t));
    g.output(out.hidden, "last_hidden_state", kFloat, {"batch_size", "sequence_length", t.hidden});
    g.output(out.pooled, "pooler_output", kFloat, {"batch_size", t.projection});
    return {};
  }

  MODELKIT_TRY(auto v, tower_config(true));
  MODELKIT_TRY(auto hw, tower_size(folder, v, size, where));
  const std::int64_t tokens = (v.image_size / v.patch_size) * (v.image_size / v.patch_size);

  if (plan.head == VisionHead::contrastive) {  // SiglipModel
    if (!v.use_head)
      return failure("config.json: vision_config.vision_use_head is false; SiglipModel's image embeddings need the "
                     "attention-pooling head");
    MODELKIT_TRY(auto t, tower_config(false));
    if (t.projection != v.hidden)
      return failure("config.json: text_config.projection_size " + std::to_string(t.projection) +
                     " differs from vision_config.hidden_size " + std::to_string(v.hidden) +
                     "; SiglipModel compares the two embeddings");
    // optimum's order and names: no attention_mask.
    auto ids = g.input("input_ids", kInt64, {"text_batch_size", "sequence_length"});
    auto pixels = g.input("pixel_values", kFloat, {"image_batch_size", v.channels, hw.height, hw.width});
    MODELKIT_TRY(auto image, s.vision(pixels, v));
    MODELKIT_TRY(auto text, s.text(ids, t));
    auto image_embeds = s.normalize(image.pooled);
    auto text_embeds = s.normalize(text.pooled);
    auto scale = g.node("Exp", {s.l_.weight("logit_scale", {1}, Init::ones)});
    auto per_text = g.node("MatMul", {text_embeds, g.node("Transpose", {image_embeds}, {{"perm", Perm{1, 0}}})});
    per_text = g.node("Add", {g.node("Mul", {per_text, scale}), s.l_.weight("logit_bias", {1}, Init::zeros)}, {},
                      "logits_per_text");
    auto per_image = g.node("Transpose", {per_text}, {{"perm", Perm{1, 0}}});
    g.output(per_image, "logits_per_image", kFloat, {"image_batch_size", "text_batch_size"});
    g.output(per_text, "logits_per_text", kFloat, {"text_batch_size", "image_batch_size"});
    g.output(text_embeds, "text_embeds", kFloat, {"text_batch_size", t.projection});
    g.output(image_embeds, "image_embeds", kFloat, {"image_batch_size", v.hidden});
    return {};
  }

  auto pixels = g.input("pixel_values", kFloat, {"batch_size", v.channels, hw.height, hw.width});
  if (plan.head == VisionHead::image_classification) {
    // The classifier reads the mean of last_hidden_state over the patches; the pooling head is unused.
    Tower no_head = v;
    no_head.use_head = false;
    MODELKIT_TRY(auto out, s.vision(pixels, no_head));
    ConfigReader r(root);
    MODELKIT_TRY(auto labels, r.num_labels());
    auto logits = s.l_.linear(g.reduce("ReduceMean", out.hidden, {1}, false), "classifier", v.hidden, labels);
    g.output(logits, "logits", kFloat, {"batch_size", labels});
    return {};
  }
  MODELKIT_TRY(auto out, s.vision(pixels, v));  // SiglipVisionModel
  g.output(out.hidden, "last_hidden_state", kFloat, {"batch_size", tokens, v.hidden});
  if (!out.pooled.empty()) g.output(out.pooled, "pooler_output", kFloat, {"batch_size", v.hidden});
  return {};
}

}  // namespace modelkit::exporter
