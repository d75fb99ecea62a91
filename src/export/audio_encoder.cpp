// Audio encoders from standard ONNX ops at opset 17+, following transformers' eager, dropout-free
// inference path:
// - Wav2Vec2 / HuBERT / WavLM: a convolutional feature encoder over the raw waveform (group norm on
//   its first layer, or layer norm on every layer), feature projection, a grouped positional
//   convolution whose weight-normalized kernel is computed into a plain weight at export time, and
//   a post-norm (or "stable", pre-norm) transformer; WavLM adds its gated relative position bias.
// - Whisper: the encoder only (two convolutions, the stored sinusoidal positions, pre-norm layers).
#include "export/layers.hpp"
#include "export/audio.hpp"
#include "export/config_reader.hpp"

#include <modelkit/audio.hpp>

#include "util/file.hpp"
#include "util/json_read.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace modelkit::exporter {
namespace {

namespace fs = std::filesystem;
constexpr auto kInt64 = ::onnx::TensorProto_DataType_INT64;
constexpr auto kFloat = ::onnx::TensorProto_DataType_FLOAT;
using Dims = std::vector<std::variant<std::int64_t, std::string>>;
using Ints = std::vector<std::int64_t>;

}  // namespace

enum class AudioKind { wav2vec2, hubert, wavlm, whisper };

struct AudioFamily {
  std::string_view model_type;
  std::string_view class_prefix;
  AudioKind kind;
  std::vector<std::string_view> base_prefixes;  // tried in order to find the backbone's tensors
  std::vector<std::pair<std::string_view, AudioHead>> classes;  // class suffix -> head
};

