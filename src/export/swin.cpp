// Swin as transformers' modeling_swin (eager inference; drop path is training-only): a patch
// embedding (the image zero-padded right/bottom to a multiple of the patch, a strided Conv, LayerNorm
// at torch's default eps), optional absolute position embeddings, then stages of window-attention
// blocks with patch merging between them, a final LayerNorm, and the mean over tokens.
//
// Everything that depends on the image size is fixed at export time (height and width are static):
// each block's window (the stage's smaller side when that is no larger than window_size, and then no
// shift), its zero-padding to a multiple of the window, the cyclic shift of half a window on odd
// blocks (Slice + Concat), the -100 mask between the shifted regions (one constant per stage and
// shape), and the relative position bias gathered from the checkpoint's table into [heads, W², W²]
// (a derived weight, one per block). Windows are cut and put back with Reshape + Transpose.
#include "export/config_reader.hpp"
#include "export/layers.hpp"
#include "export/vision_families.hpp"

#include "util/json_read.hpp"

#include <cmath>
#include <limits>
#include <map>
#include <tuple>

namespace modelkit::exporter {
namespace {

constexpr auto kFloat = ::onnx::TensorProto_DataType_FLOAT;
using Ints = std::vector<std::int64_t>;

// transformers' nn.LayerNorm(...) without eps: the embeddings' norm and patch merging's.
constexpr double kTorchLayerNormEps = 1e-5;
// What transformers adds to the scores of positions in different shifted regions.
constexpr float kShiftMaskValue = -100.0f;

struct SwinConfig {
  std::int64_t image_size = 224, patch_size = 4, num_channels = 3, embed_dim = 96, window_size = 7, num_labels = 2;
  Ints depths = {2, 2, 6, 2}, num_heads = {3, 6, 12, 24};
  double mlp_ratio = 4.0, layer_norm_eps = 1e-5;
  bool qkv_bias = true, absolute_embeddings = false;
  std::string hidden_act = "gelu";

