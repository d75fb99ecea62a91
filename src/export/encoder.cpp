// BERT-style text encoders (bert, roberta, xlm-roberta, camembert, electra): embeddings, post-norm
// transformer layers, and the heads, built from standard ONNX ops at opset 17+. The arithmetic
// follows transformers' eager (dropout-free) inference path.
#include "export/families.hpp"

#include "util/file.hpp"
#include "util/json_read.hpp"

#include <cmath>
#include <limits>

namespace modelkit::exporter {
namespace {

constexpr auto kInt64 = ::onnx::TensorProto_DataType_INT64;
constexpr auto kFloat = ::onnx::TensorProto_DataType_FLOAT;

// --- the family tables ---------------------------------------------------------------------

// BERT's layout, which RoBERTa, XLM-RoBERTa, CamemBERT and ELECTRA share for the backbone.
constexpr FamilyNames kBertNames = {
    .word_embeddings = "{p}embeddings.word_embeddings",
    .position_embeddings = "{p}embeddings.position_embeddings",
    .token_type_embeddings = "{p}embeddings.token_type_embeddings",
    .embeddings_norm = "{p}embeddings.LayerNorm",
    .embeddings_project = "",
    .relative_attention_bias = "",
    .query = "{p}encoder.layer.{i}.attention.self.query",
    .key = "{p}encoder.layer.{i}.attention.self.key",
    .value = "{p}encoder.layer.{i}.attention.self.value",
    .attention_out = "{p}encoder.layer.{i}.attention.output.dense",
    .attention_norm = "{p}encoder.layer.{i}.attention.output.LayerNorm",
    .intermediate = "{p}encoder.layer.{i}.intermediate.dense",
    .output = "{p}encoder.layer.{i}.output.dense",
    .output_norm = "{p}encoder.layer.{i}.output.LayerNorm",
    .pooler = "{p}pooler.dense",
    .classifier = "classifier",
    .classifier_dense = "",
    .classifier_out = "",
    .qa_outputs = "qa_outputs",
    .mlm_dense = "cls.predictions.transform.dense",
    .mlm_norm = "cls.predictions.transform.LayerNorm",
    .mlm_decoder = "cls.predictions.decoder",
    .mlm_bias = "cls.predictions.bias",
    .mlm_bias_fallback = "cls.predictions.decoder.bias",
    .mc_classifier = "classifier",
};

constexpr FamilyNames kRobertaNames = [] {
  FamilyNames n = kBertNames;
  n.classifier_dense = "classifier.dense";
  n.classifier_out = "classifier.out_proj";
  n.mlm_dense = "lm_head.dense";
  n.mlm_norm = "lm_head.layer_norm";
  n.mlm_decoder = "lm_head.decoder";
  n.mlm_bias = "lm_head.bias";
  n.mlm_bias_fallback = "lm_head.decoder.bias";
  return n;
}();

constexpr FamilyNames kElectraNames = [] {
  FamilyNames n = kBertNames;
  n.embeddings_project = "{p}embeddings_project";
  n.pooler = "";
  n.classifier_dense = "classifier.dense";
  n.classifier_out = "classifier.out_proj";
  n.mlm_dense = "generator_predictions.dense";
  n.mlm_norm = "generator_predictions.LayerNorm";
  n.mlm_decoder = "generator_lm_head";
  n.mlm_bias = "generator_lm_head.bias";
  n.mlm_bias_fallback = "";
  return n;
}();

constexpr FamilyNames kDistilBertNames = {
    .word_embeddings = "{p}embeddings.word_embeddings",
    .position_embeddings = "{p}embeddings.position_embeddings",
    .token_type_embeddings = "",
    .embeddings_norm = "{p}embeddings.LayerNorm",
    .embeddings_project = "",
    .relative_attention_bias = "",
    .query = "{p}transformer.layer.{i}.attention.q_lin",
    .key = "{p}transformer.layer.{i}.attention.k_lin",
    .value = "{p}transformer.layer.{i}.attention.v_lin",
    .attention_out = "{p}transformer.layer.{i}.attention.out_lin",
    .attention_norm = "{p}transformer.layer.{i}.sa_layer_norm",
    .intermediate = "{p}transformer.layer.{i}.ffn.lin1",
    .output = "{p}transformer.layer.{i}.ffn.lin2",
    .output_norm = "{p}transformer.layer.{i}.output_layer_norm",
    .pooler = "",
    .classifier = "classifier",
    .classifier_dense = "pre_classifier",
    .classifier_out = "classifier",
    .qa_outputs = "qa_outputs",
    .mlm_dense = "vocab_transform",
    .mlm_norm = "vocab_layer_norm",
    .mlm_decoder = "vocab_projector",
    .mlm_bias = "vocab_projector.bias",
    .mlm_bias_fallback = "",
    .mc_classifier = "classifier",
};

constexpr FamilyNames kAlbertNames = {
    .word_embeddings = "{p}embeddings.word_embeddings",
    .position_embeddings = "{p}embeddings.position_embeddings",
    .token_type_embeddings = "{p}embeddings.token_type_embeddings",
    .embeddings_norm = "{p}embeddings.LayerNorm",
    .embeddings_project = "{p}encoder.embedding_hidden_mapping_in",
    .relative_attention_bias = "",
    .query = "{p}encoder.albert_layer_groups.{g}.albert_layers.{j}.attention.query",
    .key = "{p}encoder.albert_layer_groups.{g}.albert_layers.{j}.attention.key",
    .value = "{p}encoder.albert_layer_groups.{g}.albert_layers.{j}.attention.value",
    .attention_out = "{p}encoder.albert_layer_groups.{g}.albert_layers.{j}.attention.dense",
    .attention_norm = "{p}encoder.albert_layer_groups.{g}.albert_layers.{j}.attention.LayerNorm",
    .intermediate = "{p}encoder.albert_layer_groups.{g}.albert_layers.{j}.ffn",
    .output = "{p}encoder.albert_layer_groups.{g}.albert_layers.{j}.ffn_output",
    .output_norm = "{p}encoder.albert_layer_groups.{g}.albert_layers.{j}.full_layer_layer_norm",
    .pooler = "{p}pooler",
    .classifier = "classifier",
    .classifier_dense = "",
    .classifier_out = "",
    .qa_outputs = "qa_outputs",
    .mlm_dense = "predictions.dense",
    .mlm_norm = "predictions.LayerNorm",
    .mlm_decoder = "predictions.decoder",
    .mlm_bias = "predictions.bias",
    .mlm_bias_fallback = "predictions.decoder.bias",
    .mc_classifier = "classifier",
};

constexpr FamilyNames kMpnetNames = [] {
  FamilyNames n = kRobertaNames;
  n.token_type_embeddings = "";
  n.relative_attention_bias = "{p}encoder.relative_attention_bias";
  n.query = "{p}encoder.layer.{i}.attention.attn.q";
  n.key = "{p}encoder.layer.{i}.attention.attn.k";
  n.value = "{p}encoder.layer.{i}.attention.attn.v";
  n.attention_out = "{p}encoder.layer.{i}.attention.attn.o";
  n.attention_norm = "{p}encoder.layer.{i}.attention.LayerNorm";
  return n;
}();

const std::vector<Head> kAllHeads = {Head::base, Head::sequence_classification, Head::token_classification,
                                     Head::question_answering, Head::masked_lm, Head::multiple_choice};

}  // namespace

const std::vector<Family>& families() {
  static const std::vector<Family> table = [] {
    std::vector<Family> t;
    t.push_back({.model_type = "bert", .class_prefix = "Bert", .base_prefixes = {"bert.", ""},
                 .token_type_input = true, .positions = Positions::absolute, .classifier = Classifier::pooler_linear,
                 .mlm_uses_hidden_act = true, .pooler_in_base = true, .pooler_in_multiple_choice = true,
                 .heads = kAllHeads, .names = &kBertNames});
    Family roberta{.model_type = "roberta", .class_prefix = "Roberta", .base_prefixes = {"roberta.", ""},
                   .token_type_input = false, .positions = Positions::padding_offset,
                   .classifier = Classifier::dense_tanh_proj, .mlm_uses_hidden_act = false, .pooler_in_base = true,
                   .pooler_in_multiple_choice = true, .heads = kAllHeads, .names = &kRobertaNames};
    t.push_back(roberta);
    roberta.model_type = "xlm-roberta";
    roberta.class_prefix = "XLMRoberta";
    t.push_back(roberta);
    roberta.model_type = "camembert";
    roberta.class_prefix = "Camembert";
    t.push_back(roberta);
    t.push_back({.model_type = "electra", .class_prefix = "Electra", .base_prefixes = {"electra.", ""},
                 .token_type_input = true, .positions = Positions::absolute,
                 .classifier = Classifier::dense_gelu_proj, .mlm_uses_hidden_act = false, .pooler_in_base = false,
                 .pooler_in_multiple_choice = false,
                 .heads = {Head::base, Head::sequence_classification, Head::token_classification,
                           Head::question_answering, Head::masked_lm},
                 .names = &kElectraNames, .mlm_at_embedding_size = true});
    t.push_back({.model_type = "distilbert", .class_prefix = "DistilBert", .base_prefixes = {"distilbert.", ""},
                 .token_type_input = false, .positions = Positions::absolute,
                 .classifier = Classifier::pre_classifier_relu, .mlm_uses_hidden_act = true, .pooler_in_base = false,
                 .pooler_in_multiple_choice = false, .heads = kAllHeads, .names = &kDistilBertNames,
                 .keys = {.hidden_size = "dim", .layers = "n_layers", .heads = "n_heads",
                          .intermediate_size = "hidden_dim", .hidden_act = "activation"}});
    t.push_back({.model_type = "albert", .class_prefix = "Albert", .base_prefixes = {"albert.", ""},
                 .token_type_input = true, .positions = Positions::absolute, .classifier = Classifier::pooler_linear,
                 .mlm_uses_hidden_act = true, .pooler_in_base = true, .pooler_in_multiple_choice = true,
                 .heads = kAllHeads, .names = &kAlbertNames, .always_project = true, .mlm_at_embedding_size = true,
                 .layer_groups = true});
    t.push_back({.model_type = "mpnet", .class_prefix = "MPNet", .base_prefixes = {"mpnet.", ""},
                 .token_type_input = false, .positions = Positions::padding_offset,
                 .classifier = Classifier::dense_tanh_proj, .mlm_uses_hidden_act = false, .pooler_in_base = true,
                 .pooler_in_multiple_choice = true, .heads = kAllHeads, .names = &kMpnetNames, .padding_idx = 1});
    return t;
  }();
  return table;
}

const Family* find_family(std::string_view model_type) {
  for (const auto& f : families())
    if (f.model_type == model_type) return &f;
  return nullptr;
}

std::string Pooling::describe() const {
  std::string out;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!out.empty()) out += "+";
    out += name;
  };
  add(cls, "cls");
  add(max, "max");
  add(mean, "mean");
  add(mean_sqrt_len, "mean_sqrt_len");
  return out;
}