namespace {

const std::vector<AudioFamily>& audio_families() {
  static const std::vector<AudioFamily> table = {
      {"wav2vec2", "Wav2Vec2", AudioKind::wav2vec2, {"wav2vec2.", ""},
       {{"Model", AudioHead::base}, {"ForCTC", AudioHead::ctc},
        {"ForSequenceClassification", AudioHead::sequence_classification},
        {"ForAudioFrameClassification", AudioHead::frame_classification}}},
      {"hubert", "Hubert", AudioKind::hubert, {"hubert.", ""},
       {{"Model", AudioHead::base}, {"ForCTC", AudioHead::ctc},
        {"ForSequenceClassification", AudioHead::sequence_classification}}},
      {"wavlm", "WavLM", AudioKind::wavlm, {"wavlm.", ""},
       {{"Model", AudioHead::base}, {"ForCTC", AudioHead::ctc},
        {"ForSequenceClassification", AudioHead::sequence_classification},
        {"ForAudioFrameClassification", AudioHead::frame_classification}}},
      // Both export the encoder alone: the decoder comes with encoder-decoder export.
      {"whisper", "Whisper", AudioKind::whisper, {"model.encoder.", "encoder."},
       {{"ForConditionalGeneration", AudioHead::encoder}, {"Model", AudioHead::encoder}}},
  };
  return table;
}

const AudioFamily* find_audio_family(std::string_view model_type) {
  for (const auto& f : audio_families())
    if (f.model_type == model_type) return &f;
  return nullptr;
}

std::string_view head_name(AudioHead h) {
  switch (h) {
    case AudioHead::base: return "base";
    case AudioHead::ctc: return "ctc";
    case AudioHead::sequence_classification: return "sequence-classification";
    case AudioHead::frame_classification: return "frame-classification";
    case AudioHead::encoder: return "encoder";
  }
  return "?";
}

std::string class_list(const AudioFamily& f) {
  std::string out;
  for (const auto& [suffix, head] : f.classes)
    out += (out.empty() ? "" : ", ") + std::string(f.class_prefix) + std::string(suffix);
  return out;
}

// --- config.json ---------------------------------------------------------------------------

struct AudioConfig {
  // transformer
  std::int64_t hidden = 0, layers = 0, heads = 0, intermediate = 0;
  double eps = 1e-5;
  std::string hidden_act = "gelu";
  // wav2vec2-likes
  Ints conv_dim = {512, 512, 512, 512, 512, 512, 512};
  Ints conv_kernel = {10, 3, 3, 3, 3, 2, 2};
  Ints conv_stride = {5, 2, 2, 2, 2, 2, 2};
  bool conv_bias = false, layer_norm_convs = false, stable = false, feat_proj_layer_norm = true;
  std::string feat_act = "gelu";
  std::int64_t pos_kernel = 128, pos_groups = 16, vocab = 32, proj_size = 256, num_labels = 2;
  std::int64_t buckets = 320, max_distance = 800;  // WavLM
  // Whisper
  std::int64_t mel_bins = 80, source_positions = 1500;
};

Result<AudioConfig> read_audio_config(std::string_view text, const AudioFamily& family, AudioHead head) {
  simdjson::dom::parser parser;
  MODELKIT_TRY_CTX(auto doc, util::parse_json(parser, text), "config.json");
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return failure("config.json: must be a JSON object");
  ConfigReader r(root);
  AudioConfig c;
  c.eps = 1e-5;
  if (family.kind == AudioKind::whisper) {
    MODELKIT_TRY(c.hidden, r.integer("d_model", std::nullopt, 1, 1 << 16));
    MODELKIT_TRY(c.layers, r.integer("encoder_layers", std::nullopt, 1, 1024));
    MODELKIT_TRY(c.heads, r.integer("encoder_attention_heads", std::nullopt, 1, 4096));
    MODELKIT_TRY(c.intermediate, r.integer("encoder_ffn_dim", std::nullopt, 1, 1 << 20));
    MODELKIT_TRY(c.hidden_act, r.text("activation_function", "gelu"));
    MODELKIT_TRY(c.mel_bins, r.integer("num_mel_bins", 80, 1, 4096));
    MODELKIT_TRY(c.source_positions, r.integer("max_source_positions", 1500, 1, 1 << 20));
    if (c.hidden % c.heads != 0)
      return failure("config.json: d_model " + std::to_string(c.hidden) + " is not a multiple of encoder_attention_heads " +
                     std::to_string(c.heads));
    return c;
  }
  MODELKIT_TRY(c.hidden, r.integer("hidden_size", 768, 1, 1 << 16));
  MODELKIT_TRY(c.layers, r.integer("num_hidden_layers", 12, 1, 1024));
  MODELKIT_TRY(c.heads, r.integer("num_attention_heads", 12, 1, 4096));
  MODELKIT_TRY(c.intermediate, r.integer("intermediate_size", 3072, 1, 1 << 20));
  MODELKIT_TRY(c.hidden_act, r.text("hidden_act", "gelu"));
  MODELKIT_TRY(c.eps, r.number("layer_norm_eps", 1e-5));
  if (!(c.eps > 0) || c.eps > 1) return failure("config.json: layer_norm_eps must be in (0, 1]");
  MODELKIT_TRY(c.conv_dim, r.ints("conv_dim", c.conv_dim, 1, 1 << 16));
  MODELKIT_TRY(c.conv_kernel, r.ints("conv_kernel", c.conv_kernel, 1, 4096));
  MODELKIT_TRY(c.conv_stride, r.ints("conv_stride", c.conv_stride, 1, 4096));
  if (c.conv_dim.size() != c.conv_kernel.size() || c.conv_dim.size() != c.conv_stride.size())
    return failure("config.json: conv_dim, conv_kernel and conv_stride must have the same length (" +
                   std::to_string(c.conv_dim.size()) + ", " + std::to_string(c.conv_kernel.size()) + ", " +
                   std::to_string(c.conv_stride.size()) + ")");
  MODELKIT_TRY(auto layers, r.integer("num_feat_extract_layers", static_cast<std::int64_t>(c.conv_dim.size()), 1, 64));
  if (layers != static_cast<std::int64_t>(c.conv_dim.size()))
    return failure("config.json: num_feat_extract_layers " + std::to_string(layers) + " does not match conv_dim's " +
                   std::to_string(c.conv_dim.size()) + " values");
  MODELKIT_TRY(c.conv_bias, r.flag("conv_bias", false));
  MODELKIT_TRY(auto norm, r.text("feat_extract_norm", "group"));
  if (norm != "group" && norm != "layer")
    return failure("config.json: feat_extract_norm '" + norm + "' must be 'group' or 'layer'");
  c.layer_norm_convs = norm == "layer";
  MODELKIT_TRY(c.feat_act, r.text("feat_extract_activation", "gelu"));
  MODELKIT_TRY(c.stable, r.flag("do_stable_layer_norm", false));
  if (family.kind == AudioKind::hubert) {
    MODELKIT_TRY(c.feat_proj_layer_norm, r.flag("feat_proj_layer_norm", true));
    MODELKIT_TRY_VOID(r.refuse_flag("conv_pos_batch_norm", "batch-normalized positional convolution"));
  }
  MODELKIT_TRY(c.pos_kernel, r.integer("num_conv_pos_embeddings", 128, 1, 4096));
  MODELKIT_TRY(c.pos_groups, r.integer("num_conv_pos_embedding_groups", 16, 1, 4096));
  MODELKIT_TRY_VOID(check_whole_heads("config.json", c.hidden, c.heads));
  if (c.hidden % c.pos_groups != 0)
    return failure("config.json: hidden_size " + std::to_string(c.hidden) +
                   " is not a multiple of num_conv_pos_embedding_groups " + std::to_string(c.pos_groups));
  MODELKIT_TRY(c.vocab, r.integer("vocab_size", 32, 1, 1 << 24));
  MODELKIT_TRY(c.proj_size, r.integer("classifier_proj_size", 256, 1, 1 << 16));
  MODELKIT_TRY(c.num_labels, r.num_labels());
  if (family.kind == AudioKind::wavlm) {
    MODELKIT_TRY(c.buckets, r.integer("num_buckets", 320, 4, 1 << 16));
    MODELKIT_TRY(c.max_distance, r.integer("max_bucket_distance", 800, 1, 1 << 24));
  }
  // What the exporter does not build, refused by name rather than exported wrong.
  MODELKIT_TRY_VOID(r.refuse_flag("add_adapter", "the adapter after the encoder"));
  if (r.present("adapter_attn_dim"))
    return failure("config.json: adapter_attn_dim is set; attention adapters are not supported by the exporter");
  if (head == AudioHead::sequence_classification || head == AudioHead::frame_classification)
    MODELKIT_TRY_VOID(r.refuse_flag("use_weighted_layer_sum", "a learned sum over every layer's hidden states"));
  return c;
}

// --- weight normalization ------------------------------------------------------------------

// The positional convolution's kernel is stored weight-normalized (dim 2): g [1, 1, K] and
// v [O, I, K], weight[:, :, k] = g[k] v[:, :, k] / ||v[:, :, k]||. This source answers for the
// plain weight's name and computes it from whichever spelling the checkpoint has; every other
// tensor comes from the checkpoint as is.
class WeightNormSource final : public WeightSource {
 public:
  struct Derived {
    std::string g, v;
    std::vector<std::int64_t> shape;
  };
  WeightNormSource(std::unique_ptr<WeightSource> base, std::map<std::string, Derived> derived)
      : base_(std::move(base)), derived_(std::move(derived)) {}

