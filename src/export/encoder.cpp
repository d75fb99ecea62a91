// BERT-style text encoders (bert, roberta, xlm-roberta, camembert, electra): embeddings, post-norm
// transformer layers, and the heads, built from standard ONNX ops at opset 17+. The arithmetic
// follows transformers' eager (dropout-free) inference path.
#include "export/layers.hpp"
#include "export/config_reader.hpp"
#include "export/families.hpp"

#include "util/file.hpp"
#include "util/json_read.hpp"

#include <cctype>
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

// DeBERTa-v2/v3 (BERT's layout with its own attention names; the relative-position tensors are
// named in kDebertaExtra). The MLM head is BERT's `cls.predictions` unless config.json says
// legacy: false (then `lm_predictions.lm_head`, kDebertaLmNames).
constexpr FamilyNames kDebertaNames = [] {
  FamilyNames n = kBertNames;
  n.embeddings_project = "{p}embeddings.embed_proj";
  n.query = "{p}encoder.layer.{i}.attention.self.query_proj";
  n.key = "{p}encoder.layer.{i}.attention.self.key_proj";
  n.value = "{p}encoder.layer.{i}.attention.self.value_proj";
  n.pooler = "pooler.dense";
  return n;
}();
constexpr FamilyNames kDebertaLmNames = [] {
  FamilyNames n = kDebertaNames;
  n.mlm_dense = "lm_predictions.lm_head.dense";
  n.mlm_norm = "lm_predictions.lm_head.LayerNorm";
  n.mlm_decoder = "";
  n.mlm_bias = "lm_predictions.lm_head.bias";
  n.mlm_bias_fallback = "";
  return n;
}();
struct DebertaExtraNames {
  std::string_view rel_embeddings = "{p}encoder.rel_embeddings", rel_norm = "{p}encoder.LayerNorm",
                   pos_key = "{p}encoder.layer.{i}.attention.self.pos_key_proj",
                   pos_query = "{p}encoder.layer.{i}.attention.self.pos_query_proj", conv = "{p}encoder.conv.conv",
                   conv_norm = "{p}encoder.conv.LayerNorm";
};
constexpr DebertaExtraNames kDebertaExtra;

// ModernBERT: `query` is the fused Wqkv, `intermediate` the GeGLU's Wi (input and gate halves).
constexpr FamilyNames kModernBertNames = {
    .word_embeddings = "{p}embeddings.tok_embeddings",
    .position_embeddings = "",
    .token_type_embeddings = "",
    .embeddings_norm = "{p}embeddings.norm",
    .embeddings_project = "",
    .relative_attention_bias = "",
    .query = "{p}layers.{i}.attn.Wqkv",
    .key = "",
    .value = "",
    .attention_out = "{p}layers.{i}.attn.Wo",
    .attention_norm = "{p}layers.{i}.attn_norm",
    .intermediate = "{p}layers.{i}.mlp.Wi",
    .output = "{p}layers.{i}.mlp.Wo",
    .output_norm = "{p}layers.{i}.mlp_norm",
    .pooler = "{p}final_norm",  // the final norm after the last layer
    .classifier = "classifier",
    .classifier_dense = "head.dense",
    .classifier_out = "head.norm",
    .qa_outputs = "classifier",
    .mlm_dense = "head.dense",
    .mlm_norm = "head.norm",
    .mlm_decoder = "decoder",
    .mlm_bias = "decoder.bias",
    .mlm_bias_fallback = "",
    .mc_classifier = "classifier",
};

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
                 .heads = kAllHeads, .names = &kElectraNames, .mlm_at_embedding_size = true,
                 .mc_summary = "sequence_summary.summary"});
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
    t.push_back({.model_type = "deberta-v2", .class_prefix = "DebertaV2", .base_prefixes = {"deberta.", ""},
                 .token_type_input = true, .positions = Positions::absolute, .classifier = Classifier::context_pooler,
                 .mlm_uses_hidden_act = true, .pooler_in_base = false, .pooler_in_multiple_choice = false,
                 .heads = kAllHeads, .names = &kDebertaNames, .mlm_at_embedding_size = true,
                 .architecture = Architecture::disentangled, .token_type_if_vocab = true});
    t.push_back({.model_type = "modernbert", .class_prefix = "ModernBert", .base_prefixes = {"model.", ""},
                 .token_type_input = false, .positions = Positions::absolute, .classifier = Classifier::prediction_head,
                 .mlm_uses_hidden_act = false, .pooler_in_base = false, .pooler_in_multiple_choice = false,
                 .heads = kAllHeads, .names = &kModernBertNames,
                 .keys = {.hidden_size = "hidden_size", .layers = "num_hidden_layers", .heads = "num_attention_heads",
                          .intermediate_size = "intermediate_size", .hidden_act = "hidden_activation"},
                 .architecture = Architecture::modern});
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
  // DeBERTa-v2
  bool relative_attention = false, c2p = false, p2c = false, share_att_key = false, norm_rel_ebd = false;
  bool position_biased_input = true, legacy_mlm = true;
  std::int64_t position_buckets = -1, max_relative_positions = -1, conv_kernel_size = 0, conv_groups = 1;
  std::string conv_act = "tanh", pooler_hidden_act = "gelu";
  // ModernBERT
  bool norm_bias = false, attention_bias = false, mlp_bias = false, classifier_bias = false, decoder_bias = true;
  bool mean_pooling = false;
  std::string classifier_activation = "gelu";
  double global_rope_theta = 160000.0, local_rope_theta = 10000.0;
  std::int64_t local_attention = 128;
  std::vector<bool> local_layers;
  double layer_norm_eps = 1e-12;
  std::string hidden_act = "gelu";
  bool tie_word_embeddings = true;
};

Result<bool> flag(simdjson::dom::object root, std::string_view key, bool fallback) {
  MODELKIT_TRY(auto v, ctx_result(util::optional_bool(root, key)));
  return v.value_or(fallback);
}