namespace {

// --- config.json ---------------------------------------------------------------------------

template <class T>
Result<T> ctx_result(Result<T> r) {
  if (!r) return r.take_error().with_context("config.json");
  return r;
}

struct EncoderConfig {
  std::int64_t vocab_size = 0, hidden_size = 0, layers = 0, heads = 0, intermediate_size = 0;
  std::int64_t max_positions = 0, type_vocab_size = 0, embedding_size = 0, padding_idx = 0, num_labels = 2;
  std::int64_t hidden_groups = 1, inner_group_layers = 1;  // ALBERT
  std::int64_t relative_buckets = 32;                       // MPNet
  double layer_norm_eps = 1e-12;
  std::string hidden_act = "gelu";
  bool tie_word_embeddings = true;
};

Result<EncoderConfig> read_config(std::string_view text, const Family& family) {
  simdjson::dom::parser parser;
  MODELKIT_TRY_CTX(auto doc, util::parse_json(parser, text), "config.json");
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return failure("config.json: must be a JSON object");
  auto ctx = [](Error e) { return e.with_context("config.json"); };
  auto integer = [&](std::string_view key, std::optional<std::int64_t> fallback, std::int64_t min,
                     std::int64_t max) -> Result<std::int64_t> {
    auto v = util::optional_int(root, key);
    if (!v) return ctx(v.take_error());
    if (!*v) {
      if (fallback) return *fallback;
      return failure("config.json: missing integer field '" + std::string(key) + "'");
    }
    if (**v < min || **v > max)
      return failure("config.json: field '" + std::string(key) + "' is " + std::to_string(**v) + ", expected " +
                     std::to_string(min) + ".." + std::to_string(max));
    return **v;
  };
  EncoderConfig c;
  constexpr std::int64_t kBig = std::int64_t{1} << 24;
  MODELKIT_TRY(c.vocab_size, integer("vocab_size", std::nullopt, 1, kBig));
  const auto& k = family.keys;
  MODELKIT_TRY(c.hidden_size, integer(k.hidden_size, std::nullopt, 1, 1 << 16));
  MODELKIT_TRY(c.layers, integer(k.layers, std::nullopt, 1, 1024));
  MODELKIT_TRY(c.heads, integer(k.heads, std::nullopt, 1, 4096));
  MODELKIT_TRY(c.intermediate_size, integer(k.intermediate_size, std::nullopt, 1, 1 << 20));
  MODELKIT_TRY(c.max_positions, integer("max_position_embeddings", 512, 1, 1 << 20));
  if (!family.names->token_type_embeddings.empty()) {
    MODELKIT_TRY(c.type_vocab_size, integer("type_vocab_size", 2, 0, 1 << 16));
  }
  // ALBERT's embeddings default to 128 wide; ELECTRA's to hidden_size.
  MODELKIT_TRY(c.embedding_size, integer("embedding_size", family.always_project ? 128 : c.hidden_size, 1, 1 << 16));
  if (family.padding_idx) {
    c.padding_idx = *family.padding_idx;
  } else {
    MODELKIT_TRY(c.padding_idx, integer("pad_token_id", family.positions == Positions::padding_offset ? 1 : 0, 0, kBig));
  }
  if (family.layer_groups) {
    MODELKIT_TRY(c.hidden_groups, integer("num_hidden_groups", 1, 1, c.layers));
    MODELKIT_TRY(c.inner_group_layers, integer("inner_group_num", 1, 1, 1024));
    if (c.layers % c.hidden_groups != 0)
      return failure("config.json: num_hidden_layers " + std::to_string(c.layers) +
                     " is not a multiple of num_hidden_groups " + std::to_string(c.hidden_groups));
  }
  if (!family.names->relative_attention_bias.empty()) {
    MODELKIT_TRY(c.relative_buckets, integer("relative_attention_num_buckets", 32, 32, 1 << 16));
  }
  if (c.hidden_size % c.heads != 0)
    return failure("config.json: " + std::string(k.hidden_size) + " " + std::to_string(c.hidden_size) +
                   " is not a multiple of " + std::string(k.heads) + " " + std::to_string(c.heads));
  // num_labels: id2label's size when given (transformers derives it so), else num_labels, else 2.
  simdjson::dom::object id2label;
  if (root["id2label"].get_object().get(id2label) == simdjson::SUCCESS) {
    c.num_labels = static_cast<std::int64_t>(id2label.size());
  } else {
    MODELKIT_TRY(c.num_labels, integer("num_labels", 2, 1, kBig));
  }
  if (c.num_labels < 1) return failure("config.json: id2label is empty");
  MODELKIT_TRY(auto eps, ctx_result(util::optional_number(root, "layer_norm_eps")));
  if (eps) c.layer_norm_eps = *eps;
  MODELKIT_TRY(auto act, ctx_result(util::optional_string(root, k.hidden_act)));
  if (act) c.hidden_act = *act;
  else if (family.model_type == "albert") c.hidden_act = "gelu_new";  // AlbertConfig's default
  MODELKIT_TRY(auto tie, ctx_result(util::optional_bool(root, "tie_word_embeddings")));
  if (tie) c.tie_word_embeddings = *tie;
  MODELKIT_TRY(auto pet, ctx_result(util::optional_string(root, "position_embedding_type")));
  if (pet && *pet != "absolute")
    return failure("config.json: position_embedding_type '" + std::string(*pet) +
                   "' is not supported by the exporter (only 'absolute')");
  if (family.positions == Positions::padding_offset && c.padding_idx + 1 >= c.max_positions)
    return failure("config.json: pad_token_id " + std::to_string(c.padding_idx) +
                   " leaves no positions in max_position_embeddings " + std::to_string(c.max_positions));
  return c;
}

// --- graph pieces --------------------------------------------------------------------------

std::string expand(std::string_view pattern, std::string_view prefix, std::int64_t layer = -1,
                   std::int64_t group = -1, std::int64_t inner = -1) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern.substr(i, 3) == "{p}") {
      out += prefix;
      i += 2;
    } else if (pattern.substr(i, 3) == "{i}") {
      out += std::to_string(layer);
      i += 2;
    } else if (pattern.substr(i, 3) == "{g}") {
      out += std::to_string(group);
      i += 2;
    } else if (pattern.substr(i, 3) == "{j}") {
      out += std::to_string(inner);
      i += 2;
    } else {
      out += pattern[i];
    }
  }
  return out;
}