  [[nodiscard]] std::optional<TensorInfo> find(const std::string& name) const override {
    auto it = derived_.find(name);
    if (it == derived_.end()) return base_->find(name);
    auto v = base_->find(it->second.v);
    if (!v) return std::nullopt;
    return TensorInfo{v->dtype, v->shape};
  }
  [[nodiscard]] Result<void> read(const std::string& name, Init init, std::span<float> out) const override {
    auto it = derived_.find(name);
    if (it == derived_.end()) return base_->read(name, init, out);
    const auto& d = it->second;
    auto g_info = base_->find(d.g);
    if (!g_info) return failure("tensor '" + d.g + "' is missing from the checkpoint's weights");
    std::uint64_t g_count = 1;
    for (auto x : g_info->shape) g_count *= static_cast<std::uint64_t>(x);
    const auto K = static_cast<std::size_t>(d.shape[2]);
    if (!convertible_dtype(g_info->dtype) || g_count != K)
      return failure("tensor '" + d.g + "' must hold " + std::to_string(K) + " float values (the weight norm's gains)");
    std::vector<float> g(K);
    MODELKIT_TRY_VOID(base_->read(d.g, Init::ones, g));
    MODELKIT_TRY_VOID(base_->read(d.v, init, out));
    const std::size_t rows = out.size() / K;
    for (std::size_t k = 0; k < K; ++k) {
      double sum = 0;
      for (std::size_t r = 0; r < rows; ++r) sum += static_cast<double>(out[r * K + k]) * out[r * K + k];
      const double scale = sum > 0 ? g[k] / std::sqrt(sum) : 0.0;
      for (std::size_t r = 0; r < rows; ++r) out[r * K + k] = static_cast<float>(out[r * K + k] * scale);
    }
    return {};
  }
  [[nodiscard]] Result<bool> write_f32(const std::string& name,
                                       const std::function<Result<void>(const void*, std::size_t)>& sink) const override {
    if (derived_.count(name)) return false;
    return base_->write_f32(name, sink);
  }
  // Tensors passed through keep the base's in-kernel copies and transposes from the mapping.
  [[nodiscard]] std::optional<FileRange> f32_file_range(const std::string& name) const override {
    if (derived_.count(name)) return std::nullopt;
    return base_->f32_file_range(name);
  }
  [[nodiscard]] Result<bool> visit_f32(const std::string& name,
                                       const std::function<Result<void>(const float*, std::size_t)>& use) const override {
    if (derived_.count(name)) return false;
    return base_->visit_f32(name, use);
  }
  [[nodiscard]] WeightsSummary summary() const override { return base_->summary(); }