Result<std::string> text_field(simdjson::dom::object root, std::string_view key, std::string_view fallback) {
  MODELKIT_TRY(auto v, ctx_result(util::optional_string(root, key)));
  return std::string(v.value_or(fallback));
}

// DebertaV2Config's fields, with its defaults.
Result<void> read_deberta(simdjson::dom::object root, EncoderConfig& c) {
  MODELKIT_TRY(auto eps, ctx_result(util::optional_number(root, "layer_norm_eps")));
  c.layer_norm_eps = eps.value_or(1e-7);
  MODELKIT_TRY(c.relative_attention, flag(root, "relative_attention", false));
  MODELKIT_TRY(c.share_att_key, flag(root, "share_att_key", false));
  MODELKIT_TRY(c.position_biased_input, flag(root, "position_biased_input", true));
  MODELKIT_TRY(c.legacy_mlm, flag(root, "legacy", true));
  auto small_int = [&](std::string_view key, std::int64_t fallback) -> Result<std::int64_t> {
    MODELKIT_TRY(auto v, ctx_result(util::optional_int(root, key)));
    if (v && (*v < -1 || *v > (1 << 20)))
      return failure("config.json: field '" + std::string(key) + "' is " + std::to_string(*v) + ", expected -1..1048576");
    return v.value_or(fallback);
  };
  MODELKIT_TRY(c.position_buckets, small_int("position_buckets", -1));
  MODELKIT_TRY(c.max_relative_positions, small_int("max_relative_positions", -1));
  if (c.max_relative_positions < 1) c.max_relative_positions = c.max_positions;
  MODELKIT_TRY(c.conv_kernel_size, small_int("conv_kernel_size", 0));
  MODELKIT_TRY(c.conv_groups, small_int("conv_groups", 1));
  MODELKIT_TRY(c.conv_act, text_field(root, "conv_act", "tanh"));
  MODELKIT_TRY(c.pooler_hidden_act, text_field(root, "pooler_hidden_act", "gelu"));
  // pos_att_type: a list ["p2c", "c2p"] or the older "p2c|c2p" string.
  std::vector<std::string> types;
  simdjson::dom::element e;
  if (root["pos_att_type"].get(e) == simdjson::SUCCESS && !e.is_null()) {
    std::string_view one;
    simdjson::dom::array list;
    if (e.get_string().get(one) == simdjson::SUCCESS) {
      for (std::size_t start = 0; start <= one.size();) {
        auto bar = one.find('|', start);
        auto part = one.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start);
        while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
        while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
        if (!part.empty()) types.emplace_back(part);
        if (bar == std::string_view::npos) break;
        start = bar + 1;
      }
    } else if (e.get_array().get(list) == simdjson::SUCCESS) {
      for (auto item : list) {
        if (item.get_string().get(one) != simdjson::SUCCESS)
          return failure("config.json: pos_att_type must list strings (\"c2p\", \"p2c\")");
        types.emplace_back(one);
      }
    } else {
      return failure("config.json: pos_att_type must be a list or a '|'-separated string");
    }
  }
  for (auto& t : types) {
    for (auto& ch : t) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (t == "c2p") c.c2p = true;
    else if (t == "p2c") c.p2c = true;
    else return failure("config.json: pos_att_type '" + t + "' is not supported by the exporter (c2p, p2c)");
  }
  MODELKIT_TRY(auto norm_rel, text_field(root, "norm_rel_ebd", "none"));
  c.norm_rel_ebd = norm_rel.find("layer_norm") != std::string::npos;
  if (c.conv_kernel_size > 0 && (c.conv_kernel_size % 2 == 0 || c.conv_groups < 1 || c.hidden_size % c.conv_groups != 0))
    return failure("config.json: conv_kernel_size " + std::to_string(c.conv_kernel_size) + " / conv_groups " +
                   std::to_string(c.conv_groups) + " is not supported by the exporter (an odd kernel, groups dividing hidden_size)");
  MODELKIT_TRY(auto head_size, ctx_result(util::optional_int(root, "attention_head_size")));
  if (head_size && *head_size * c.heads != c.hidden_size)
    return failure("config.json: attention_head_size " + std::to_string(*head_size) +
                   " other than hidden_size / num_attention_heads is not supported by the exporter");
  MODELKIT_TRY(auto pooler_size, ctx_result(util::optional_int(root, "pooler_hidden_size")));
  if (pooler_size && *pooler_size != c.hidden_size)
    return failure("config.json: pooler_hidden_size " + std::to_string(*pooler_size) + " must equal hidden_size " +
                   std::to_string(c.hidden_size));
  if (c.relative_attention && c.position_buckets <= 0 && c.max_relative_positions < 1)
    return failure("config.json: relative_attention needs max_relative_positions or max_position_embeddings");
  return {};
}