  [[nodiscard]] std::int64_t dim(std::size_t stage) const { return embed_dim << stage; }
  [[nodiscard]] std::int64_t mlp(std::size_t stage) const {
    return static_cast<std::int64_t>(mlp_ratio * static_cast<double>(dim(stage)));
  }
};

Result<SwinConfig> read_swin_config(std::string_view text) {
  simdjson::dom::parser parser;
  MODELKIT_TRY_CTX(auto doc, util::parse_json(parser, text), "config.json");
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return failure("config.json: must be a JSON object");
  ConfigReader r(root);
  SwinConfig c;
  MODELKIT_TRY(c.image_size, r.integer("image_size", c.image_size, 1, 1 << 14));
  MODELKIT_TRY(c.patch_size, r.integer("patch_size", c.patch_size, 1, 1 << 10));
  MODELKIT_TRY(c.num_channels, r.integer("num_channels", c.num_channels, 1, 64));
  MODELKIT_TRY(c.embed_dim, r.integer("embed_dim", c.embed_dim, 1, 1 << 14));
  MODELKIT_TRY(c.window_size, r.integer("window_size", c.window_size, 1, 256));
  MODELKIT_TRY(c.depths, r.ints("depths", c.depths, 1, 1024));
  MODELKIT_TRY(c.num_heads, r.ints("num_heads", c.num_heads, 1, 4096));
  if (c.depths.size() != c.num_heads.size())
    return failure("config.json: depths (" + std::to_string(c.depths.size()) + ") and num_heads (" +
                   std::to_string(c.num_heads.size()) + ") disagree");
  if (c.depths.size() > 8) return failure("config.json: depths must hold 1..8 stages");
  if (c.dim(c.depths.size() - 1) > (1 << 16))
    return failure("config.json: embed_dim " + std::to_string(c.embed_dim) + " doubled per stage passes 65536");
  for (std::size_t s = 0; s < c.depths.size(); ++s)
    if (c.dim(s) % c.num_heads[s] != 0)
      return failure("config.json: stage " + std::to_string(s) + "'s width " + std::to_string(c.dim(s)) +
                     " (embed_dim * 2^stage) is not a multiple of num_heads[" + std::to_string(s) + "] " +
                     std::to_string(c.num_heads[s]));
  MODELKIT_TRY(c.mlp_ratio, r.number("mlp_ratio", c.mlp_ratio));
  if (!(c.mlp_ratio > 0 && c.mlp_ratio <= 64)) return failure("config.json: field 'mlp_ratio' must be in (0, 64]");
  if (c.mlp(0) < 1) return failure("config.json: mlp_ratio * embed_dim must be at least 1");
  MODELKIT_TRY(c.layer_norm_eps, r.number("layer_norm_eps", c.layer_norm_eps));
  MODELKIT_TRY(c.qkv_bias, r.flag("qkv_bias", c.qkv_bias));
  MODELKIT_TRY(c.absolute_embeddings, r.flag("use_absolute_embeddings", c.absolute_embeddings));
  MODELKIT_TRY(c.hidden_act, r.text("hidden_act", c.hidden_act));
  MODELKIT_TRY(c.num_labels, r.num_labels());
  return c;
}

std::string dims_text(std::int64_t h, std::int64_t w) { return std::to_string(h) + "x" + std::to_string(w); }

// The -100 mask of a shifted block on an hp x wp (padded) map with window ws: [windows * ws², ws²]
// row-major ([window, query, key]), -100 where query and key lie in different regions of the shift.
std::vector<float> shift_mask(std::int64_t hp, std::int64_t wp, std::int64_t ws, std::int64_t shift) {
  // Three bands per axis: [0, n - ws), [n - ws, n - shift), [n - shift, n).
  auto band = [&](std::int64_t i, std::int64_t n) { return i < n - ws ? 0 : i < n - shift ? 1 : 2; };
  const std::int64_t n = ws * ws, windows_w = wp / ws, windows = (hp / ws) * windows_w;
  std::vector<float> mask(static_cast<std::size_t>(windows * n * n));
  std::vector<int> region(static_cast<std::size_t>(n));
  for (std::int64_t win = 0; win < windows; ++win) {
    const std::int64_t y0 = (win / windows_w) * ws, x0 = (win % windows_w) * ws;
    for (std::int64_t k = 0; k < n; ++k)
      region[static_cast<std::size_t>(k)] = band(y0 + k / ws, hp) * 3 + band(x0 + k % ws, wp);
    for (std::int64_t q = 0; q < n; ++q)
      for (std::int64_t k = 0; k < n; ++k)
        mask[static_cast<std::size_t>((win * n + q) * n + k)] =
            region[static_cast<std::size_t>(q)] == region[static_cast<std::size_t>(k)] ? 0.0f : kShiftMaskValue;
  }
  return mask;
}

class SwinGraph {
 public:
  SwinGraph(GraphBuilder& g, const SwinConfig& c, DerivedWeights& derived, RandomWeights* random)
      : g_(g), c_(c), derived_(derived), random_(random) {}

  std::string reshape(const std::string& x, const Ints& shape) { return g_.node("Reshape", {x, g_.const_i64(shape)}); }
  std::string transpose(const std::string& x, const Ints& perm) { return g_.node("Transpose", {x}, {{"perm", perm}}); }
  std::string slice(const std::string& x, const Ints& starts, const Ints& ends, const Ints& axes, const Ints& steps) {
    return g_.node("Slice", {x, g_.const_i64(starts), g_.const_i64(ends), g_.const_i64(axes), g_.const_i64(steps)});
  }
  // Zero-pads the end of axes 1 and 2 of [B, h, w, C] (or [B, C, h, w] with `channels_first`).
  std::string pad_end(const std::string& x, std::int64_t bottom, std::int64_t right, bool channels_first = false) {
    if (bottom == 0 && right == 0) return x;
    const Ints pads = channels_first ? Ints{0, 0, 0, 0, 0, 0, bottom, right} : Ints{0, 0, 0, 0, 0, bottom, right, 0};
    return g_.node("Pad", {x, g_.const_i64(pads)}, {}, "pad");
  }
  // torch.roll by `shift` (positive: towards higher indices) along axes 1 and 2 of [B, n, n', C].
  std::string roll(const std::string& x, std::int64_t shift, std::int64_t h, std::int64_t w) {
    auto along = [&](const std::string& y, std::int64_t axis, std::int64_t n) {
      const std::int64_t cut = ((n - shift) % n + n) % n;  // the element at `cut` moves to the front
      auto head = slice(y, {cut}, {n}, {axis}, {1});
      auto tail = slice(y, {0}, {cut}, {axis}, {1});
      return g_.node("Concat", {head, tail}, {{"axis", axis}}, "roll");
    };
    return along(along(x, 1, h), 2, w);
  }