 private:
  std::unique_ptr<WeightSource> base_;
  std::map<std::string, Derived> derived_;
};

// --- the graph ------------------------------------------------------------------------------

class AudioGraph {
 public:
  AudioGraph(GraphBuilder& g, const AudioConfig& c, const WeightSource& source, RandomWeights* random)
      : g_(g), c_(c), source_(source), random_(random) {}

  // Layers shared by every family (layers.hpp).
  std::string weight(const std::string& name, std::vector<std::int64_t> shape, Init init, bool transpose = false) {
    return l_.weight(name, std::move(shape), init, transpose);
  }
  std::string ints(const Ints& v) { return g_.const_i64(v); }
  std::string scalar(std::int64_t v) { return g_.const_i64({v}, true); }
  std::string transpose(const std::string& x, Ints perm) { return g_.node("Transpose", {x}, {{"perm", perm}}); }

  std::string linear(const std::string& x, const std::string& base, std::int64_t in, std::int64_t out,
                     bool bias = true) {
    return l_.linear(x, base, in, out, bias);
  }
  std::string layer_norm(const std::string& x, const std::string& base, std::int64_t size, double eps) {
    return l_.layer_norm(x, base, size, eps);
  }
  Result<std::string> activation(const std::string& x, std::string_view name, std::string_view field) {
    return l_.activation(x, name, field);
  }

  // Finds the backbone prefix by where `probe` (a name relative to the backbone) is.
  Result<void> pick_prefix(const AudioFamily& f, AudioHead head, std::string_view probe) {
    if (random_) {
      // A random export names tensors as the class would save them.
      prefix_ = f.kind == AudioKind::whisper
                    ? std::string(head == AudioHead::encoder && model_class_is_generation_ ? "model.encoder." : "encoder.")
                    : (head == AudioHead::base ? "" : std::string(f.base_prefixes.front()));
      return {};
    }
    for (auto p : f.base_prefixes)
      if (source_.find(std::string(p) + std::string(probe))) {
        prefix_ = p;
        return {};
      }
    return failure("tensor '" + std::string(f.base_prefixes.front()) + std::string(probe) +
                   "' is missing from the checkpoint's weights");
  }

  // Which spelling of the weight-normalized positional convolution the checkpoint has.
  Result<void> weight_norm_names(const std::string& conv, const std::vector<std::int64_t>& shape) {
    if (random_ || source_.find(conv + ".weight")) return {};  // a plain weight (weight norm removed)
    WeightNormSource::Derived d{conv + ".weight_g", conv + ".weight_v", shape};
    if (!source_.find(d.v)) {
      d = {conv + ".parametrizations.weight.original0", conv + ".parametrizations.weight.original1", shape};
      if (!source_.find(d.v))
        return failure("tensor '" + conv + ".weight_v' (or '" + conv +
                       ".parametrizations.weight.original1', or a plain '" + conv +
                       ".weight') is missing from the checkpoint's weights");
    }
    if (!source_.find(d.g)) return failure("tensor '" + d.g + "' is missing from the checkpoint's weights");
    derived_[conv + ".weight"] = d;
    return {};
  }

  // --- Wav2Vec2 / HuBERT / WavLM ---

  // input_values [B, T] -> conv features [B, T', C]
  Result<std::string> feature_encoder(const std::string& input_values) {
    auto x = g_.node("Unsqueeze", {input_values, ints({1})});
    std::int64_t in_ch = 1;
    for (std::size_t i = 0; i < c_.conv_dim.size(); ++i) {
      const auto base = prefix_ + "feature_extractor.conv_layers." + std::to_string(i);
      const auto out_ch = c_.conv_dim[i];
      std::vector<std::string> ins = {x, weight(base + ".conv.weight", {out_ch, in_ch, c_.conv_kernel[i]}, Init::normal)};
      if (c_.conv_bias) ins.push_back(weight(base + ".conv.bias", {out_ch}, Init::zeros));
      x = g_.node("Conv", ins, {{"kernel_shape", Ints{c_.conv_kernel[i]}}, {"strides", Ints{c_.conv_stride[i]}}}, "conv");
      if (c_.layer_norm_convs) {
        // LayerNorm over channels (default eps 1e-5).
        x = transpose(layer_norm(transpose(x, {0, 2, 1}), base + ".layer_norm", out_ch, 1e-5), {0, 2, 1});
      } else if (i == 0) {
        // GroupNorm with one channel per group: InstanceNormalization (eps 1e-5).
        x = g_.node("InstanceNormalization",
                    {x, weight(base + ".layer_norm.weight", {out_ch}, Init::ones),
                     weight(base + ".layer_norm.bias", {out_ch}, Init::zeros)},
                    {{"epsilon", 1e-5f}}, "groupnorm");
      }
      MODELKIT_TRY(x, activation(x, c_.feat_act, "feat_extract_activation"));
      in_ch = out_ch;
    }
    return transpose(x, {0, 2, 1});
  }