class EncoderGraph {
 public:
  EncoderGraph(GraphBuilder& g, const EncoderConfig& c, const Family& f, const WeightSource& source,
               RandomWeights* random)
      : g_(g), c_(c), f_(f), n_(*f.names), source_(source), random_(random) {}

  // A checkpoint tensor as an initializer; registered with a random source.
  std::string weight(const std::string& name, std::vector<std::int64_t> shape, Init init, bool transpose = false) {
    if (random_) random_->expect(name, shape);
    return g_.weight(name, std::move(shape), init, transpose);
  }

  // y = x W^T + b for a torch Linear stored as `<base>.weight` [out, in] and `<base>.bias` [out].
  std::string linear(const std::string& x, const std::string& base, std::int64_t in, std::int64_t out,
                     bool bias = true) {
    auto w = weight(base + ".weight", {out, in}, Init::normal, true);
    auto y = g_.node("MatMul", {x, w}, {}, "matmul");
    if (!bias) return y;
    return g_.node("Add", {y, weight(base + ".bias", {out}, Init::zeros)}, {}, "add");
  }

  std::string layer_norm(const std::string& x, const std::string& base, std::int64_t size) {
    auto scale = weight(base + ".weight", {size}, Init::ones);
    auto shift = weight(base + ".bias", {size}, Init::zeros);
    return g_.node("LayerNormalization", {x, scale, shift},
                   {{"axis", std::int64_t{-1}}, {"epsilon", static_cast<float>(c_.layer_norm_eps)}}, "layernorm");
  }