// ModernBertConfig's fields, with its defaults (older key names and the newer layer_types /
// rope_parameters both read).
Result<void> read_modernbert(simdjson::dom::object root, EncoderConfig& c) {
  MODELKIT_TRY(auto eps, ctx_result(util::optional_number(root, "norm_eps")));
  c.layer_norm_eps = eps.value_or(1e-5);
  MODELKIT_TRY(c.hidden_act, text_field(root, "hidden_activation", "gelu"));
  MODELKIT_TRY(c.norm_bias, flag(root, "norm_bias", false));
  MODELKIT_TRY(c.attention_bias, flag(root, "attention_bias", false));
  MODELKIT_TRY(c.mlp_bias, flag(root, "mlp_bias", false));
  MODELKIT_TRY(c.classifier_bias, flag(root, "classifier_bias", false));
  MODELKIT_TRY(c.decoder_bias, flag(root, "decoder_bias", true));
  MODELKIT_TRY(c.classifier_activation, text_field(root, "classifier_activation", "gelu"));
  MODELKIT_TRY(auto pooling, text_field(root, "classifier_pooling", "cls"));
  if (pooling != "cls" && pooling != "mean")
    return failure("config.json: classifier_pooling '" + pooling + "' is not supported by the exporter (cls, mean)");
  c.mean_pooling = pooling == "mean";
  MODELKIT_TRY(auto window, ctx_result(util::optional_int(root, "local_attention")));
  c.local_attention = window.value_or(128);
  if (c.local_attention < 0 || c.local_attention > (1 << 24))
    return failure("config.json: local_attention " + std::to_string(c.local_attention) + " is not in 0..16777216");
  MODELKIT_TRY(auto every, ctx_result(util::optional_int(root, "global_attn_every_n_layers")));
  const std::int64_t n = every.value_or(3);
  if (n < 1) return failure("config.json: global_attn_every_n_layers " + std::to_string(n) + " must be at least 1");
  MODELKIT_TRY(auto layer_types, ctx_result(util::optional_string_list(root, "layer_types")));
  for (std::int64_t i = 0; i < c.layers; ++i) c.local_layers.push_back(i % n != 0);
  if (layer_types) {
    if (static_cast<std::int64_t>(layer_types->size()) != c.layers)
      return failure("config.json: layer_types has " + std::to_string(layer_types->size()) + " entries, num_hidden_layers is " +
                     std::to_string(c.layers));
    for (std::size_t i = 0; i < layer_types->size(); ++i) {
      const auto& t = (*layer_types)[i];
      if (t != "full_attention" && t != "sliding_attention")
        return failure("config.json: layer_types entry '" + t + "' is not supported (full_attention, sliding_attention)");
      c.local_layers[i] = t == "sliding_attention";
    }
  }
  MODELKIT_TRY(auto global_theta, ctx_result(util::optional_number(root, "global_rope_theta")));
  MODELKIT_TRY(auto local_theta, ctx_result(util::optional_number(root, "local_rope_theta")));
  c.global_rope_theta = global_theta.value_or(160000.0);
  c.local_rope_theta = local_theta.value_or(10000.0);
  simdjson::dom::object rope;
  if (root["rope_parameters"].get_object().get(rope) == simdjson::SUCCESS) {
    for (auto [kind, into] : {std::pair<std::string_view, double*>{"full_attention", &c.global_rope_theta},
                              std::pair<std::string_view, double*>{"sliding_attention", &c.local_rope_theta}}) {
      simdjson::dom::object params;
      if (rope[kind].get_object().get(params) != simdjson::SUCCESS) continue;
      MODELKIT_TRY(auto type, ctx_result(util::optional_string(params, "rope_type")));
      if (type && *type != "default")
        return failure("config.json: rope_type '" + std::string(*type) + "' is not supported by the exporter (default)");
      MODELKIT_TRY(auto theta, ctx_result(util::optional_number(params, "rope_theta")));
      if (theta) *into = *theta;
    }
  }
  for (double theta : {c.global_rope_theta, c.local_rope_theta})
    if (!(theta > 1.0) || theta > 1e12)
      return failure("config.json: rope theta " + std::to_string(theta) + " is not in 1..1e12");
  if ((c.hidden_size / c.heads) % 2 != 0)
    return failure("config.json: the head size " + std::to_string(c.hidden_size / c.heads) + " must be even for RoPE");
  return {};
}