  // The per-frame mask [B, T'] (bool) from the sample mask [B, T]: the lengths go through each
  // convolution (floor((L - k) / s) + 1), and a frame is real when it lies before its row's length
  // (a length below 1 wraps as transformers' index -1 does, to a full row).
  std::string frame_mask(const std::string& mask, const std::string& frames) {
    auto len = g_.reduce("ReduceSum", mask, {1}, false);  // [B] int64
    for (std::size_t i = 0; i < c_.conv_dim.size(); ++i) {
      auto num = g_.node("Sub", {len, scalar(c_.conv_kernel[i])});
      auto s = scalar(c_.conv_stride[i]);
      // floor division: Mod with fmod=0 takes the divisor's sign, so num - mod is an exact multiple.
      auto exact = g_.node("Sub", {num, g_.node("Mod", {num, s})});
      len = g_.node("Add", {g_.node("Div", {exact, s}), scalar(1)});
    }
    auto last = g_.node("Sub", {len, scalar(1)});
    auto wrapped = g_.node("Where", {g_.node("Less", {last, scalar(0)}), g_.node("Add", {last, frames}), last});
    auto length = g_.node("Add", {wrapped, scalar(1)});
    auto range = g_.node("Range", {scalar(0), frames, scalar(1)});
    return g_.node("Less", {g_.node("Unsqueeze", {range, ints({0})}), g_.node("Unsqueeze", {length, ints({1})})}, {},
                   "frame_mask");
  }

  Result<std::string> positional_conv(const std::string& x) {
    const auto H = c_.hidden, K = c_.pos_kernel;
    const auto base = prefix_ + "encoder.pos_conv_embed.conv";
    std::vector<std::int64_t> shape = {H, H / c_.pos_groups, K};
    MODELKIT_TRY_VOID(weight_norm_names(base, shape));
    auto y = g_.node("Conv",
                     {transpose(x, {0, 2, 1}), weight(base + ".weight", shape, Init::normal),
                      weight(base + ".bias", {H}, Init::zeros)},
                     {{"kernel_shape", Ints{K}}, {"pads", Ints{K / 2, K / 2}}, {"group", c_.pos_groups}}, "pos_conv");
    if (K % 2 == 0) {
      // An even kernel gives one frame too many: the last is dropped.
      y = g_.node("Slice", {y, ints({0}), ints({-1}), ints({2})});
    }
    MODELKIT_TRY(y, activation(y, c_.feat_act, "feat_extract_activation"));
    return transpose(y, {0, 2, 1});
  }

  // WavLM's relative position bias [1, heads, T', T'] (layer 0's embedding, shared by every layer):
  // bucket of k - q as transformers computes it in float32, from a table over |k - q| up to where
  // the buckets saturate.
  std::string wavlm_position_bias(const std::string& frames) {
    const std::int64_t half = c_.buckets / 2, max_exact = half / 2;
    Ints table;
    constexpr std::int64_t kMaxTable = std::int64_t{1} << 22;
    for (std::int64_t n = 0; n < kMaxTable; ++n) {
      std::int64_t b = n;
      if (n >= max_exact) {
        float large = std::log(static_cast<float>(n) / static_cast<float>(max_exact)) /
                      static_cast<float>(std::log(static_cast<double>(c_.max_distance) / static_cast<double>(max_exact)));
        large *= static_cast<float>(half - max_exact);
        b = std::min(static_cast<std::int64_t>(static_cast<float>(max_exact) + large), half - 1);
      }
      table.push_back(b);
      if (b == half - 1 && n >= max_exact) break;  // constant from here on
    }
    const auto limit = static_cast<std::int64_t>(table.size()) - 1;
    auto range = g_.node("Range", {scalar(0), frames, scalar(1)});
    auto rel = g_.node("Sub", {g_.node("Unsqueeze", {range, ints({0})}), g_.node("Unsqueeze", {range, ints({1})})});
    auto sign = g_.node("Mul", {g_.node("Cast", {g_.node("Greater", {rel, scalar(0)})}, {{"to", std::int64_t{kInt64}}}),
                                scalar(half)});
    auto magnitude = g_.node("Min", {g_.node("Abs", {rel}), scalar(limit)});
    auto bucket = g_.node("Add", {sign, g_.node("Gather", {g_.const_i64(table), magnitude})}, {}, "relative_buckets");
    auto embed = weight(prefix_ + "encoder.layers.0.attention.rel_attn_embed.weight", {c_.buckets, c_.heads}, Init::normal);
    auto values = g_.node("Gather", {embed, bucket});  // [T', T', heads]
    return g_.node("Unsqueeze", {transpose(values, {2, 0, 1}), ints({0})}, {}, "position_bias");
  }