  Result<std::string> activation(const std::string& x, std::string_view name) {
    if (name == "gelu") {  // exact: 0.5 x (1 + erf(x / sqrt 2))
      auto e = g_.node("Erf", {g_.node("Div", {x, g_.const_f32(static_cast<float>(std::sqrt(2.0)))})});
      auto one_plus = g_.node("Add", {e, g_.const_f32(1.0f)});
      return g_.node("Mul", {g_.node("Mul", {x, one_plus}), g_.const_f32(0.5f)}, {}, "gelu");
    }
    if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") {
      // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      auto cube = g_.node("Mul", {g_.node("Mul", {x, x}), x});
      auto inner = g_.node("Add", {x, g_.node("Mul", {cube, g_.const_f32(0.044715f)})});
      auto t = g_.node("Tanh", {g_.node("Mul", {inner, g_.const_f32(static_cast<float>(std::sqrt(2.0 / M_PI)))})});
      auto one_plus = g_.node("Add", {t, g_.const_f32(1.0f)});
      return g_.node("Mul", {g_.node("Mul", {x, one_plus}), g_.const_f32(0.5f)}, {}, "gelu_tanh");
    }
    if (name == "relu") return g_.node("Relu", {x});
    if (name == "silu" || name == "swish") return g_.node("Mul", {x, g_.node("Sigmoid", {x})}, {}, "silu");
    if (name == "quick_gelu")
      return g_.node("Mul", {x, g_.node("Sigmoid", {g_.node("Mul", {x, g_.const_f32(1.702f)})})}, {}, "quick_gelu");
    if (name == "tanh") return g_.node("Tanh", {x});
    return failure("config.json: hidden_act '" + std::string(name) +
                   "' is not supported by the exporter (gelu, gelu_new, gelu_pytorch_tanh, relu, silu, swish, "
                   "quick_gelu, tanh)");
  }

  // Finds the backbone prefix ("bert." or "") by where the word embeddings are.
  Result<void> pick_prefix() {
    if (random_) {
      // A random export names tensors as the class would save them.
      prefix_ = head_ == Head::base ? "" : std::string(f_.base_prefixes.front());
      return {};
    }
    for (auto p : f_.base_prefixes)
      if (source_.find(expand(n_.word_embeddings, p) + ".weight")) {
        prefix_ = p;
        return {};
      }
    return failure("tensor '" + expand(n_.word_embeddings, f_.base_prefixes.front()) +
                   ".weight' is missing from the checkpoint's weights");
  }

  // Backbone: ids [N, S], mask [N, S], token types [N, S] or "" -> hidden [N, S, H].
  Result<std::string> backbone(const std::string& ids, const std::string& mask, const std::string& types) {
    const auto H = c_.hidden_size, E = c_.embedding_size;
    auto word = weight(expand(n_.word_embeddings, prefix_) + ".weight", {c_.vocab_size, E}, Init::normal);
    word_embeddings_ = word;
    auto x = g_.node("Gather", {word, ids}, {}, "word_embeddings");
    auto pos_table = weight(expand(n_.position_embeddings, prefix_) + ".weight", {c_.max_positions, E}, Init::normal);
    if (f_.positions == Positions::absolute) {
      // rows 0..S-1 of the table, broadcast over the batch
      auto seq = g_.node("Slice", {g_.node("Shape", {ids}), g_.const_i64({1}), g_.const_i64({2})});
      auto rows = g_.node("Slice", {pos_table, g_.const_i64({0}), seq, g_.const_i64({0})}, {}, "positions");
      x = g_.node("Add", {x, rows});
    } else {
      // padding_idx + cumsum(not pad) * not pad
      auto pad = g_.const_i64({c_.padding_idx}, true);
      auto not_pad = g_.node("Cast", {g_.node("Not", {g_.node("Equal", {ids, pad})})}, {{"to", std::int64_t{kInt64}}});
      auto count = g_.node("CumSum", {not_pad, g_.const_i64({1}, true)});
      auto ids_pos = g_.node("Add", {g_.node("Mul", {count, not_pad}), pad}, {}, "position_ids");
      x = g_.node("Add", {x, g_.node("Gather", {pos_table, ids_pos})});
    }
    if (!n_.token_type_embeddings.empty() && c_.type_vocab_size > 0) {
      auto type_table =
          weight(expand(n_.token_type_embeddings, prefix_) + ".weight", {c_.type_vocab_size, E}, Init::normal);
      if (!types.empty()) {
        x = g_.node("Add", {x, g_.node("Gather", {type_table, types})});
      } else {
        // No token_type_ids input: transformers uses type 0 everywhere.
        auto row0 = g_.node("Gather", {type_table, g_.const_i64({0}, true)});
        x = g_.node("Add", {x, row0});
      }
    }
    x = layer_norm(x, expand(n_.embeddings_norm, prefix_), E);
    if (!n_.embeddings_project.empty() && (E != H || f_.always_project))
      x = linear(x, expand(n_.embeddings_project, prefix_), E, H);

    // Extended attention mask: (1 - mask) * float32 lowest, shaped [N, 1, 1, S].
    auto m = g_.node("Cast", {mask}, {{"to", std::int64_t{kFloat}}});
    auto inv = g_.node("Sub", {g_.const_f32(1.0f), m});
    auto bias = g_.node("Mul", {inv, g_.const_f32(std::numeric_limits<float>::lowest())});
    auto mask_bias = g_.node("Unsqueeze", {bias, g_.const_i64({1, 2})}, {}, "mask_bias");

    std::string position_bias;
    if (!n_.relative_attention_bias.empty()) position_bias = relative_position_bias(ids);
    for (std::int64_t i = 0; i < c_.layers; ++i) {
      if (!f_.layer_groups) {
        MODELKIT_TRY(x, layer(x, mask_bias, position_bias, i, -1, -1));
        continue;
      }
      // ALBERT: layer i runs every inner layer of its group, with the group's shared weights.
      const std::int64_t group = i / (c_.layers / c_.hidden_groups);
      for (std::int64_t j = 0; j < c_.inner_group_layers; ++j) {
        MODELKIT_TRY(x, layer(x, mask_bias, position_bias, -1, group, j));
      }
    }
    return x;
  }

  // One post-norm transformer layer (names expanded with the layer index, or ALBERT's group/inner).
  Result<std::string> layer(const std::string& x, const std::string& mask_bias, const std::string& position_bias,
                            std::int64_t i, std::int64_t group, std::int64_t inner) {
    const auto H = c_.hidden_size, heads = c_.heads, head_dim = H / c_.heads;
    auto name = [&](std::string_view pattern) { return expand(pattern, prefix_, i, group, inner); };
    auto split_shape = g_.const_i64({0, 0, heads, head_dim});
    auto q = g_.node("Reshape", {linear(x, name(n_.query), H, H), split_shape});
    auto k = g_.node("Reshape", {linear(x, name(n_.key), H, H), split_shape});
    auto v = g_.node("Reshape", {linear(x, name(n_.value), H, H), split_shape});
    q = g_.node("Transpose", {q}, {{"perm", std::vector<std::int64_t>{0, 2, 1, 3}}});
    k = g_.node("Transpose", {k}, {{"perm", std::vector<std::int64_t>{0, 2, 3, 1}}});
    v = g_.node("Transpose", {v}, {{"perm", std::vector<std::int64_t>{0, 2, 1, 3}}});
    auto scale = g_.const_f32(static_cast<float>(std::sqrt(static_cast<double>(head_dim))));
    auto scores = g_.node("Div", {g_.node("MatMul", {q, k}), scale}, {}, "scores");
    if (!position_bias.empty()) scores = g_.node("Add", {scores, position_bias});
    scores = g_.node("Add", {scores, mask_bias});
    auto probs = g_.node("Softmax", {scores}, {{"axis", std::int64_t{-1}}}, "softmax");
    auto ctx = g_.node("MatMul", {probs, v});
    ctx = g_.node("Transpose", {ctx}, {{"perm", std::vector<std::int64_t>{0, 2, 1, 3}}});
    ctx = g_.node("Reshape", {ctx, g_.const_i64({0, 0, H})});
    auto attn = linear(ctx, name(n_.attention_out), H, H);
    auto y = layer_norm(g_.node("Add", {attn, x}), name(n_.attention_norm), H);
    auto inter = linear(y, name(n_.intermediate), H, c_.intermediate_size);
    MODELKIT_TRY(inter, activation(inter, c_.hidden_act));
    auto out = linear(inter, name(n_.output), c_.intermediate_size, H);
    return layer_norm(g_.node("Add", {out, y}), name(n_.output_norm), H);
  }

  // MPNet's relative position bias [1, heads, S, S]: the bucket of each distance k - q comes from a
  // table computed here (T5-style buckets: 16 per direction, exact below 8, logarithmic up to 128)
  // in float32 as transformers computes it, then looks up the learned [buckets, heads] embedding.
  std::string relative_position_bias(const std::string& ids) {
    const std::int64_t P = c_.max_positions;
    constexpr std::int64_t kBuckets = 32, kMaxDistance = 128;  // transformers passes 32 whatever the config says
    std::vector<std::int64_t> table;
    for (std::int64_t d = -(P - 1); d <= P - 1; ++d) {  // d = memory - context position
      std::int64_t n = -d, half = kBuckets / 2, bucket = n < 0 ? half : 0;
      n = n < 0 ? -n : n;
      const std::int64_t max_exact = half / 2;
      if (n < max_exact) {
        bucket += n;
      } else {
        float ratio = std::log(static_cast<float>(n) / static_cast<float>(max_exact)) /
                      static_cast<float>(std::log(static_cast<double>(kMaxDistance) / static_cast<double>(max_exact)));
        auto large = max_exact + static_cast<std::int64_t>(ratio * static_cast<float>(half - max_exact));
        bucket += std::min(large, half - 1);
      }
      table.push_back(bucket);
    }
    auto weight_name = expand(n_.relative_attention_bias, prefix_) + ".weight";
    auto bias_table = weight(weight_name, {c_.relative_buckets, c_.heads}, Init::normal);
    auto seq = g_.node("Gather", {g_.node("Shape", {ids}), g_.const_i64({1}, true)});
    auto range = g_.node("Range", {g_.const_i64({0}, true), seq, g_.const_i64({1}, true)});
    auto rel = g_.node("Sub", {g_.node("Unsqueeze", {range, g_.const_i64({0})}),
                               g_.node("Unsqueeze", {range, g_.const_i64({1})})});
    auto index = g_.node("Add", {rel, g_.const_i64({P - 1}, true)});
    auto buckets = g_.node("Gather", {g_.const_i64(table), index}, {}, "relative_buckets");
    auto values = g_.node("Gather", {bias_table, buckets});  // [S, S, heads]
    auto per_head = g_.node("Transpose", {values}, {{"perm", std::vector<std::int64_t>{2, 0, 1}}});
    return g_.node("Unsqueeze", {per_head, g_.const_i64({0})}, {}, "position_bias");
  }

  std::string first_token(const std::string& hidden) {
    return g_.node("Gather", {hidden, g_.const_i64({0}, true)}, {{"axis", std::int64_t{1}}}, "first_token");
  }

  std::string pooler(const std::string& hidden) {
    return g_.node("Tanh", {linear(first_token(hidden), expand(n_.pooler, prefix_), c_.hidden_size, c_.hidden_size)},
                   {}, "pooler");
  }

  Result<std::string> masked_lm(const std::string& hidden) {
    const auto H = c_.hidden_size;
    // ELECTRA's generator projects to embedding_size; BERT and RoBERTa stay at hidden_size.
    const auto E = f_.mlm_at_embedding_size ? c_.embedding_size : H;
    auto t = linear(hidden, std::string(n_.mlm_dense), H, E);
    MODELKIT_TRY(t, activation(t, f_.mlm_uses_hidden_act ? std::string_view(c_.hidden_act) : "gelu"));
    t = layer_norm(t, std::string(n_.mlm_norm), E);
    std::string decoder;
    auto untied = std::string(n_.mlm_decoder) + ".weight";
    // tie_word_embeddings false asks for the checkpoint's own decoder: missing, it is an error, not the tied one.
    if (!c_.tie_word_embeddings) {
      decoder = weight(untied, {c_.vocab_size, E}, Init::normal, true);
    } else {
      // Tied to the word embeddings: the same initializer, transposed at run time.
      decoder = g_.node("Transpose", {word_embeddings_}, {{"perm", std::vector<std::int64_t>{1, 0}}}, "decoder_tied");
    }
    auto logits = g_.node("MatMul", {t, decoder}, {}, "mlm_logits");
    std::string bias_name = std::string(n_.mlm_bias) + ".bias";
    if (n_.mlm_bias.ends_with(".bias")) bias_name = std::string(n_.mlm_bias);
    if (!random_ && !source_.find(bias_name) && !n_.mlm_bias_fallback.empty() &&
        source_.find(std::string(n_.mlm_bias_fallback)))
      bias_name = std::string(n_.mlm_bias_fallback);
    return g_.node("Add", {logits, weight(bias_name, {c_.vocab_size}, Init::zeros)});
  }

  Result<std::string> sequence_classifier(const std::string& hidden, std::int64_t labels) {
    const auto H = c_.hidden_size;
    switch (f_.classifier) {
      case Classifier::pooler_linear: return linear(pooler(hidden), std::string(n_.classifier), H, labels);
      case Classifier::dense_tanh_proj: {
        auto x = g_.node("Tanh", {linear(first_token(hidden), std::string(n_.classifier_dense), H, H)});
        return linear(x, std::string(n_.classifier_out), H, labels);
      }
      case Classifier::pre_classifier_relu: {
        auto x = g_.node("Relu", {linear(first_token(hidden), std::string(n_.classifier_dense), H, H)});
        return linear(x, std::string(n_.classifier_out), H, labels);
      }
      case Classifier::dense_gelu_proj: {
        auto x = linear(first_token(hidden), std::string(n_.classifier_dense), H, H);
        MODELKIT_TRY(x, activation(x, "gelu"));
        return linear(x, std::string(n_.classifier_out), H, labels);
      }
    }
    return failure("unknown classifier");
  }

  Head head_ = Head::base;

  GraphBuilder& g_;
  const EncoderConfig& c_;
  const Family& f_;
  const FamilyNames& n_;
  const WeightSource& source_;
  RandomWeights* random_;
  std::string prefix_;
  std::string word_embeddings_;
};

