// The exporter's families: per architecture, the checkpoint tensor names (one table per family,
// in families.cpp) and how its graph is put together (encoder.cpp).
#pragma once

#include "export/graph.hpp"

#include <modelkit/result.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace modelkit::exporter {

// The heads of the text encoders, by the suffix of the transformers class name.
enum class Head { base, sequence_classification, token_classification, question_answering, masked_lm, multiple_choice };

struct HeadName {
  Head head;
  std::string_view class_suffix;  // "Model", "ForSequenceClassification", ...
  std::string_view name;          // "base", "sequence-classification", ...
};
inline constexpr HeadName kHeads[] = {
    {Head::base, "Model", "base"},
    {Head::sequence_classification, "ForSequenceClassification", "sequence-classification"},
    {Head::token_classification, "ForTokenClassification", "token-classification"},
    {Head::question_answering, "ForQuestionAnswering", "question-answering"},
    {Head::masked_lm, "ForMaskedLM", "masked-lm"},
    {Head::multiple_choice, "ForMultipleChoice", "multiple-choice"},
};

// How position ids are formed.
enum class Positions {
  absolute,        // 0..S-1 (BERT)
  padding_offset,  // RoBERTa: padding_idx + 1 + running count of non-pad tokens; pad tokens get padding_idx
};

// How the sequence-classification head reads the encoder.
enum class Classifier {
  pooler_linear,        // BERT: pooler (dense + tanh on token 0) then `classifier`
  dense_tanh_proj,      // RoBERTa, MPNet: classifier.dense + tanh + classifier.out_proj on token 0
  dense_gelu_proj,      // ELECTRA: classifier.dense + gelu + classifier.out_proj on token 0
  pre_classifier_relu,  // DistilBERT: pre_classifier + relu + classifier on token 0
  context_pooler,       // DeBERTa: pooler.dense + pooler_hidden_act on token 0, then `classifier`
  prediction_head,      // ModernBERT: cls/mean pooling, head (dense, act, norm), then `classifier`
};

// The backbone's layer structure.
enum class Architecture {
  post_norm,     // BERT and its relatives: embeddings, post-norm layers (MPNet: plus a relative bias)
  disentangled,  // DeBERTa-v2/v3: relative positions through c2p/p2c disentangled attention
  modern,        // ModernBERT: pre-norm, fused QKV, RoPE, GeGLU, alternating local/global attention
};

// Checkpoint tensor names of one family. "{p}" is the base model prefix ("bert.", or "" for a
// base model saved alone), "{i}" a layer index, "{g}"/"{j}" ALBERT's layer group and its inner
// layer; names end before ".weight"/".bias". "" means the family has no such tensor.
struct FamilyNames {
  std::string_view word_embeddings, position_embeddings, token_type_embeddings, embeddings_norm;
  std::string_view embeddings_project;  // ELECTRA/ALBERT: embedding_size -> hidden_size
  std::string_view relative_attention_bias;  // MPNet's bucketed relative position bias
  std::string_view query, key, value, attention_out, attention_norm, intermediate, output, output_norm;
  std::string_view pooler;
  // heads
  std::string_view classifier;          // token classification / BERT-style sequence classification
  std::string_view classifier_dense, classifier_out;  // RoBERTa/ELECTRA/MPNet head; DistilBERT's pre_classifier
  std::string_view qa_outputs;
  std::string_view mlm_dense, mlm_norm, mlm_decoder, mlm_bias, mlm_bias_fallback;
  std::string_view mc_classifier;
};

// config.json keys, where a family names them its own way (DistilBERT: dim, n_layers, ...).
struct ConfigKeys {
  std::string_view hidden_size = "hidden_size", layers = "num_hidden_layers", heads = "num_attention_heads",
                   intermediate_size = "intermediate_size", hidden_act = "hidden_act";
};

struct Family {
  std::string_view model_type;
  std::string_view class_prefix;                // "Bert", "Roberta", ...
  std::vector<std::string_view> base_prefixes;  // tried in order to find the backbone's tensors
  bool token_type_input;                        // optimum lists token_type_ids among the inputs
  Positions positions;
  Classifier classifier;
  bool mlm_uses_hidden_act;        // BERT/ALBERT/DistilBERT's MLM transform uses the config's activation; RoBERTa's gelu
  bool pooler_in_base;             // the base model exports pooler_output
  bool pooler_in_multiple_choice;  // else the multiple-choice head reads token 0 (through classifier_dense)
  std::vector<Head> heads;
  const FamilyNames* names;
  ConfigKeys keys = {};
  std::optional<std::int64_t> padding_idx = std::nullopt;  // fixed by the architecture (MPNet: 1), else pad_token_id
  bool always_project = false;     // ALBERT maps embeddings to hidden_size even when the sizes agree
  bool mlm_at_embedding_size = false;  // ELECTRA/ALBERT: the MLM transform projects to embedding_size
  bool layer_groups = false;       // ALBERT: layers share weights by group
  Architecture architecture = Architecture::post_norm;
  bool token_type_if_vocab = false;  // DeBERTa: token_type_ids is an input only when type_vocab_size > 0
  std::string_view mc_summary = {};  // ELECTRA: multiple choice reads token 0 through this dense + gelu
};

[[nodiscard]] const std::vector<Family>& families();
[[nodiscard]] const Family* find_family(std::string_view model_type);

// What an export builds: family, head, and the sentence-transformers modules on top.
struct Pooling {
  bool cls = false, mean = false, max = false, mean_sqrt_len = false;
  [[nodiscard]] std::string describe() const;
};
struct GraphPlan {
  const Family* family = nullptr;
  Head head = Head::base;
  std::string model_class;
  std::optional<Pooling> sentence_pooling;  // sentence-transformers checkpoint
  bool normalize = false;
};

// Builds the graph for `plan` from config.json's text; weights are declared in `g` (and for a random
// source, registered with their shapes). Errors name config fields.
[[nodiscard]] Result<void> build_encoder(GraphBuilder& g, const GraphPlan& plan, std::string_view config_json,
                                         const WeightSource& source, RandomWeights* random);

// Reads modules.json and 1_Pooling/config.json of a sentence-transformers checkpoint.
[[nodiscard]] Result<GraphPlan> sentence_transformers_plan(GraphPlan plan, const std::filesystem::path& folder);

// config.json's initializer_range (0.02 when absent) for random weights.
[[nodiscard]] Result<double> initializer_range(std::string_view config_json);

}  // namespace modelkit::exporter
