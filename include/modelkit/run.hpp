// Using a model on real inputs (`modelkit run`) and measuring it on a data set (`modelkit eval`):
// pre-processing through the tokenizer/image/audio code calibration uses, one ONNX Runtime
// session, and post-processing by task as transformers' pipelines do (docs/run-eval.md).
#pragma once

#include <modelkit/model.hpp>
#include <modelkit/random_inputs.hpp>
#include <modelkit/result.hpp>
#include <modelkit/settings.hpp>
#include <modelkit/tensor.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace modelkit {

// --pooling: how feature extraction turns token embeddings into one vector.
enum class Pooling { automatic, mean, cls, none };
struct PoolingInfo {
  Pooling value;
  std::string_view name;
  std::string_view help;
};
inline constexpr PoolingInfo kPoolings[] = {
    {Pooling::automatic, "auto",
     "the model's sentence_embedding output when it has one; mean-pooled and L2-normalized for "
     "sentence-transformers checkpoints; else none"},
    {Pooling::mean, "mean", "attention-masked mean of the token embeddings, L2-normalized"},
    {Pooling::cls, "cls", "the first token's embedding"},
    {Pooling::none, "none", "the first token's embedding row as it is, with the full output shape reported"},
};
template <>
struct SettingTable<Pooling> {
  static constexpr std::span<const PoolingInfo> rows{kPoolings};
};

}  // namespace modelkit