using Dims = std::vector<std::variant<std::int64_t, std::string>>;

}  // namespace

Result<double> initializer_range(std::string_view config_json) {
  simdjson::dom::parser parser;
  MODELKIT_TRY_CTX(auto doc, util::parse_json(parser, config_json), "config.json");
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return failure("config.json: must be a JSON object");
  MODELKIT_TRY(auto r, ctx_result(util::optional_number(root, "initializer_range")));
  if (r && (!(*r >= 0.0) || *r > 10.0))
    return failure("config.json: initializer_range " + std::to_string(*r) + " is not in 0..10");
  return r.value_or(0.02);
}

Result<void> build_encoder(GraphBuilder& g, const GraphPlan& plan, std::string_view config_json,
                           const WeightSource& source, RandomWeights* random) {
  const Family& f = *plan.family;
  MODELKIT_TRY(auto c, read_config(config_json, f));
  EncoderGraph e(g, c, f, source, random);
  e.head_ = plan.sentence_pooling ? Head::base : plan.head;
  MODELKIT_TRY_VOID(e.pick_prefix());

  const bool mc = plan.head == Head::multiple_choice && !plan.sentence_pooling;
  Dims in_dims = mc ? Dims{"batch_size", "num_choices", "sequence_length"} : Dims{"batch_size", "sequence_length"};
  auto ids = g.input("input_ids", kInt64, in_dims);
  auto mask = g.input("attention_mask", kInt64, in_dims);
  std::string types;
  if (f.token_type_input && !plan.sentence_pooling) types = g.input("token_type_ids", kInt64, in_dims);

  if (mc) {
    // [B, C, S] -> [B*C, S]; logits [B*C, 1] -> [B, C].
    auto shape = g.node("Shape", {ids});
    auto flat = g.node("Concat", {g.const_i64({-1}), g.node("Slice", {shape, g.const_i64({2}), g.const_i64({3})})},
                       {{"axis", std::int64_t{0}}});
    auto r_ids = g.node("Reshape", {ids, flat});
    auto r_mask = g.node("Reshape", {mask, flat});
    auto r_types = types.empty() ? types : g.node("Reshape", {types, flat});
    MODELKIT_TRY(auto hidden, e.backbone(r_ids, r_mask, r_types));
    // DistilBERT reads token 0 through pre_classifier + relu; the others through their pooler.
    std::string pooled = f.pooler_in_multiple_choice
                             ? e.pooler(hidden)
                             : g.node("Relu", {e.linear(e.first_token(hidden), std::string(f.names->classifier_dense),
                                                        c.hidden_size, c.hidden_size)});
    auto logits = e.linear(pooled, std::string(f.names->mc_classifier), c.hidden_size, 1);
    auto choices = g.node("Slice", {shape, g.const_i64({1}), g.const_i64({2})});
    auto out_shape = g.node("Concat", {g.const_i64({-1}), choices}, {{"axis", std::int64_t{0}}});
    g.output(g.node("Reshape", {logits, out_shape}), "logits", kFloat, {"batch_size", "num_choices"});
    return {};
  }

  MODELKIT_TRY(auto hidden, e.backbone(ids, mask, types));
  if (plan.sentence_pooling) {
    const Pooling& p = *plan.sentence_pooling;
    g.output(hidden, "token_embeddings", kFloat, {"batch_size", "sequence_length", c.hidden_size});
    auto m = g.node("Unsqueeze", {g.node("Cast", {mask}, {{"to", std::int64_t{kFloat}}}), g.const_i64({2})});
    std::vector<std::string> parts;
    if (p.cls) parts.push_back(e.first_token(hidden));
    if (p.max) {
      // Padding positions are set to -1e9 before the max, as sentence-transformers does.
      auto masked = g.node("Where", {g.node("Cast", {m}, {{"to", std::int64_t{::onnx::TensorProto_DataType_BOOL}}}),
                                     hidden, g.const_f32(-1e9f)});
      parts.push_back(g.reduce("ReduceMax", masked, {1}, false));
    }
    if (p.mean || p.mean_sqrt_len) {
      auto sum = g.reduce("ReduceSum", g.node("Mul", {hidden, m}), {1}, false);
      auto count = g.node("Max", {g.reduce("ReduceSum", m, {1}, false), g.const_f32(1e-9f)});
      if (p.mean) parts.push_back(g.node("Div", {sum, count}, {}, "mean_pool"));
      if (p.mean_sqrt_len) parts.push_back(g.node("Div", {sum, g.node("Sqrt", {count})}, {}, "mean_sqrt_len_pool"));
    }
    std::string sentence = parts.size() == 1 ? parts[0] : g.node("Concat", parts, {{"axis", std::int64_t{1}}});
    if (plan.normalize) {
      // x / max(||x||_2, 1e-12)
      auto norm = g.reduce("ReduceL2", sentence, {1}, true);
      sentence = g.node("Div", {sentence, g.node("Max", {norm, g.const_f32(1e-12f)})}, {}, "normalize");
    }
    auto width = c.hidden_size * static_cast<std::int64_t>(parts.size());
    g.output(sentence, "sentence_embedding", kFloat, {"batch_size", width});
    return {};
  }

  const Dims seq_dims = {"batch_size", "sequence_length"};
  switch (plan.head) {
    case Head::base:
      g.output(hidden, "last_hidden_state", kFloat, {"batch_size", "sequence_length", c.hidden_size});
      if (f.pooler_in_base) g.output(e.pooler(hidden), "pooler_output", kFloat, {"batch_size", c.hidden_size});
      return {};
    case Head::sequence_classification: {
      MODELKIT_TRY(auto logits, e.sequence_classifier(hidden, c.num_labels));
      g.output(logits, "logits", kFloat, {"batch_size", c.num_labels});
      return {};
    }
    case Head::token_classification:
      g.output(e.linear(hidden, std::string(f.names->classifier), c.hidden_size, c.num_labels), "logits", kFloat,
               {"batch_size", "sequence_length", c.num_labels});
      return {};
    case Head::question_answering: {
      auto both = e.linear(hidden, std::string(f.names->qa_outputs), c.hidden_size, 2);
      auto halves = g.node_n("Split", {both, g.const_i64({1, 1})}, 2, {{"axis", std::int64_t{-1}}});
      auto squeeze = g.const_i64({-1});
      g.output(g.node("Squeeze", {halves[0], squeeze}), "start_logits", kFloat, seq_dims);
      g.output(g.node("Squeeze", {halves[1], squeeze}), "end_logits", kFloat, seq_dims);
      return {};
    }
    case Head::masked_lm: {
      MODELKIT_TRY(auto logits, e.masked_lm(hidden));
      g.output(logits, "logits", kFloat, {"batch_size", "sequence_length", c.vocab_size});
      return {};
    }
    case Head::multiple_choice: break;
  }
  return failure("unreachable head");
}

