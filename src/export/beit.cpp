// BEiT as transformers' modeling_beit: a patch embedding with a class token, optional absolute
// position embeddings, pre-norm layers whose attention adds a relative position bias (per layer,
// shared by all layers, or both), keys without a bias, layer scale (lambda_1, lambda_2) when
// layer_scale_init_value > 0; pooled output the LayerNorm of the mean of the patch tokens
// (use_mean_pooling) or the normed class token.
//
// The relative position bias is a table over patch offsets plus three rows for the class token;
// transformers gathers it into [heads, N, N] on every forward pass. For the static export size that
// gather is done once, at export time, and written as one initializer per table
// (`<table>.gathered_NxN`), read through DerivedWeights so the table is still checked by name and shape.
#include "export/config_reader.hpp"
#include "export/layers.hpp"
#include "export/vision_families.hpp"

#include "util/json_read.hpp"

#include <cmath>
#include <limits>

namespace modelkit::exporter {
namespace {

constexpr auto kFloat = ::onnx::TensorProto_DataType_FLOAT;
using Ints = std::vector<std::int64_t>;

struct BeitConfig {
  std::int64_t hidden_size = 768, layers = 12, heads = 12, intermediate_size = 3072;
  std::int64_t image_size = 224, patch_size = 16, num_channels = 3, num_labels = 2;
  double layer_norm_eps = 1e-12, layer_scale_init_value = 0.1;
  std::string hidden_act = "gelu";
  bool absolute_positions = false, relative_bias = false, shared_relative_bias = false, mean_pooling = true;
};

Result<BeitConfig> read_beit_config(std::string_view text) {
  simdjson::dom::parser parser;
  MODELKIT_TRY_CTX(auto doc, util::parse_json(parser, text), "config.json");
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return failure("config.json: must be a JSON object");
  ConfigReader r(root);
  BeitConfig c;
  MODELKIT_TRY(c.hidden_size, r.integer("hidden_size", c.hidden_size, 1, 1 << 16));
  MODELKIT_TRY(c.layers, r.integer("num_hidden_layers", c.layers, 1, 1024));
  MODELKIT_TRY(c.heads, r.integer("num_attention_heads", c.heads, 1, 4096));
  MODELKIT_TRY(c.intermediate_size, r.integer("intermediate_size", c.intermediate_size, 1, 1 << 20));
  MODELKIT_TRY(c.image_size, r.integer("image_size", c.image_size, 1, 1 << 14));
  MODELKIT_TRY(c.patch_size, r.integer("patch_size", c.patch_size, 1, 1 << 12));
  MODELKIT_TRY(c.num_channels, r.integer("num_channels", c.num_channels, 1, 64));
  MODELKIT_TRY(c.layer_norm_eps, r.number("layer_norm_eps", c.layer_norm_eps));
  MODELKIT_TRY(c.layer_scale_init_value, r.number("layer_scale_init_value", c.layer_scale_init_value));
  MODELKIT_TRY(c.hidden_act, r.text("hidden_act", c.hidden_act));
  MODELKIT_TRY(c.absolute_positions, r.flag("use_absolute_position_embeddings", c.absolute_positions));
  MODELKIT_TRY(c.relative_bias, r.flag("use_relative_position_bias", c.relative_bias));
  MODELKIT_TRY(c.shared_relative_bias, r.flag("use_shared_relative_position_bias", c.shared_relative_bias));
  MODELKIT_TRY(c.mean_pooling, r.flag("use_mean_pooling", c.mean_pooling));
  MODELKIT_TRY_VOID(check_whole_heads("config.json", c.hidden_size, c.heads));
  MODELKIT_TRY_VOID(check_patch_fits("config.json", c.image_size, c.patch_size));
  MODELKIT_TRY(c.num_labels, r.num_labels());
  return c;
}

// The table row each (query, key) pair of [class token, patches] reads, for a grid of gh x gw
// patches: patch pairs by their offset (dy, dx), then the class token's row, column and self.
std::vector<std::int64_t> relative_position_index(std::int64_t gh, std::int64_t gw) {
  const std::int64_t rows = (2 * gh - 1) * (2 * gw - 1) + 3, tokens = gh * gw + 1;
  std::vector<std::int64_t> index(static_cast<std::size_t>(tokens * tokens));
  for (std::int64_t q = 0; q < tokens; ++q)
    for (std::int64_t k = 0; k < tokens; ++k) {
      std::int64_t row;
      if (q == 0 && k == 0) row = rows - 1;
      else if (k == 0) row = rows - 2;
      else if (q == 0) row = rows - 3;
      else {
        const std::int64_t dy = (q - 1) / gw - (k - 1) / gw + gh - 1, dx = (q - 1) % gw - (k - 1) % gw + gw - 1;
        row = dy * (2 * gw - 1) + dx;
      }
      index[static_cast<std::size_t>(q * tokens + k)] = row;
    }
  return index;
}

}  // namespace

Result<void> build_beit(GraphBuilder& g, const VisionPlan& plan, std::string_view config_json,
                        const std::filesystem::path& folder, std::unique_ptr<WeightSource>& source,
                        RandomWeights* random, std::optional<ImageSize> size) {
  MODELKIT_TRY(auto c, read_beit_config(config_json));
  std::string from;
  MODELKIT_TRY(auto hw, vision_export_size(folder, c.image_size, size, &from));
  // transformers resizes the position table and the bias tables for another size only when asked
  // (interpolate_pos_encoding); the export keeps the trained size.
  if (hw.height != c.image_size || hw.width != c.image_size)
    return failure("export image size " + std::to_string(hw.height) + "x" + std::to_string(hw.width) + " (from " +
                   from + ") differs from config.json's image_size " + std::to_string(c.image_size) +
                   "; beit is exported at its trained size only");
  const std::int64_t H = c.hidden_size, P = c.patch_size, heads = c.heads, head_dim = H / heads;
  const std::int64_t grid = c.image_size / P, tokens = grid * grid + 1;

  MODELKIT_TRY(std::string p, backbone_prefix(plan, *source, random != nullptr, "beit.",
                                              "embeddings.patch_embeddings.projection.weight"));
  auto wrapper = std::make_unique<DerivedWeights>(std::move(source));
  DerivedWeights& derived = *wrapper;
  source = std::move(wrapper);
  Layers l(g, random);

  // A relative position bias table [rows, heads] gathered to [heads, tokens, tokens].
  const auto index = relative_position_index(grid, grid);
  const std::int64_t table_rows = (2 * grid - 1) * (2 * grid - 1) + 3;
  auto gathered_bias = [&](const std::string& table) {
    if (random) random->expect(table, {table_rows, heads});
    const std::string name = table + ".gathered_" + std::to_string(tokens) + "x" + std::to_string(tokens);
    derived.add(name, {{heads, tokens, tokens},
                       {{table, {table_rows, heads}, Init::normal}},
                       [index, heads, tokens](const std::vector<std::vector<float>>& in, std::span<float> out) {
                         const auto& t = in[0];
                         for (std::int64_t h = 0; h < heads; ++h)
                           for (std::int64_t i = 0; i < tokens * tokens; ++i)
                             out[static_cast<std::size_t>(h * tokens * tokens + i)] =
                                 t[static_cast<std::size_t>(index[static_cast<std::size_t>(i)] * heads + h)];
                       }});
    return g.weight(name, {heads, tokens, tokens}, Init::normal);
  };

  auto pixels = g.input("pixel_values", kFloat, {"batch_size", c.num_channels, hw.height, hw.width});
  const std::string proj = p + "embeddings.patch_embeddings.projection";
  auto patches = g.node("Conv",
                        {pixels, l.weight(proj + ".weight", {H, c.num_channels, P, P}, Init::normal),
                         l.weight(proj + ".bias", {H}, Init::zeros)},
                        {{"kernel_shape", Ints{P, P}}, {"strides", Ints{P, P}}}, "patch_embeddings");
  auto x = g.node("Transpose", {g.node("Reshape", {patches, g.const_i64({0, H, -1})})}, {{"perm", Ints{0, 2, 1}}},
                  "patches");
  auto batch = g.node("Slice", {g.node("Shape", {pixels}), g.const_i64({0}), g.const_i64({1})});
  auto cls = g.node("Expand", {l.weight(p + "embeddings.cls_token", {1, 1, H}, Init::normal),
                               g.node("Concat", {batch, g.const_i64({1, H})}, {{"axis", std::int64_t{0}}})},
                    {}, "cls_token");
  x = g.node("Concat", {cls, x}, {{"axis", std::int64_t{1}}}, "tokens");
  if (c.absolute_positions)  // the class token's row and the patches' rows, added at once
    x = g.node("Add", {x, l.weight(p + "embeddings.position_embeddings", {1, tokens, H}, Init::normal)}, {},
               "embeddings");

  std::string shared;
  if (c.shared_relative_bias) shared = gathered_bias(p + "encoder.relative_position_bias.relative_position_bias_table");
  const bool layer_scale = c.layer_scale_init_value > 0;
  const auto split_shape = g.const_i64({0, 0, heads, head_dim});
  const auto scale = g.const_f32(static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim))));
  for (std::int64_t i = 0; i < c.layers; ++i) {
    const std::string lp = p + "encoder.layer." + std::to_string(i) + ".";
    const std::string ap = lp + "attention.attention.";
    auto h = l.layer_norm(x, lp + "layernorm_before", H, c.layer_norm_eps);
    auto q = g.node("Transpose", {g.node("Reshape", {l.linear(h, ap + "query", H, H), split_shape})},
                    {{"perm", Ints{0, 2, 1, 3}}});
    auto k = g.node("Transpose", {g.node("Reshape", {l.linear(h, ap + "key", H, H, false), split_shape})},
                    {{"perm", Ints{0, 2, 3, 1}}});
    auto v = g.node("Transpose", {g.node("Reshape", {l.linear(h, ap + "value", H, H), split_shape})},
                    {{"perm", Ints{0, 2, 1, 3}}});
    auto scores = g.node("Mul", {g.node("MatMul", {q, k}), scale}, {}, "scores");
    if (c.relative_bias)
      scores = g.node("Add", {scores, gathered_bias(ap + "relative_position_bias.relative_position_bias_table")}, {},
                      "relative_position_bias");
    if (!shared.empty()) scores = g.node("Add", {scores, shared}, {}, "shared_relative_position_bias");
    auto probs = g.node("Softmax", {scores}, {{"axis", std::int64_t{-1}}}, "softmax");
    auto ctx = g.node("Transpose", {g.node("MatMul", {probs, v})}, {{"perm", Ints{0, 2, 1, 3}}});
    auto attn = l.linear(g.node("Reshape", {ctx, g.const_i64({0, 0, H})}), lp + "attention.output.dense", H, H);
    if (layer_scale) attn = g.node("Mul", {attn, l.weight(lp + "lambda_1", {H}, Init::ones)}, {}, "layer_scale");
    x = g.node("Add", {x, attn}, {}, "residual");
    auto m = l.linear(l.layer_norm(x, lp + "layernorm_after", H, c.layer_norm_eps), lp + "intermediate.dense", H,
                      c.intermediate_size);
    MODELKIT_TRY(m, l.activation(m, c.hidden_act));
    m = l.linear(m, lp + "output.dense", c.intermediate_size, H);
    if (layer_scale) m = g.node("Mul", {m, l.weight(lp + "lambda_2", {H}, Init::ones)}, {}, "layer_scale");
    x = g.node("Add", {x, m}, {}, "residual");
  }

  std::string pooled;
  if (c.mean_pooling) {
    // BeitModel built without its pooler (add_pooling_layer=False) has no pooler.layernorm: no pooler_output.
    const std::string pooler = p + "pooler.layernorm";
    if (random || plan.head != VisionHead::base || source->find(pooler + ".weight")) {
      auto patch_tokens = g.node("Slice", {x, g.const_i64({1}), g.const_i64({std::numeric_limits<std::int64_t>::max()}),
                                           g.const_i64({1})});
      pooled = l.layer_norm(g.reduce("ReduceMean", patch_tokens, {1}, false), pooler, H, c.layer_norm_eps);
    }
  } else {
    x = l.layer_norm(x, p + "layernorm", H, c.layer_norm_eps);
    pooled = g.node("Gather", {x, g.const_i64({0}, true)}, {{"axis", std::int64_t{1}}}, "cls_pooled");
  }
  MODELKIT_TRY_VOID(derived.check_inputs());
  if (plan.head == VisionHead::base) {
    g.output(x, "last_hidden_state", kFloat, {"batch_size", tokens, H});
    if (!pooled.empty()) g.output(pooled, "pooler_output", kFloat, {"batch_size", H});
    return {};
  }
  g.output(l.linear(pooled, "classifier", H, c.num_labels), "logits", kFloat, {"batch_size", c.num_labels});
  return {};
}

}  // namespace modelkit::exporter