namespace modelkit::infer {

// ---- .npy (NumPy's format, versions 1 to 3) --------------------------------------------------

// A .npy file larger than this is refused before it is read.
inline constexpr std::uint64_t kMaxNpyBytes = std::uint64_t{1} << 31;
inline constexpr std::size_t kMaxNpyRank = 32;

// Parses .npy bytes into a Tensor named `name`. Little-endian (or byte-order free) bool, int8..64,
// uint8..64, float16/32/64, C order only. Errors (`what` names the file): bad magic or version, a
// header that is not the dict NumPy writes, big-endian or Fortran order, a shape whose element
// count overflows or does not match the data's size.
[[nodiscard]] Result<Tensor> parse_npy(std::string_view bytes, std::string name, std::string_view what = "<memory>");
[[nodiscard]] Result<Tensor> read_npy(const std::filesystem::path& path, std::string name);
// Version 1.0 bytes of a tensor (numeric types only).
[[nodiscard]] Result<std::string> npy_bytes(const Tensor& tensor);

// ---- post-processing -------------------------------------------------------------------------

// Labels and the choices of config.json that post-processing reads.
struct LabelInfo {
  std::vector<std::string> id2label;           // index = class id; "LABEL_i" where config.json has none
  std::optional<std::string> problem_type;     // "multi_label_classification", ...
  [[nodiscard]] std::string label(std::size_t id) const;
  [[nodiscard]] std::optional<std::size_t> id_of(std::string_view label) const;
};
// Reads id2label (keys must be integers 0..N-1) and problem_type from config.json.
[[nodiscard]] Result<LabelInfo> read_label_info(const std::filesystem::path& config_json);

// Numerically stable softmax and the logistic function, in double.
[[nodiscard]] std::vector<double> softmax(std::span<const float> logits);
[[nodiscard]] std::vector<double> sigmoid(std::span<const float> logits);

struct ClassScore {
  std::size_t id = 0;
  std::string label;
  double score = 0;
};
// The top_k classes (all when top_k >= the count), score descending, ties by id.
// Multi-label (problem_type multi_label_classification, or a single logit) applies the sigmoid
// to each class, as transformers' pipelines do; otherwise softmax.
[[nodiscard]] std::vector<ClassScore> classify(std::span<const float> logits, const LabelInfo& labels,
                                               std::size_t top_k);
// The probabilities classify() ranks (softmax or sigmoid), in class order.
[[nodiscard]] std::vector<double> class_probabilities(std::span<const float> logits, const LabelInfo& labels);

// Token-level facts post-processing needs from the tokenizer.
struct TokenView {
  std::vector<std::uint32_t> ids;
  std::vector<std::string> tokens;
  std::vector<bool> special;   // special_tokens_mask
  std::vector<int> sequence;   // 0 first text, 1 second text, -1 special
};
// Tokens back to text: WordPiece "##" pieces join the previous token, byte-level BPE "Ġ" and
// SentencePiece "▁" mark spaces (transformers' convert_tokens_to_string for those tokenizers).
[[nodiscard]] std::string tokens_to_text(std::span<const std::string> tokens);

struct Entity {
  std::string entity_group;
  double score = 0;  // mean of the grouped tokens' scores
  std::string word;
  std::size_t start_token = 0, end_token = 0;  // inclusive token indices
};
// transformers' token-classification pipeline with aggregation_strategy="simple": softmax per
// token, argmax label, special tokens skipped; B-/I- tags grouped into entities (a B- starts a new
// one, labels without a prefix group by equality), groups labelled O dropped.
// logits: [tokens, num_labels] row-major.
[[nodiscard]] Result<std::vector<Entity>> token_entities(std::span<const float> logits, std::size_t num_labels,
                                                         const TokenView& tokens, const LabelInfo& labels);

inline constexpr std::size_t kDefaultMaxAnswerTokens = 15;
struct Answer {
  double score = 0;
  std::size_t start_token = 0, end_token = 0;  // inclusive
  std::string answer;
};
// transformers' question-answering pipeline: tokens outside the context (except CLS) masked to
// -10000, softmax of start and end logits, CLS zeroed, spans start <= end < start + max_len
// ranked by p_start * p_end, spans touching masked tokens dropped. Context = sequence 1.
[[nodiscard]] Result<std::vector<Answer>> answer_spans(std::span<const float> start_logits,
                                                       std::span<const float> end_logits, const TokenView& tokens,
                                                       std::size_t top_k, std::size_t max_answer_tokens);

struct MaskCandidate {
  double score = 0;
  std::uint32_t token_id = 0;
  std::string token;
};
// For each mask position: the top_k vocabulary entries by softmax. logits: [tokens, vocab].
[[nodiscard]] std::vector<std::vector<MaskCandidate>> fill_mask(
    std::span<const float> logits, std::size_t vocab, std::span<const std::size_t> mask_positions, std::size_t top_k,
    const std::vector<std::string>& vocabulary);

// One vector from token embeddings [tokens, width] and the attention mask.
[[nodiscard]] std::vector<float> pool_embeddings(std::span<const float> token_embeddings, std::size_t width,
                                                 std::span<const std::int64_t> attention_mask, Pooling pooling);
[[nodiscard]] double cosine_similarity(std::span<const float> a, std::span<const float> b);

// Zero-shot image classification (transformers' ZeroShotImageClassificationPipeline): each label
// in the hypothesis template, one padded text batch beside the image, logits_per_image scored with
// softmax over the labels (CLIP), or the sigmoid of each (model_type containing "siglip", whose
// texts are padded to 64 tokens); every label returned, highest score first.
inline constexpr std::string_view kDefaultHypothesisTemplate = "This is a photo of {}.";
inline constexpr std::size_t kSiglipTextLength = 64;
inline constexpr std::size_t kMaxCandidateLabels = 1000;
// --labels a,b,c: labels split at commas, blanks around each trimmed; an empty one is refused.
[[nodiscard]] Result<std::vector<std::string>> parse_candidate_labels(std::string_view list);
[[nodiscard]] std::string hypothesis_for(std::string_view label, std::string_view hypothesis_template);
[[nodiscard]] bool zero_shot_sigmoid(std::string_view model_type);
[[nodiscard]] std::vector<ClassScore> zero_shot_scores(std::span<const float> logits_per_image,
                                                       std::span<const std::string> labels, bool sigmoid_scores);

// ---- running a model ---------------------------------------------------------------------------

struct RunRequest {
  ModelSpec spec;                                   // -m and --task
  std::optional<std::filesystem::path> config;      // --config: config.json/checkpoint folder for an .onnx
  std::optional<std::string> text, pair;            // --text, --pair
  std::optional<std::filesystem::path> image;       // --image
  std::optional<std::filesystem::path> audio;       // --audio
  std::vector<std::pair<std::string, std::filesystem::path>> npy_inputs;  // --input NAME=FILE.npy
  std::vector<std::string> labels;                  // --labels: zero-shot image classification
  std::size_t top_k = 5;
  Pooling pooling = Pooling::automatic;
  std::optional<std::filesystem::path> save_outputs;  // --save-outputs DIR
  int threads = 0;
};

struct RawOutput {
  std::string name;
  std::string type;
  std::vector<std::int64_t> shape;
  std::vector<double> first_values;  // at most kRawPreview
};
inline constexpr std::size_t kRawPreview = 8;

struct RunResult {
  std::string model;                  // the -m reference
  std::filesystem::path onnx;         // the model file that ran
  std::filesystem::path files_from;   // the folder config.json / tokenizer / processor came from
  std::string model_kind;             // "built", "checkpoint", "exported", "onnx"
  TaskResolution resolution;
  std::string answer_kind;            // classification | token-classification | question-answering |
                                      // fill-mask | feature-extraction | raw
  std::vector<std::string> tokens;    // text inputs: the tokens fed
  std::vector<ClassScore> classes;
  std::string scoring;                // zero-shot: "softmax" or "sigmoid"
  std::vector<std::string> candidate_labels;  // zero-shot: --labels in the order given
  std::vector<Entity> entities;
  std::vector<Answer> answers;
  std::vector<std::vector<MaskCandidate>> masks;
  std::vector<float> embedding;
  std::string pooling;                // what feature extraction did
  std::vector<RawOutput> raw;         // every output, always
  std::vector<std::string> notes;
  std::vector<std::string> saved;     // files written by --save-outputs
};

[[nodiscard]] Result<RunResult> run_model(const RunRequest& request);
[[nodiscard]] std::string run_result_json(const RunResult& result);
[[nodiscard]] std::string run_result_text(const RunResult& result);

// ---- evaluating ----------------------------------------------------------------------------

// The roles --column (eval) and --eval-column (build) name: which field of the data holds what.
inline constexpr std::string_view kEvalColumnRoles[] = {"text", "text_pair", "label", "tokens", "ner_tags", "answers"};
// "ROLE=NAME" with a role of kEvalColumnRoles ("pair" is text_pair); `option` names the flag in errors.
[[nodiscard]] Result<std::pair<std::string, std::string>> parse_column_option(std::string_view option,
                                                                             std::string_view value);

struct EvalRequest {
  ModelSpec spec;
  std::optional<std::string> compare;               // --compare OTHER (same pre-processing)
  std::optional<std::filesystem::path> data;        // --data FILE|DIR; absent: embedded defaults
  std::optional<std::filesystem::path> config;
  std::vector<std::pair<std::string, std::string>> columns;  // --column text=sentence
  std::size_t samples = 100;
  Pooling pooling = Pooling::automatic;
  int threads = 0;
  std::vector<InputShape> input_shapes;  // --input-shape: sizes for image/audio sources (e.g. input=1x512)
  bool per_tensor = false;  // --per-tensor: -m is the QDQ model, --compare its float model
  std::size_t worst = 3;    // tensors whose readers the --exclude-nodes line names
};

// --per-tensor: one quantized activation of the QDQ model matched to its float tensor, as ONNX
// Runtime's qdq_loss_debug matches them (the QuantizeLinear input, "_QuantizeLinear_Input"
// stripped, names the float tensor). SQNR in dB, 10 log10(sum x^2 / sum (x - y)^2), over all
// samples: qdq_sqnr between the QuantizeLinear input and the DequantizeLinear output inside the
// QDQ model (this tensor's own quantization error), xmodel_sqnr between the float model's tensor
// and the DequantizeLinear output (the error accumulated up to it).
struct TensorError {
  std::string tensor;                  // the float model's name
  std::string producer;                // the float node writing it ("" for a graph input)
  std::vector<std::string> consumers;  // the float nodes reading it: what --exclude-nodes keeps in float
  std::size_t graph_index = 0;         // the producer's position in the float graph (inputs: 0)
  double qdq_sqnr = 0, xmodel_sqnr = 0;
};
// Worst first (lowest qdq_sqnr). `inputs` are the samples, each the model inputs by name.
[[nodiscard]] Result<std::vector<TensorError>> per_tensor_errors(const std::filesystem::path& float_model,
                                                                 const std::filesystem::path& qdq_model,
                                                                 const std::vector<std::vector<Tensor>>& samples,
                                                                 int threads = 0);
// "--exclude-nodes A --exclude-nodes B" for the consumers of the `worst` first tensors.
[[nodiscard]] std::string exclude_nodes_line(const std::vector<TensorError>& ranked, std::size_t worst);

struct OutputAgreement {
  std::string name;
  double min_cosine = 1, mean_cosine = 1, max_abs = 0;
};

struct EvalReport {
  std::string model;
  std::optional<std::string> compare;
  TaskResolution resolution;
  std::string data_source;
  std::size_t samples = 0;
  std::size_t skipped = 0;
  std::vector<std::string> skip_reasons;  // distinct reasons, first few
  std::size_t labelled = 0;
  // With labels (classification tasks).
  std::optional<double> accuracy, macro_f1;
  std::optional<double> compare_accuracy, compare_macro_f1;
  // With --compare.
  std::optional<double> top1_agreement, mean_kl;
  std::optional<double> mean_cosine, min_cosine, spearman;  // feature extraction
  // Token classification with per-word tags (entity level, micro); QA with answers (SQuAD).
  std::optional<double> entity_f1, entity_precision, entity_recall, compare_entity_f1;
  std::optional<double> exact_match, qa_f1, compare_exact_match, compare_qa_f1;
  std::vector<OutputAgreement> outputs;                     // raw, per output
  std::vector<TensorError> per_tensor;                      // --per-tensor, worst first
  std::string exclude_nodes;                                // the line for the worst ones
  std::vector<std::string> notes;
};

[[nodiscard]] Result<EvalReport> evaluate(const EvalRequest& request);
[[nodiscard]] std::string eval_report_json(const EvalReport& report);
[[nodiscard]] std::string eval_report_text(const EvalReport& report);
// --html: a self-contained page (no external scripts, fonts or links); with --per-tensor an inline
// SVG bar per tensor in graph order (<rect class="bar" data-tensor data-sqnr data-rank>), the
// `worst_named` worst labelled.
[[nodiscard]] std::string eval_report_html(const EvalReport& report, std::size_t worst_named);

// -o report.json: checked before the evaluation (an existing file needs `force`, an input is
// never overwritten), written whole after it.
[[nodiscard]] Result<void> check_report_output(const std::filesystem::path& output, bool force,
                                               std::span<const std::filesystem::path> inputs);
[[nodiscard]] Result<void> write_report(const std::filesystem::path& output, std::string_view json);

// Metrics, exposed for tests: accuracy and macro-F1 (mean over the classes that occur in the
// references or predictions of per-class F1), Spearman rank correlation (average ranks for ties),
// KL(p || q) in nats with q floored at 1e-12.
[[nodiscard]] double accuracy(std::span<const std::size_t> predicted, std::span<const std::size_t> reference);
[[nodiscard]] double macro_f1(std::span<const std::size_t> predicted, std::span<const std::size_t> reference);
[[nodiscard]] double spearman(std::span<const double> a, std::span<const double> b);
[[nodiscard]] double kl_divergence(std::span<const double> p, std::span<const double> q);

// Entity-level scores over BIO/IOB2 tags, as seqeval counts them by default: an entity starts at
// B-X, or at I-X after O or another type, and runs over the I-X that follow; a tag without a B-/I-
// prefix is a type of its own with I- semantics; O is outside. A predicted entity is correct when
// a reference entity has the same type, start and end. F1 is micro: over all entities of all samples.
struct TaggedSpan {
  std::string type;
  std::size_t start = 0, end = 0;  // inclusive tag indices
  bool operator==(const TaggedSpan&) const = default;
};
[[nodiscard]] std::vector<TaggedSpan> bio_entities(std::span<const std::string> tags);
struct EntityCounts {
  std::size_t correct = 0, predicted = 0, reference = 0;
  // One sample's tags (the same length: one tag per word).
  void add(std::span<const std::string> predicted_tags, std::span<const std::string> reference_tags);
  [[nodiscard]] double precision() const;
  [[nodiscard]] double recall() const;
  [[nodiscard]] double f1() const;
};

// SQuAD's answer scores: normalisation (lower case, ASCII punctuation removed, the words a/an/the
// removed, blanks collapsed), exact match and bag-of-words F1, each the best over the gold answers
// (both empty after normalisation: F1 1).
[[nodiscard]] std::string squad_normalize(std::string_view text);
[[nodiscard]] double squad_exact_match(std::string_view prediction, std::span<const std::string> answers);
[[nodiscard]] double squad_f1(std::string_view prediction, std::span<const std::string> answers);

}  // namespace modelkit::infer