Result<GraphPlan> sentence_transformers_plan(GraphPlan plan, const std::filesystem::path& folder) {
  auto modules_path = folder / "modules.json";
  MODELKIT_TRY(auto text, util::read_file(modules_path, 1u << 20));
  simdjson::dom::parser parser;
  MODELKIT_TRY_CTX(auto doc, util::parse_json(parser, text), "modules.json");
  simdjson::dom::array modules;
  if (doc.get_array().get(modules) != simdjson::SUCCESS) return failure("modules.json: must be a list of modules");
  std::optional<std::string> pooling_dir;
  std::size_t index = 0;
  for (auto m : modules) {
    std::string_view type, path;
    if (m["type"].get_string().get(type) != simdjson::SUCCESS)
      return failure("modules.json: module " + std::to_string(index) + " has no string field 'type'");
    static_cast<void>(m["path"].get_string().get(path) == simdjson::SUCCESS);
    auto kind = type.substr(type.rfind('.') == std::string_view::npos ? 0 : type.rfind('.') + 1);
    if (kind == "Transformer") {
      if (index != 0) return failure("modules.json: the Transformer module must come first");
    } else if (kind == "Pooling") {
      if (path.empty() || path.find("..") != std::string_view::npos || path.front() == '/')
        return failure("modules.json: Pooling path '" + std::string(path) + "' is not a folder inside the checkpoint");
      pooling_dir = std::string(path);
    } else if (kind == "Normalize") {
      plan.normalize = true;
    } else {
      return failure("modules.json: module '" + std::string(type) +
                     "' is not supported by the exporter (Transformer, Pooling, Normalize)");
    }
    ++index;
  }
  if (!pooling_dir) return failure("modules.json: no Pooling module");
  auto pooling_path = folder / *pooling_dir / "config.json";
  MODELKIT_TRY(auto ptext, util::read_file(pooling_path, 1u << 20));
  simdjson::dom::parser pparser;
  auto ctx = *pooling_dir + "/config.json";
  MODELKIT_TRY_CTX(auto pdoc, util::parse_json(pparser, ptext), ctx);
  simdjson::dom::object root;
  if (pdoc.get_object().get(root) != simdjson::SUCCESS) return failure(ctx + ": must be a JSON object");
  Pooling p;
  auto flag = [&](std::string_view key, bool& into) -> Result<void> {
    auto v = util::optional_bool(root, key);
    if (!v) return v.take_error().with_context(ctx);
    into = v->value_or(false);
    return {};
  };
  MODELKIT_TRY_VOID(flag("pooling_mode_cls_token", p.cls));
  MODELKIT_TRY_VOID(flag("pooling_mode_mean_tokens", p.mean));
  MODELKIT_TRY_VOID(flag("pooling_mode_max_tokens", p.max));
  MODELKIT_TRY_VOID(flag("pooling_mode_mean_sqrt_len_tokens", p.mean_sqrt_len));
  for (const char* other : {"pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
    bool on = false;
    MODELKIT_TRY_VOID(flag(other, on));
    if (on)
      return failure(ctx + ": " + other + " is not supported by the exporter (cls, mean, max, mean_sqrt_len)");
  }
  if (!p.cls && !p.mean && !p.max && !p.mean_sqrt_len) return failure(ctx + ": no pooling mode is set");
  plan.sentence_pooling = p;
  return plan;
}

}  // namespace modelkit::exporter