  // The checkpoint's bias table gathered for a ws x ws window: [heads, ws², ws²].
  std::string relative_bias(const std::string& block, std::int64_t heads, std::int64_t ws) {
    const std::string table = block + "attention.self.relative_position_bias_table";
    const Ints table_shape = {(2 * ws - 1) * (2 * ws - 1), heads};
    if (random_) random_->expect(table, table_shape);
    const std::int64_t n = ws * ws;
    const std::string name = table + ".gathered_" + dims_text(ws, ws);
    derived_.add(name, {{heads, n, n},
                        {{table, table_shape, Init::normal}},
                        [heads, ws, n](const std::vector<std::vector<float>>& in, std::span<float> out) {
                          for (std::int64_t q = 0; q < n; ++q)
                            for (std::int64_t k = 0; k < n; ++k) {
                              const std::int64_t dy = q / ws - k / ws, dx = q % ws - k % ws;
                              const std::int64_t row = (dy + ws - 1) * (2 * ws - 1) + dx + ws - 1;
                              for (std::int64_t h = 0; h < heads; ++h)
                                out[static_cast<std::size_t>((h * n + q) * n + k)] =
                                    in[0][static_cast<std::size_t>(row * heads + h)];
                            }
                        }});
    return g_.weight(name, {heads, n, n}, Init::normal);
  }

  // The shift mask as [windows, 1, ws², ws²], one constant per map size, window and shift.
  std::string mask(std::int64_t hp, std::int64_t wp, std::int64_t ws, std::int64_t shift) {
    const auto key = std::make_tuple(hp, wp, ws, shift);
    if (auto it = masks_.find(key); it != masks_.end()) return it->second;
    const std::int64_t n = ws * ws;
    auto m = reshape(g_.const_f32s(shift_mask(hp, wp, ws, shift)), {(hp / ws) * (wp / ws), 1, n, n});
    masks_[key] = m;
    return m;
  }

  // One block on [B, h*w, C] (SwinLayer.forward).
  Result<std::string> block(const std::string& x, const std::string& base, std::size_t stage, std::int64_t index,
                            std::int64_t h, std::int64_t w) {
    const std::int64_t C = c_.dim(stage), heads = c_.num_heads[stage], head_dim = C / heads;
    std::int64_t ws = c_.window_size, shift = index % 2 == 0 ? 0 : c_.window_size / 2;
    if (std::min(h, w) <= ws) {
      ws = std::min(h, w);
      shift = 0;
    }
    const std::int64_t pad_b = (ws - h % ws) % ws, pad_r = (ws - w % ws) % ws, hp = h + pad_b, wp = w + pad_r;
    const std::int64_t windows = (hp / ws) * (wp / ws), n = ws * ws;

    auto y = reshape(l_.layer_norm(x, base + "layernorm_before", C, c_.layer_norm_eps), {-1, h, w, C});
    y = pad_end(y, pad_b, pad_r);
    if (shift > 0) y = roll(y, -shift, hp, wp);
    // window_partition: [B, hp/ws, ws, wp/ws, ws, C] -> [B * windows, ws², C]
    y = reshape(transpose(reshape(y, {-1, hp / ws, ws, wp / ws, ws, C}), {0, 1, 3, 2, 4, 5}), {-1, n, C});

    const std::string att = base + "attention.self.";
    auto split = [&](const std::string& t, const Ints& perm) {
      return transpose(reshape(t, {0, 0, heads, head_dim}), perm);
    };
    auto q = split(l_.linear(y, att + "query", C, C, c_.qkv_bias), {0, 2, 1, 3});
    auto k = split(l_.linear(y, att + "key", C, C, c_.qkv_bias), {0, 2, 3, 1});
    auto v = split(l_.linear(y, att + "value", C, C, c_.qkv_bias), {0, 2, 1, 3});
    auto scale = g_.const_f32(static_cast<float>(std::sqrt(static_cast<double>(head_dim))));
    auto scores = g_.node("Div", {g_.node("MatMul", {q, k}), scale}, {}, "scores");
    scores = g_.node("Add", {scores, relative_bias(base, heads, ws)}, {}, "relative_bias");
    if (shift > 0) {
      scores = reshape(scores, {-1, windows, heads, n, n});
      scores = reshape(g_.node("Add", {scores, mask(hp, wp, ws, shift)}, {}, "shift_mask"), {-1, heads, n, n});
    }
    auto probs = g_.node("Softmax", {scores}, {{"axis", std::int64_t{-1}}}, "softmax");
    auto ctx = reshape(transpose(g_.node("MatMul", {probs, v}), {0, 2, 1, 3}), {0, 0, C});
    auto a = l_.linear(ctx, base + "attention.output.dense", C, C);
    // window_reverse: [B * windows, ws², C] -> [B, hp, wp, C]
    a = reshape(transpose(reshape(a, {-1, hp / ws, wp / ws, ws, ws, C}), {0, 1, 3, 2, 4, 5}), {-1, hp, wp, C});
    if (shift > 0) a = roll(a, shift, hp, wp);
    if (pad_b > 0 || pad_r > 0) a = slice(a, {0, 0}, {h, w}, {1, 2}, {1, 1});
    auto out = g_.node("Add", {x, reshape(a, {-1, h * w, C})}, {}, "residual");

    auto m = l_.linear(l_.layer_norm(out, base + "layernorm_after", C, c_.layer_norm_eps), base + "intermediate.dense",
                       C, c_.mlp(stage));
    MODELKIT_TRY(m, l_.activation(m, c_.hidden_act));
    m = l_.linear(m, base + "output.dense", c_.mlp(stage), C);
    return g_.node("Add", {out, m}, {}, "residual");
  }