  // WavLM's gate [B, heads, T', 1] from the attention's input x [B, T', H].
  std::string wavlm_gate(const std::string& x, const std::string& base) {
    const auto hd = c_.hidden / c_.heads;
    auto per_head = transpose(g_.node("Reshape", {x, ints({0, 0, c_.heads, hd})}), {0, 2, 1, 3});
    auto proj = linear(per_head, base + ".gru_rel_pos_linear", hd, 8);  // [B, heads, T', 8]
    auto pairs = g_.reduce("ReduceSum", g_.node("Reshape", {proj, ints({0, 0, 0, 2, 4})}), {-1}, false);
    auto gates = g_.node_n("Split", {g_.node("Sigmoid", {pairs}), ints({1, 1})}, 2, {{"axis", std::int64_t{-1}}});
    auto konst = weight(base + ".gru_rel_pos_const", {1, c_.heads, 1, 1}, Init::ones);
    auto inner = g_.node("Sub", {g_.node("Mul", {gates[1], konst}), g_.const_f32(1.0f)});
    return g_.node("Add", {g_.node("Mul", {gates[0], inner}), g_.const_f32(2.0f)}, {}, "gate");
  }

  // Multi-head self-attention over x [B, S, H] with names q_proj/k_proj/v_proj/out_proj under
  // `base`; `bias` terms ([.., S, S], broadcast) are added to the scores.
  std::string attention(const std::string& x, const std::string& base, const std::vector<std::string>& biases,
                        bool key_bias = true) {
    const auto H = c_.hidden, hd = H / c_.heads;
    auto split = ints({0, 0, c_.heads, hd});
    auto q = transpose(g_.node("Reshape", {linear(x, base + ".q_proj", H, H), split}), {0, 2, 1, 3});
    auto k = transpose(g_.node("Reshape", {linear(x, base + ".k_proj", H, H, key_bias), split}), {0, 2, 3, 1});
    auto v = transpose(g_.node("Reshape", {linear(x, base + ".v_proj", H, H), split}), {0, 2, 1, 3});
    q = g_.node("Mul", {q, g_.const_f32(static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd))))});
    auto scores = g_.node("MatMul", {q, k}, {}, "scores");
    for (const auto& b : biases) scores = g_.node("Add", {scores, b});
    auto probs = g_.node("Softmax", {scores}, {{"axis", std::int64_t{-1}}}, "softmax");
    auto ctx = transpose(g_.node("MatMul", {probs, v}), {0, 2, 1, 3});
    ctx = g_.node("Reshape", {ctx, ints({0, 0, H})});
    return linear(ctx, base + ".out_proj", H, H);
  }

  Result<std::string> feed_forward(const std::string& x, const std::string& base) {
    auto inter = linear(x, base + ".intermediate_dense", c_.hidden, c_.intermediate);
    MODELKIT_TRY(inter, activation(inter, c_.hidden_act, "hidden_act"));
    return linear(inter, base + ".output_dense", c_.intermediate, c_.hidden);
  }

  // input_values [B, T] (+ mask [B, T] or "") -> hidden [B, T', H]; `frames_mask` gets the
  // per-frame mask when there is a sample mask.
  Result<std::string> wav2vec2_backbone(AudioKind kind, const std::string& input_values, const std::string& mask,
                                        std::string* frames_mask_out) {
    const auto H = c_.hidden;
    const auto C = c_.conv_dim.back();
    MODELKIT_TRY(auto features, feature_encoder(input_values));
    auto frames = g_.node("Gather", {g_.node("Shape", {features}), scalar(1)}, {}, "frames");
    auto x = features;
    if (kind != AudioKind::hubert || c_.feat_proj_layer_norm)
      x = layer_norm(x, prefix_ + "feature_projection.layer_norm", C, c_.eps);
    x = linear(x, prefix_ + "feature_projection.projection", C, H);

    std::vector<std::string> mask_bias;
    if (!mask.empty()) {
      auto fm = frame_mask(mask, frames);
      *frames_mask_out = fm;
      auto m = g_.node("Cast", {fm}, {{"to", std::int64_t{kFloat}}});
      x = g_.node("Mul", {x, g_.node("Unsqueeze", {m, ints({2})})}, {}, "zero_padding");
      auto inv = g_.node("Sub", {g_.const_f32(1.0f), m});
      mask_bias.push_back(g_.node("Unsqueeze", {g_.node("Mul", {inv, g_.const_f32(std::numeric_limits<float>::lowest())}),
                                                ints({1, 2})},
                                  {}, "mask_bias"));
    }
    MODELKIT_TRY(auto positions, positional_conv(x));
    x = g_.node("Add", {x, positions});
    if (!c_.stable) x = layer_norm(x, prefix_ + "encoder.layer_norm", H, c_.eps);
    std::string position_bias;
    if (kind == AudioKind::wavlm) position_bias = wavlm_position_bias(frames);
    for (std::int64_t i = 0; i < c_.layers; ++i) {
      const auto L = prefix_ + "encoder.layers." + std::to_string(i);
      auto attn_in = c_.stable ? layer_norm(x, L + ".layer_norm", H, c_.eps) : x;
      auto biases = mask_bias;
      if (kind == AudioKind::wavlm)
        biases.insert(biases.begin(), g_.node("Mul", {wavlm_gate(attn_in, L + ".attention"), position_bias}));
      auto y = g_.node("Add", {x, attention(attn_in, L + ".attention", biases)});
      if (c_.stable) {
        MODELKIT_TRY(auto ff, feed_forward(layer_norm(y, L + ".final_layer_norm", H, c_.eps), L + ".feed_forward"));
        x = g_.node("Add", {y, ff});
      } else {
        y = layer_norm(y, L + ".layer_norm", H, c_.eps);
        MODELKIT_TRY(auto ff, feed_forward(y, L + ".feed_forward"));
        x = layer_norm(g_.node("Add", {y, ff}), L + ".final_layer_norm", H, c_.eps);
      }
    }
    if (c_.stable) x = layer_norm(x, prefix_ + "encoder.layer_norm", H, c_.eps);
    return x;
  }

  // input_features [B, mels, 2P] -> [B, P, d_model]
  Result<std::string> whisper_encoder(const std::string& features) {
    const auto D = c_.hidden;
    auto x = g_.node("Conv", {features, weight(prefix_ + "conv1.weight", {D, c_.mel_bins, 3}, Init::normal),
                              weight(prefix_ + "conv1.bias", {D}, Init::zeros)},
                     {{"kernel_shape", Ints{3}}, {"pads", Ints{1, 1}}}, "conv1");
    MODELKIT_TRY(x, activation(x, "gelu", "conv activation"));
    x = g_.node("Conv", {x, weight(prefix_ + "conv2.weight", {D, D, 3}, Init::normal),
                         weight(prefix_ + "conv2.bias", {D}, Init::zeros)},
                {{"kernel_shape", Ints{3}}, {"pads", Ints{1, 1}}, {"strides", Ints{2}}}, "conv2");
    MODELKIT_TRY(x, activation(x, "gelu", "conv activation"));
    x = g_.node("Add", {transpose(x, {0, 2, 1}),
                        weight(prefix_ + "embed_positions.weight", {c_.source_positions, D}, Init::normal)});
    for (std::int64_t i = 0; i < c_.layers; ++i) {
      const auto L = prefix_ + "layers." + std::to_string(i);
      auto a = attention(layer_norm(x, L + ".self_attn_layer_norm", D, 1e-5), L + ".self_attn", {}, false);
      x = g_.node("Add", {x, a});
      auto h = linear(layer_norm(x, L + ".final_layer_norm", D, 1e-5), L + ".fc1", D, c_.intermediate);
      MODELKIT_TRY(h, activation(h, c_.hidden_act, "activation_function"));
      x = g_.node("Add", {x, linear(h, L + ".fc2", c_.intermediate, D)});
    }
    return layer_norm(x, prefix_ + "layer_norm", D, 1e-5);
  }

  bool model_class_is_generation_ = false;
  std::map<std::string, WeightNormSource::Derived> derived_;

 private:
  GraphBuilder& g_;
  const AudioConfig& c_;
  const WeightSource& source_;
  RandomWeights* random_;
  Layers l_{g_, random_};

 public:
  std::string prefix_;
};