Result<EncoderConfig> read_config(std::string_view text, const Family& family) {
  simdjson::dom::parser parser;
  MODELKIT_TRY_CTX(auto doc, util::parse_json(parser, text), "config.json");
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return failure("config.json: must be a JSON object");
  ConfigReader r(root);
  EncoderConfig c;
  constexpr std::int64_t kBig = std::int64_t{1} << 24;
  MODELKIT_TRY(c.vocab_size, r.integer("vocab_size", std::nullopt, 1, kBig));
  const auto& k = family.keys;
  MODELKIT_TRY(c.hidden_size, r.integer(k.hidden_size, std::nullopt, 1, 1 << 16));
  MODELKIT_TRY(c.layers, r.integer(k.layers, std::nullopt, 1, 1024));
  MODELKIT_TRY(c.heads, r.integer(k.heads, std::nullopt, 1, 4096));
  MODELKIT_TRY(c.intermediate_size, r.integer(k.intermediate_size, std::nullopt, 1, 1 << 20));
  MODELKIT_TRY(c.max_positions, r.integer("max_position_embeddings", 512, 1, 1 << 20));
  if (!family.names->token_type_embeddings.empty()) {
    MODELKIT_TRY(c.type_vocab_size, r.integer("type_vocab_size", family.token_type_if_vocab ? 0 : 2, 0, 1 << 16));
  }
  // ALBERT's embeddings default to 128 wide; ELECTRA's to hidden_size.
  MODELKIT_TRY(c.embedding_size, r.integer("embedding_size", family.always_project ? 128 : c.hidden_size, 1, 1 << 16));
  if (family.padding_idx) {
    c.padding_idx = *family.padding_idx;
  } else {
    MODELKIT_TRY(c.padding_idx, r.integer("pad_token_id", family.positions == Positions::padding_offset ? 1 : 0, 0, kBig));
  }
  if (family.layer_groups) {
    MODELKIT_TRY(c.hidden_groups, r.integer("num_hidden_groups", 1, 1, c.layers));
    MODELKIT_TRY(c.inner_group_layers, r.integer("inner_group_num", 1, 1, 1024));
    if (c.layers % c.hidden_groups != 0)
      return failure("config.json: num_hidden_layers " + std::to_string(c.layers) +
                     " is not a multiple of num_hidden_groups " + std::to_string(c.hidden_groups));
  }
  if (!family.names->relative_attention_bias.empty()) {
    MODELKIT_TRY(c.relative_buckets, r.integer("relative_attention_num_buckets", 32, 32, 1 << 16));
  }
  if (c.hidden_size % c.heads != 0)
    return failure("config.json: " + std::string(k.hidden_size) + " " + std::to_string(c.hidden_size) +
                   " is not a multiple of " + std::string(k.heads) + " " + std::to_string(c.heads));
  MODELKIT_TRY(c.num_labels, r.num_labels());
  MODELKIT_TRY(auto eps, ctx_result(util::optional_number(root, "layer_norm_eps")));
  if (eps) c.layer_norm_eps = *eps;
  MODELKIT_TRY(auto act, ctx_result(util::optional_string(root, k.hidden_act)));
  if (act) c.hidden_act = *act;
  else if (family.model_type == "albert") c.hidden_act = "gelu_new";  // AlbertConfig's default
  MODELKIT_TRY(auto tie, ctx_result(util::optional_bool(root, "tie_word_embeddings")));
  if (tie) c.tie_word_embeddings = *tie;
  if (family.architecture == Architecture::disentangled) {
    MODELKIT_TRY_VOID(read_deberta(root, c));
  }
  if (family.architecture == Architecture::modern) {
    MODELKIT_TRY_VOID(read_modernbert(root, c));
  }
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
  EncoderGraph(GraphBuilder& g, const EncoderConfig& c, const Family& f, const FamilyNames& names,
               const WeightSource& source, RandomWeights* random)
      : g_(g), c_(c), f_(f), n_(names), source_(source), random_(random) {}

  // Layers shared by every family (layers.hpp).
  std::string weight(const std::string& name, std::vector<std::int64_t> shape, Init init, bool transpose = false) {
    return l_.weight(name, std::move(shape), init, transpose);
  }

  std::string linear(const std::string& x, const std::string& base, std::int64_t in, std::int64_t out,
                     bool bias = true) {
    return l_.linear(x, base, in, out, bias);
  }

  std::string layer_norm(const std::string& x, const std::string& base, std::int64_t size, bool bias = true) {
    return l_.layer_norm(x, base, size, c_.layer_norm_eps, bias);
  }

  Result<std::string> activation(const std::string& x, std::string_view name) { return l_.activation(x, name); }

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
    if (f_.architecture == Architecture::disentangled) return deberta_backbone(ids, mask, types);
    if (f_.architecture == Architecture::modern) return modernbert_backbone(ids, mask);
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

  // --- DeBERTa-v2/v3 ------------------------------------------------------------------------

  std::string seq_range(const std::string& ids) {
    auto seq = g_.node("Gather", {g_.node("Shape", {ids}), g_.const_i64({1}, true)});
    return g_.node("Range", {g_.const_i64({0}, true), seq, g_.const_i64({1}, true)}, {}, "positions");
  }

  // [N, S, H] -> [N, heads, S, head_dim]
  std::string split_heads(const std::string& x) {
    auto r = g_.node("Reshape", {x, g_.const_i64({0, 0, c_.heads, c_.hidden_size / c_.heads})});
    return g_.node("Transpose", {r}, {{"perm", std::vector<std::int64_t>{0, 2, 1, 3}}});
  }
  // [N, heads, S, head_dim] -> [N, S, H]
  std::string merge_heads(const std::string& x) {
    auto t = g_.node("Transpose", {x}, {{"perm", std::vector<std::int64_t>{0, 2, 1, 3}}});
    return g_.node("Reshape", {t, g_.const_i64({0, 0, c_.hidden_size})});
  }

  // transformers' make_log_bucket_position for one relative distance, in float32 as torch computes it.
  std::int64_t log_bucket(std::int64_t rel) const {
    if (c_.position_buckets <= 0) return rel;
    const std::int64_t mid = c_.position_buckets / 2;
    const std::int64_t abs_pos = (rel < mid && rel > -mid) ? mid - 1 : (rel < 0 ? -rel : rel);
    if (abs_pos <= mid) return rel;
    const float denom = std::log(static_cast<float>(static_cast<double>(c_.max_relative_positions - 1) /
                                                    static_cast<double>(mid)));
    const float ratio = std::log(static_cast<float>(abs_pos) / static_cast<float>(mid)) / denom;
    const float log_pos = std::ceil(ratio * static_cast<float>(mid - 1)) + static_cast<float>(mid);
    const auto pos = static_cast<std::int64_t>(log_pos);
    return rel < 0 ? -pos : pos;
  }

  // The c2p/p2c gather indices clamp(bucket(q - k) + span, 0, 2 span - 1) as a table over the
  // distance, from -reach to reach; past `reach` both ends of the clamp are reached, so clipping the
  // distance to the table changes nothing.
  Result<std::pair<std::vector<std::int64_t>, std::int64_t>> c2p_table(std::int64_t span) const {
    auto index = [&](std::int64_t d) { return std::clamp(log_bucket(d) + span, std::int64_t{0}, 2 * span - 1); };
    constexpr std::int64_t kMaxReach = std::int64_t{1} << 20;
    std::int64_t reach = 0;
    while (!(index(reach) == 2 * span - 1 && index(-reach) == 0)) {
      if (++reach > kMaxReach)
        return failure("config.json: position_buckets " + std::to_string(c_.position_buckets) +
                       " with max_relative_positions " + std::to_string(c_.max_relative_positions) +
                       " reaches past " + std::to_string(kMaxReach) + " positions; not supported by the exporter");
    }
    std::vector<std::int64_t> table;
    for (std::int64_t d = -reach; d <= reach; ++d) table.push_back(index(d));
    return std::pair{std::move(table), reach};
  }

  Result<std::string> deberta_backbone(const std::string& ids, const std::string& mask, const std::string& types) {
    const auto H = c_.hidden_size, E = c_.embedding_size;
    auto word = weight(expand(n_.word_embeddings, prefix_) + ".weight", {c_.vocab_size, E}, Init::normal);
    word_embeddings_ = word;
    auto x = g_.node("Gather", {word, ids}, {}, "word_embeddings");
    if (c_.position_biased_input) {
      auto pos_table = weight(expand(n_.position_embeddings, prefix_) + ".weight", {c_.max_positions, E}, Init::normal);
      auto seq = g_.node("Slice", {g_.node("Shape", {ids}), g_.const_i64({1}), g_.const_i64({2})});
      x = g_.node("Add", {x, g_.node("Slice", {pos_table, g_.const_i64({0}), seq, g_.const_i64({0})})});
    }
    if (c_.type_vocab_size > 0) {
      auto type_table =
          weight(expand(n_.token_type_embeddings, prefix_) + ".weight", {c_.type_vocab_size, E}, Init::normal);
      x = g_.node("Add", {x, g_.node("Gather", {type_table, types})});
    }
    if (E != H) x = linear(x, expand(n_.embeddings_project, prefix_), E, H, false);
    x = layer_norm(x, expand(n_.embeddings_norm, prefix_), H);
    // Padding positions are zeroed after the embeddings (and after the conv layer).
    auto m = g_.node("Cast", {mask}, {{"to", std::int64_t{kFloat}}});
    auto m3 = g_.node("Unsqueeze", {m, g_.const_i64({2})});
    x = g_.node("Mul", {x, m3}, {}, "embeddings");
    const auto embeddings = x;

    // The mask is pairwise: query i sees key j when both are tokens; a padding query's row is all
    // masked, and softmax over equal scores spreads it evenly, as transformers' masked_fill does.
    auto pair = g_.node("Mul", {g_.node("Unsqueeze", {m, g_.const_i64({1, 3})}), g_.node("Unsqueeze", {m, g_.const_i64({1, 2})})});
    auto mask_bias = g_.node("Mul", {g_.node("Sub", {g_.const_f32(1.0f), pair}),
                                     g_.const_f32(std::numeric_limits<float>::lowest())}, {}, "mask_bias");

    Relative rel;
    if (c_.relative_attention) {
      const std::int64_t span = c_.position_buckets > 0 ? c_.position_buckets : c_.max_relative_positions;
      rel.table = weight(expand(kDebertaExtra.rel_embeddings, prefix_) + ".weight", {2 * span, H}, Init::normal);
      if (c_.norm_rel_ebd) rel.table = layer_norm(rel.table, expand(kDebertaExtra.rel_norm, prefix_), H);
      MODELKIT_TRY(auto t, c2p_table(span));
      auto& [table, reach] = t;
      auto r = seq_range(ids);
      auto dist = g_.node("Sub", {g_.node("Unsqueeze", {r, g_.const_i64({1})}), g_.node("Unsqueeze", {r, g_.const_i64({0})})});
      dist = g_.node("Clip", {dist, g_.const_i64({-reach}, true), g_.const_i64({reach}, true)});
      auto lookup = g_.const_i64(table);
      // c2p: [q, k] -> index(q - k); p2c (rows are keys): [k, q] -> index(q - k).
      rel.c2p_index = g_.node("Gather", {lookup, g_.node("Add", {dist, g_.const_i64({reach}, true)})}, {}, "c2p_index");
      rel.p2c_index = g_.node("Gather", {lookup, g_.node("Sub", {g_.const_i64({reach}, true), dist})}, {}, "p2c_index");
    }
    for (std::int64_t i = 0; i < c_.layers; ++i) {
      MODELKIT_TRY(x, deberta_layer(x, mask_bias, rel, i));
      if (i == 0 && c_.conv_kernel_size > 0) {
        // ConvLayer: a 1-D convolution over the embeddings, added to the first layer's output.
        auto conv_name = expand(kDebertaExtra.conv, prefix_);
        auto w = weight(conv_name + ".weight", {H, H / c_.conv_groups, c_.conv_kernel_size}, Init::normal);
        auto b = weight(conv_name + ".bias", {H}, Init::zeros);
        const auto pad = (c_.conv_kernel_size - 1) / 2;
        auto in = g_.node("Transpose", {embeddings}, {{"perm", std::vector<std::int64_t>{0, 2, 1}}});
        auto conv = g_.node("Conv", {in, w, b}, {{"pads", std::vector<std::int64_t>{pad, pad}}, {"group", c_.conv_groups}});
        auto out = g_.node("Mul", {g_.node("Transpose", {conv}, {{"perm", std::vector<std::int64_t>{0, 2, 1}}}), m3});
        MODELKIT_TRY(out, activation(out, c_.conv_act));
        x = layer_norm(g_.node("Add", {x, out}), expand(kDebertaExtra.conv_norm, prefix_), H);
        x = g_.node("Mul", {x, m3}, {}, "conv_out");
      }
    }
    return x;
  }

  struct Relative {
    std::string table, c2p_index, p2c_index;
  };

  Result<std::string> deberta_layer(const std::string& x, const std::string& mask_bias, const Relative& rel,
                                    std::int64_t i) {
    const auto H = c_.hidden_size, head_dim = H / c_.heads;
    auto name = [&](std::string_view pattern) { return expand(pattern, prefix_, i); };
    auto q = split_heads(linear(x, name(n_.query), H, H));
    auto k = split_heads(linear(x, name(n_.key), H, H));
    auto v = split_heads(linear(x, name(n_.value), H, H));
    // Every score term is divided by sqrt(head_dim * (1 + one per relative term)).
    const int factor = 1 + (c_.c2p ? 1 : 0) + (c_.p2c ? 1 : 0);
    auto scale = g_.const_f32(std::sqrt(static_cast<float>(head_dim) * static_cast<float>(factor)));
    auto kt = g_.node("Transpose", {k}, {{"perm", std::vector<std::int64_t>{0, 1, 3, 2}}});
    auto scores = g_.node("Div", {g_.node("MatMul", {q, kt}), scale}, {}, "scores");
    if (c_.relative_attention && (c_.c2p || c_.p2c)) {
      auto full_shape = g_.node("Shape", {scores});
      // The relative embeddings through a projection -> [heads, head_dim, 2 span].
      auto project = [&](std::string_view shared, std::string_view own) {
        auto p = linear(rel.table, c_.share_att_key ? name(shared) : name(own), H, H);
        p = g_.node("Reshape", {p, g_.const_i64({0, c_.heads, head_dim})});
        return g_.node("Transpose", {p}, {{"perm", std::vector<std::int64_t>{1, 2, 0}}});
      };
      if (c_.c2p) {
        auto all = g_.node("MatMul", {q, project(n_.key, kDebertaExtra.pos_key)});  // [N, h, q, 2 span]
        auto index = g_.node("Expand", {rel.c2p_index, full_shape});
        auto c2p = g_.node("GatherElements", {all, index}, {{"axis", std::int64_t{3}}}, "c2p");
        scores = g_.node("Add", {scores, g_.node("Div", {c2p, scale})});
      }
      if (c_.p2c) {
        auto all = g_.node("MatMul", {k, project(n_.query, kDebertaExtra.pos_query)});  // [N, h, k, 2 span]
        auto index = g_.node("Expand", {rel.p2c_index, full_shape});
        auto p2c = g_.node("GatherElements", {all, index}, {{"axis", std::int64_t{3}}});
        p2c = g_.node("Transpose", {p2c}, {{"perm", std::vector<std::int64_t>{0, 1, 3, 2}}}, "p2c");
        scores = g_.node("Add", {scores, g_.node("Div", {p2c, scale})});
      }
    }
    scores = g_.node("Add", {scores, mask_bias});
    auto probs = g_.node("Softmax", {scores}, {{"axis", std::int64_t{-1}}}, "softmax");
    auto ctx = merge_heads(g_.node("MatMul", {probs, v}));
    auto attn = linear(ctx, name(n_.attention_out), H, H);
    auto y = layer_norm(g_.node("Add", {attn, x}), name(n_.attention_norm), H);
    auto inter = linear(y, name(n_.intermediate), H, c_.intermediate_size);
    MODELKIT_TRY(inter, activation(inter, c_.hidden_act));
    auto out = linear(inter, name(n_.output), c_.intermediate_size, H);
    return layer_norm(g_.node("Add", {out, y}), name(n_.output_norm), H);
  }

  // DeBERTa's ContextPooler: token 0 through pooler.dense and pooler_hidden_act.
  Result<std::string> context_pooler(const std::string& hidden) {
    auto x = linear(first_token(hidden), std::string(n_.pooler), c_.hidden_size, c_.hidden_size);
    return activation(x, c_.pooler_hidden_act);
  }

  // --- ModernBERT -----------------------------------------------------------------------------

  // cos and sin [S, head_dim] of the rotary embedding with base `theta`, in float32 as transformers
  // computes them: inv_freq = 1 / theta^(2j / d), angles = position * inv_freq, repeated twice.
  std::pair<std::string, std::string> rope(const std::string& positions, double theta) {
    const std::int64_t d = c_.hidden_size / c_.heads;
    std::vector<float> inv_freq;
    for (std::int64_t j = 0; j < d; j += 2)
      inv_freq.push_back(1.0f / std::pow(static_cast<float>(theta), static_cast<float>(j) / static_cast<float>(d)));
    auto angles = g_.node("Mul", {g_.node("Unsqueeze", {positions, g_.const_i64({1})}), g_.const_f32s(inv_freq)});
    auto both = g_.node("Concat", {angles, angles}, {{"axis", std::int64_t{-1}}});
    return {g_.node("Cos", {both}, {}, "rope_cos"), g_.node("Sin", {both}, {}, "rope_sin")};
  }

  std::string apply_rope(const std::string& x, const std::pair<std::string, std::string>& cs) {
    const std::int64_t half = c_.hidden_size / c_.heads / 2;
    auto halves = g_.node_n("Split", {x, g_.const_i64({half, half})}, 2, {{"axis", std::int64_t{-1}}});
    auto rotated = g_.node("Concat", {g_.node("Neg", {halves[1]}), halves[0]}, {{"axis", std::int64_t{-1}}});
    return g_.node("Add", {g_.node("Mul", {x, cs.first}), g_.node("Mul", {rotated, cs.second})}, {}, "rope");
  }

  Result<std::string> modernbert_backbone(const std::string& ids, const std::string& mask) {
    const auto H = c_.hidden_size, I = c_.intermediate_size, head_dim = H / c_.heads;
    auto word = weight(expand(n_.word_embeddings, prefix_) + ".weight", {c_.vocab_size, H}, Init::normal);
    word_embeddings_ = word;
    auto x = layer_norm(g_.node("Gather", {word, ids}, {}, "word_embeddings"), expand(n_.embeddings_norm, prefix_), H,
                        c_.norm_bias);
    // Global layers mask padding keys; local layers also keys farther than local_attention / 2.
    auto m = g_.node("Cast", {mask}, {{"to", std::int64_t{kFloat}}});
    const auto lowest = g_.const_f32(std::numeric_limits<float>::lowest());
    auto global_bias = g_.node("Unsqueeze", {g_.node("Mul", {g_.node("Sub", {g_.const_f32(1.0f), m}), lowest}),
                                             g_.const_i64({1, 2})}, {}, "global_mask");
    auto r = seq_range(ids);
    auto dist = g_.node("Abs", {g_.node("Sub", {g_.node("Unsqueeze", {r, g_.const_i64({1})}),
                                                g_.node("Unsqueeze", {r, g_.const_i64({0})})})});
    auto window = g_.node("LessOrEqual", {dist, g_.const_i64({c_.local_attention / 2}, true)});
    auto local_bias = g_.node("Where", {window, global_bias, lowest}, {}, "local_mask");
    auto positions = g_.node("Cast", {r}, {{"to", std::int64_t{kFloat}}});
    auto global_rope = rope(positions, c_.global_rope_theta);
    auto local_rope = rope(positions, c_.local_rope_theta);
    auto scale = g_.const_f32(static_cast<float>(std::pow(static_cast<double>(head_dim), -0.5)));

    for (std::int64_t i = 0; i < c_.layers; ++i) {
      auto name = [&](std::string_view pattern) { return expand(pattern, prefix_, i); };
      const bool local = c_.local_layers[static_cast<std::size_t>(i)];
      auto h = i == 0 ? x : layer_norm(x, name(n_.attention_norm), H, c_.norm_bias);  // layer 0: Identity
      auto qkv = linear(h, name(n_.query), H, 3 * H, c_.attention_bias);
      qkv = g_.node("Reshape", {qkv, g_.const_i64({0, 0, 3, c_.heads, head_dim})});
      qkv = g_.node("Transpose", {qkv}, {{"perm", std::vector<std::int64_t>{2, 0, 3, 1, 4}}});  // [3, N, h, S, d]
      auto part = [&](std::int64_t j) { return g_.node("Gather", {qkv, g_.const_i64({j}, true)}); };
      const auto& cs = local ? local_rope : global_rope;
      auto q = apply_rope(part(0), cs);
      auto k = apply_rope(part(1), cs);
      auto kt = g_.node("Transpose", {k}, {{"perm", std::vector<std::int64_t>{0, 1, 3, 2}}});
      auto scores = g_.node("Mul", {g_.node("MatMul", {q, kt}), scale}, {}, "scores");
      scores = g_.node("Add", {scores, local ? local_bias : global_bias});
      auto probs = g_.node("Softmax", {scores}, {{"axis", std::int64_t{-1}}}, "softmax");
      auto attn = linear(merge_heads(g_.node("MatMul", {probs, part(2)})), name(n_.attention_out), H, H,
                         c_.attention_bias);
      x = g_.node("Add", {x, attn});
      // GeGLU: act(first half) * second half of Wi.
      auto wi = linear(layer_norm(x, name(n_.output_norm), H, c_.norm_bias), name(n_.intermediate), H, 2 * I,
                       c_.mlp_bias);
      auto halves = g_.node_n("Split", {wi, g_.const_i64({I, I})}, 2, {{"axis", std::int64_t{-1}}});
      MODELKIT_TRY(auto act, activation(halves[0], c_.hidden_act));
      auto mlp = linear(g_.node("Mul", {act, halves[1]}), name(n_.output), I, H, c_.mlp_bias);
      x = g_.node("Add", {x, mlp});
    }
    return layer_norm(x, expand(n_.pooler, prefix_), H, c_.norm_bias);  // final_norm
  }

  // classifier_pooling: the mean over the attention mask, or the cls token: token 0 (sequence
  // classification) or the first non-padding token (multiple choice, as transformers picks it).
  std::string modernbert_pool(const std::string& hidden, bool first_unpadded) {
    auto mf = g_.node("Cast", {mask_}, {{"to", std::int64_t{kFloat}}});
    if (c_.mean_pooling) {
      auto m = g_.node("Unsqueeze", {mf, g_.const_i64({2})});
      auto sum = g_.reduce("ReduceSum", g_.node("Mul", {hidden, m}), {1}, false);
      return g_.node("Div", {sum, g_.reduce("ReduceSum", m, {1}, false)}, {}, "mean_pool");
    }
    if (!first_unpadded) return first_token(hidden);
    auto at = g_.node("ArgMax", {mf}, {{"axis", std::int64_t{-1}}, {"keepdims", std::int64_t{1}}});  // [N, 1]
    auto index = g_.node("Expand", {g_.node("Unsqueeze", {at, g_.const_i64({2})}),
                                    g_.node("Concat", {g_.const_i64({1, 1}), g_.node("Slice", {g_.node("Shape", {hidden}),
                                                       g_.const_i64({2}), g_.const_i64({3})})}, {{"axis", std::int64_t{0}}})});
    auto picked = g_.node("GatherElements", {hidden, index}, {{"axis", std::int64_t{1}}});  // [N, 1, H]
    return g_.node("Squeeze", {picked, g_.const_i64({1})}, {}, "cls_token");
  }

  // ModernBertPredictionHead: dense, classifier_activation, norm.
  Result<std::string> prediction_head(const std::string& x) {
    auto t = linear(x, std::string(n_.classifier_dense), c_.hidden_size, c_.hidden_size, c_.classifier_bias);
    MODELKIT_TRY(t, activation(t, c_.classifier_activation));
    return layer_norm(t, std::string(n_.classifier_out), c_.hidden_size, c_.norm_bias);
  }

  Result<std::string> modernbert_masked_lm(const std::string& hidden) {
    MODELKIT_TRY(auto t, prediction_head(hidden));
    std::string decoder =
        c_.tie_word_embeddings
            ? g_.node("Transpose", {word_embeddings_}, {{"perm", std::vector<std::int64_t>{1, 0}}}, "decoder_tied")
            : weight(std::string(n_.mlm_decoder) + ".weight", {c_.vocab_size, c_.hidden_size}, Init::normal, true);
    auto logits = g_.node("MatMul", {t, decoder}, {}, "mlm_logits");
    if (!c_.decoder_bias) return logits;
    return g_.node("Add", {logits, weight(std::string(n_.mlm_bias), {c_.vocab_size}, Init::zeros)});
  }

  std::string first_token(const std::string& hidden) {
    return g_.node("Gather", {hidden, g_.const_i64({0}, true)}, {{"axis", std::int64_t{1}}}, "first_token");
  }

  std::string pooler(const std::string& hidden) {
    return g_.node("Tanh", {linear(first_token(hidden), expand(n_.pooler, prefix_), c_.hidden_size, c_.hidden_size)},
                   {}, "pooler");
  }

  Result<std::string> masked_lm(const std::string& hidden) {
    if (f_.architecture == Architecture::modern) return modernbert_masked_lm(hidden);
    const auto H = c_.hidden_size;
    // ELECTRA's generator projects to embedding_size; BERT and RoBERTa stay at hidden_size.
    const auto E = f_.mlm_at_embedding_size ? c_.embedding_size : H;
    auto t = linear(hidden, std::string(n_.mlm_dense), H, E);
    MODELKIT_TRY(t, activation(t, f_.mlm_uses_hidden_act ? std::string_view(c_.hidden_act) : "gelu"));
    t = layer_norm(t, std::string(n_.mlm_norm), E);
    std::string decoder;
    auto untied = std::string(n_.mlm_decoder) + ".weight";
    // tie_word_embeddings false asks for the checkpoint's own decoder: missing, it is an error, not the tied one.
    if (!c_.tie_word_embeddings && !n_.mlm_decoder.empty()) {
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
      case Classifier::context_pooler: {
        MODELKIT_TRY(auto x, context_pooler(hidden));
        return linear(x, std::string(n_.classifier), H, labels);
      }
      case Classifier::prediction_head: {
        MODELKIT_TRY(auto x, prediction_head(modernbert_pool(hidden, false)));
        return linear(x, std::string(n_.classifier), H, labels);
      }
    }
    return failure("unknown classifier");
  }

  Head head_ = Head::base;
  std::string mask_;  // the attention mask input (ModernBERT's mean pooling)

  GraphBuilder& g_;
  const EncoderConfig& c_;
  const Family& f_;
  const FamilyNames& n_;
  const WeightSource& source_;
  RandomWeights* random_;
  Layers l_{g_, random_};
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
  const FamilyNames* names = f.names;
  if (f.architecture == Architecture::disentangled && !c.legacy_mlm) {
    if (c.embedding_size != c.hidden_size)
      return failure("config.json: legacy false with embedding_size " + std::to_string(c.embedding_size) +
                     " other than hidden_size is not supported by the exporter");
    names = &kDebertaLmNames;
  }
  EncoderGraph e(g, c, f, *names, source, random);
  e.head_ = plan.sentence_pooling ? Head::base : plan.head;
  MODELKIT_TRY_VOID(e.pick_prefix());

  const bool mc = plan.head == Head::multiple_choice && !plan.sentence_pooling;
  Dims in_dims = mc ? Dims{"batch_size", "num_choices", "sequence_length"} : Dims{"batch_size", "sequence_length"};
  auto ids = g.input("input_ids", kInt64, in_dims);
  auto mask = g.input("attention_mask", kInt64, in_dims);
  std::string types;
  const bool type_input = f.token_type_if_vocab ? c.type_vocab_size > 0 : f.token_type_input;
  if (type_input && !plan.sentence_pooling) types = g.input("token_type_ids", kInt64, in_dims);
  e.mask_ = mask;

  if (mc) {
    // [B, C, S] -> [B*C, S]; logits [B*C, 1] -> [B, C].
    auto shape = g.node("Shape", {ids});
    auto flat = g.node("Concat", {g.const_i64({-1}), g.node("Slice", {shape, g.const_i64({2}), g.const_i64({3})})},
                       {{"axis", std::int64_t{0}}});
    auto r_ids = g.node("Reshape", {ids, flat});
    auto r_mask = g.node("Reshape", {mask, flat});
    auto r_types = types.empty() ? types : g.node("Reshape", {types, flat});
    e.mask_ = r_mask;
    MODELKIT_TRY(auto hidden, e.backbone(r_ids, r_mask, r_types));
    // DistilBERT reads token 0 through pre_classifier + relu; the others through their pooler.
    std::string pooled;
    if (f.pooler_in_multiple_choice) {
      pooled = e.pooler(hidden);
    } else if (f.classifier == Classifier::context_pooler) {  // DeBERTa
      MODELKIT_TRY(pooled, e.context_pooler(hidden));
    } else if (f.classifier == Classifier::prediction_head) {  // ModernBERT
      MODELKIT_TRY(pooled, e.prediction_head(e.modernbert_pool(hidden, true)));
    } else if (!f.mc_summary.empty()) {  // ELECTRA's SequenceSummary: token 0, dense, gelu
      pooled = e.linear(e.first_token(hidden), std::string(f.mc_summary), c.hidden_size, c.hidden_size);
      MODELKIT_TRY(pooled, e.activation(pooled, "gelu"));
    } else {  // DistilBERT
      pooled = g.node("Relu", {e.linear(e.first_token(hidden), std::string(f.names->classifier_dense), c.hidden_size,
                                        c.hidden_size)});
    }
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
    case Head::token_classification: {
      std::string x = hidden;
      if (f.classifier == Classifier::prediction_head) {  // ModernBERT
        MODELKIT_TRY(x, e.prediction_head(hidden));
      }
      g.output(e.linear(x, std::string(f.names->classifier), c.hidden_size, c.num_labels), "logits", kFloat,
               {"batch_size", "sequence_length", c.num_labels});
      return {};
    }
    case Head::question_answering: {
      std::string x = hidden;
      if (f.classifier == Classifier::prediction_head) {  // ModernBERT: head, then a 2-label classifier
        if (c.num_labels != 2)
          return failure("config.json: question answering needs 2 labels (start, end), the config has " +
                         std::to_string(c.num_labels));
        MODELKIT_TRY(x, e.prediction_head(hidden));
      }
      auto both = e.linear(x, std::string(f.names->qa_outputs), c.hidden_size, 2);
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