  // SwinPatchMerging on [B, h*w, C] -> [B, ceil(h/2)*ceil(w/2), 2C].
  std::string merge(const std::string& x, const std::string& base, std::int64_t C, std::int64_t h, std::int64_t w) {
    auto y = pad_end(reshape(x, {-1, h, w, C}), h % 2, w % 2);
    const std::int64_t end = std::numeric_limits<std::int64_t>::max();
    // [0::2, 0::2], [1::2, 0::2], [0::2, 1::2], [1::2, 1::2], concatenated over channels
    std::vector<std::string> parts;
    for (auto [dy, dx] : {std::pair{0, 0}, std::pair{1, 0}, std::pair{0, 1}, std::pair{1, 1}})
      parts.push_back(slice(y, {dy, dx}, {end, end}, {1, 2}, {2, 2}));
    y = reshape(g_.node("Concat", parts, {{"axis", std::int64_t{-1}}}, "merge"), {-1, ((h + 1) / 2) * ((w + 1) / 2), 4 * C});
    return l_.linear(l_.layer_norm(y, base + "norm", 4 * C, kTorchLayerNormEps), base + "reduction", 4 * C, 2 * C,
                     false);
  }

  GraphBuilder& g_;
  const SwinConfig& c_;
  DerivedWeights& derived_;
  RandomWeights* random_;
  Layers l_{g_, random_};
  std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>, std::string> masks_;
};

}  // namespace

Result<void> build_swin(GraphBuilder& g, const VisionPlan& plan, std::string_view config_json,
                        const std::filesystem::path& folder, std::unique_ptr<WeightSource>& source,
                        RandomWeights* random, std::optional<ImageSize> size) {
  MODELKIT_TRY(auto c, read_swin_config(config_json));
  std::string from;
  MODELKIT_TRY(auto hw, vision_export_size(folder, c.image_size, size, &from));
  if (hw.height < 1 || hw.width < 1 || hw.height > (1 << 14) || hw.width > (1 << 14))
    return failure("export image size " + dims_text(hw.height, hw.width) + " (from " + from + ") must be 1..16384");
  // Every stage's size, as transformers computes it: the patch grid of the padded image, then
  // (n + 1) / 2 per merge. A stage whose smaller side is below window_size would take a smaller
  // window than the checkpoint's bias table is built for: transformers cannot run that size either.
  std::vector<std::pair<std::int64_t, std::int64_t>> sizes;
  std::int64_t h = (hw.height + c.patch_size - 1) / c.patch_size, w = (hw.width + c.patch_size - 1) / c.patch_size;
  for (std::size_t s = 0; s < c.depths.size(); ++s) {
    if (std::min(h, w) < c.window_size)
      return failure("export image size " + dims_text(hw.height, hw.width) + " (from " + from + ") gives stage " +
                     std::to_string(s) + " a " + dims_text(h, w) + " grid, smaller than window_size " +
                     std::to_string(c.window_size) + " (the relative position bias is built for that window)");
    sizes.emplace_back(h, w);
    h = (h + 1) / 2;
    w = (w + 1) / 2;
  }

  MODELKIT_TRY(std::string p, backbone_prefix(plan, *source, random != nullptr, "swin.",
                                              "embeddings.patch_embeddings.projection.weight"));
  const auto [grid_h, grid_w] = sizes.front();
  const std::string positions = p + "embeddings.position_embeddings";
  if (c.absolute_embeddings) {
    // One row per patch of config.json's image_size (the original Swin's table). transformers sizes its
    // table one row longer and then cannot add it to the patches; that shape is refused.
    const std::int64_t grid = c.image_size / c.patch_size;
    if (grid_h * grid_w != grid * grid)
      return failure("export image size " + dims_text(hw.height, hw.width) + " (from " + from + ") gives " +
                     std::to_string(grid_h * grid_w) + " patches; the absolute position embeddings hold " +
                     std::to_string(grid * grid) + " (config.json's image_size " + std::to_string(c.image_size) +
                     ") and swin does not interpolate them");
    if (!random)
      if (auto info = source->find(positions); info && info->shape == Ints{1, grid * grid + 1, c.embed_dim})
        return failure("tensor '" + positions + "' has shape [1, " + std::to_string(grid * grid + 1) + ", " +
                       std::to_string(c.embed_dim) + "]: one row more than the " + std::to_string(grid * grid) +
                       " patches it is added to (transformers' Swin cannot add it either); the exporter takes [1, " +
                       std::to_string(grid * grid) + ", " + std::to_string(c.embed_dim) + "]");
  }

  auto wrapper = std::make_unique<DerivedWeights>(std::move(source));
  DerivedWeights& derived = *wrapper;
  source = std::move(wrapper);
  SwinGraph v(g, c, derived, random);

  auto pixels = g.input("pixel_values", kFloat, {"batch_size", c.num_channels, hw.height, hw.width});
  const auto P = c.patch_size, C0 = c.embed_dim;
  auto x = v.pad_end(pixels, (P - hw.height % P) % P, (P - hw.width % P) % P, true);
  const std::string projection = p + "embeddings.patch_embeddings.projection";
  x = g.node("Conv",
             {x, v.l_.weight(projection + ".weight", {C0, c.num_channels, P, P}, Init::normal),
              v.l_.weight(projection + ".bias", {C0}, Init::zeros)},
             {{"kernel_shape", Ints{P, P}}, {"strides", Ints{P, P}}}, "patch_embeddings");
  x = v.transpose(v.reshape(x, {0, C0, -1}), {0, 2, 1});
  x = v.l_.layer_norm(x, p + "embeddings.norm", C0, kTorchLayerNormEps);
  if (c.absolute_embeddings)
    x = g.node("Add", {x, v.l_.weight(positions, {1, grid_h * grid_w, C0}, Init::normal)}, {}, "positions");

  for (std::size_t s = 0; s < c.depths.size(); ++s) {
    const std::string stage = p + "encoder.layers." + std::to_string(s) + ".";
    const auto [sh, sw] = sizes[s];
    for (std::int64_t j = 0; j < c.depths[s]; ++j) {
      MODELKIT_TRY(x, v.block(x, stage + "blocks." + std::to_string(j) + ".", s, j, sh, sw));
    }
    if (s + 1 < c.depths.size()) x = v.merge(x, stage + "downsample.", c.dim(s), sh, sw);
  }
  MODELKIT_TRY_VOID(derived.check_inputs());
  const auto last = c.dim(c.depths.size() - 1);
  const auto [last_h, last_w] = sizes.back();
  x = v.l_.layer_norm(x, p + "layernorm", last, c.layer_norm_eps);
  auto pooled = g.reduce("ReduceMean", x, {1}, false);
  if (plan.head == VisionHead::base) {
    g.output(x, "last_hidden_state", kFloat, {"batch_size", last_h * last_w, last});
    g.output(pooled, "pooler_output", kFloat, {"batch_size", last});
    return {};
  }
  g.output(v.l_.linear(pooled, "classifier", last, c.num_labels), "logits", kFloat, {"batch_size", c.num_labels});
  return {};
}

}  // namespace modelkit::exporter