// Whether the processor returns an attention mask (preprocessor_config.json's
// return_attention_mask, read as the calibration reads it); without the file, no mask (optimum's I/O).
Result<bool> processor_returns_mask(const ResolvedModel& model) {
  if (!model.checkpoint) return false;
  const auto path = model.checkpoint->source.folder / "preprocessor_config.json";
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  MODELKIT_TRY_CTX(auto config, audio::FeatureExtractorConfig::from_file(path), "preprocessor_config.json");
  return config.kind == audio::ExtractorKind::wav2vec2 && config.return_attention_mask;
}

}  // namespace

bool is_audio_model_type(std::string_view model_type) { return find_audio_family(model_type) != nullptr; }

std::vector<std::string> audio_export_classes() {
  std::vector<std::string> out;
  for (const auto& f : audio_families())
    for (const auto& [suffix, head] : f.classes) out.push_back(std::string(f.class_prefix) + std::string(suffix));
  return out;
}

Result<AudioPlan> audio_plan(const ResolvedModel& model) {
  const auto type = model.facts.config.model_type.value_or("");
  const AudioFamily* f = find_audio_family(type);
  if (!f) return failure("model_type " + quoted(type) + " is not an audio family of the exporter");
  MODELKIT_TRY_VOID(require_resolved(model.resolution, model.reference()));
  AudioPlan plan;
  plan.family = f;
  plan.model_type = type;
  plan.model_class = model.resolution.model_class.value_or("");
  bool found = false;
  for (const auto& [suffix, head] : f->classes)
    if (plan.model_class == std::string(f->class_prefix) + std::string(suffix)) {
      plan.head = head;
      found = true;
    }
  if (!found)
    return failure("model class " + quoted(plan.model_class.empty() ? "(none)" : plan.model_class) + " (task " +
                   quoted(model.resolution.task.value_or("?")) + ") is not supported by the exporter (" +
                   std::string(f->model_type) + " exports " + class_list(*f) +
                   "); export the ONNX model another way and pass it with --onnx FILE");
  plan.head_name = std::string(head_name(plan.head));
  if (plan.head == AudioHead::encoder) {
    plan.component = "encoder";
    plan.model_file = "encoder_model.onnx";
  } else {
    MODELKIT_TRY(plan.attention_mask, processor_returns_mask(model));
  }
  return plan;
}

Result<std::unique_ptr<WeightSource>> build_audio_graph(GraphBuilder& g, const AudioPlan& plan,
                                                        std::string_view config_json,
                                                        std::unique_ptr<WeightSource> source, RandomWeights* random) {
  const AudioFamily& f = *plan.family;
  MODELKIT_TRY(auto c, read_audio_config(config_json, f, plan.head));
  AudioGraph a(g, c, *source, random);
  a.model_class_is_generation_ = plan.model_class.ends_with("ForConditionalGeneration");

  if (f.kind == AudioKind::whisper) {
    MODELKIT_TRY_VOID(a.pick_prefix(f, plan.head, "conv1.weight"));
    auto features = g.input("input_features", kFloat, {"batch_size", c.mel_bins, 2 * c.source_positions});
    MODELKIT_TRY(auto hidden, a.whisper_encoder(features));
    g.output(hidden, "last_hidden_state", kFloat, {"batch_size", c.source_positions, c.hidden});
    return source;
  }

  MODELKIT_TRY_VOID(a.pick_prefix(f, plan.head, "feature_extractor.conv_layers.0.conv.weight"));
  auto values = g.input("input_values", kFloat, {"batch_size", "sequence_length"});
  std::string mask, frames_mask;
  if (plan.attention_mask) mask = g.input("attention_mask", kInt64, {"batch_size", "sequence_length"});
  MODELKIT_TRY(auto hidden, a.wav2vec2_backbone(f.kind, values, mask, &frames_mask));
  const Dims frame_dims = {"batch_size", "frames"};
  switch (plan.head) {
    case AudioHead::base:
      g.output(hidden, "last_hidden_state", kFloat, {"batch_size", "frames", c.hidden});
      break;
    case AudioHead::ctc:
      g.output(a.linear(hidden, "lm_head", c.hidden, c.vocab), "logits", kFloat, {"batch_size", "frames", c.vocab});
      break;
    case AudioHead::frame_classification:
      g.output(a.linear(hidden, "classifier", c.hidden, c.num_labels), "logits", kFloat,
               {"batch_size", "frames", c.num_labels});
      break;
    case AudioHead::sequence_classification: {
      auto projected = a.linear(hidden, "projector", c.hidden, c.proj_size);
      std::string pooled;
      if (frames_mask.empty()) {
        pooled = g.reduce("ReduceMean", projected, {1}, false);
      } else {
        auto m = g.node("Unsqueeze", {g.node("Cast", {frames_mask}, {{"to", std::int64_t{kFloat}}}), a.ints({2})});
        auto sum = g.reduce("ReduceSum", g.node("Mul", {projected, m}), {1}, false);
        pooled = g.node("Div", {sum, g.reduce("ReduceSum", m, {1}, false)}, {}, "mean_pool");
      }
      g.output(a.linear(pooled, "classifier", c.proj_size, c.num_labels), "logits", kFloat,
               {"batch_size", c.num_labels});
      break;
    }
    case AudioHead::encoder: return failure("unreachable audio head");
  }
  if (a.derived_.empty()) return source;
  return std::unique_ptr<WeightSource>(std::make_unique<WeightNormSource>(std::move(source), std::move(a.derived_)));
}

}  // namespace modelkit::exporter
