// Static QDQ quantization (docs/design.md, "QDQ conventions"): QuantizeLinear/DequantizeLinear
// pairs that ONNX Runtime fuses into integer kernels, following the conventions of
// onnxruntime's QDQ quantizer:
//
//   - Conv, ConvTranspose, MatMul, Gemm: activation inputs and outputs get Q/DQ; constant weights
//     are quantized offline (int8 symmetric by default; per-channel with `per_channel`: Conv
//     axis 0, ConvTranspose axis 1, MatMul the last axis, Gemm axis 1, or 0 with transB) and
//     feed a DequantizeLinear; biases become int32 with scale = input_scale * weight_scale.
//   - Add, Mul: both inputs and the output; constant operands are quantized offline with the
//     activation type from their own values.
//   - AveragePool, GlobalAveragePool: input and output, each with its own scale. Softmax: the
//     same, the output range fixed to [0, 1].
//   - Concat: inputs and output share one scale/zero point (the union of their ranges).
//   - Data movement (Reshape, Transpose, Squeeze, Unsqueeze, Flatten, Gather, Split, Slice,
//     Expand, Tile, DepthToSpace, SpaceToDepth) and MaxPool, Resize: quantized only when their
//     input already is (or, for Gather, is a constant table); outputs share the input's
//     scale/zero point, as ORT's QDQ propagation expects.
//   - Relu, Clip right after a quantized op whose output feeds only them are folded into that
//     op's output quantization (the saturating Q does their work), as ORT's quantizer does.
//   - Activations are asymmetric with the range widened to include 0. Rounding is to nearest
//     even, as QuantizeLinear does.
//
// Opset: models below opset 10 are refused (ONNX Runtime's QDQ fusions emit opset-10 operators
// such as QLinearConv into the model's own opset, which would make it invalid).
// Operator domain of Q/DQ: ai.onnx when the model's opset allows the chosen types (8-bit:
// opset >= 10, >= 13 with per-channel; 16-bit: opset >= 21), otherwise com.microsoft's
// QuantizeLinear/DequantizeLinear (ONNX Runtime contrib ops with the same semantics, which ORT's
// QDQ fusions also match); the model's opset is never changed, since that would change the
// meaning of its other operators.
//
// Constant nodes are turned into initializers first (weights exported as Constant nodes are then
// quantized like any initializer), and BatchNormalization after a Conv is folded into it (the
// pre-processing onnxruntime recommends; the Conv then has a bias to quantize). Values inside
// If branches are quantized in place; their ranges are collected through the If outputs (see
// calib_stats.hpp); a branch no calibration sample took stays float, with a warning. Loop and
// Scan bodies stay float (their values run per iteration and cannot be collected as plain
// outputs). Models over 2 GiB: weights are read from external data and the output is written
// with external data as needed.
#pragma once

#include <modelkit/calib_stats.hpp>
#include <modelkit/calibration.hpp>
#include <modelkit/result.hpp>
#include <modelkit/settings.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace modelkit::quant {

using modelkit::QuantType;  // settings.hpp: the table of types

[[nodiscard]] inline std::string_view quant_type_name(QuantType t) { return setting_name(t); }
// Usage error naming the text and the accepted names.
[[nodiscard]] inline Result<QuantType> parse_quant_type(std::string_view text) { return parse_setting<QuantType>(text); }

// The op types this quantizer handles, in a fixed order (for --op-types help and validation).
[[nodiscard]] const std::vector<std::string>& supported_op_types();

struct QuantizeOptions {
  QuantType activation_type = QuantType::uint8;
  QuantType weight_type = QuantType::int8;
  bool per_channel = false;
  // Only these op types (empty: every supported op type). Unknown names produce a warning.
  std::vector<std::string> op_types;
  // Whether op_types is what the user named (warnings about op types matching no node, and a
  // refusal when they leave nothing to quantize) or a default chosen from the graph.
  bool op_types_from_user = true;
  // Node names to leave in float: an exact node name, or else an RE2 regular expression that
  // must match the whole name (linear time: no pattern can hang a build). Every pattern that
  // matches no node produces a warning.
  std::vector<std::string> exclude_nodes;
  // Activations symmetric around 0 (zero point 0 for signed types, the midpoint for unsigned),
  // as ONNX Runtime's ActivationSymmetric.
  bool symmetric_activations = false;
  // 8-bit weights in 7 bits ([-64, 64]), as ONNX Runtime's reduce_range: for CPUs without VNNI,
  // whose 16-bit intermediate sums can saturate at full range.
  bool reduce_range = false;
  // Whether quantize() loads the written model in ONNX Runtime as a check. A caller that loads it
  // next anyway (the build's validate stage) turns this off: loading a large model twice costs
  // about as much as quantizing it.
  bool check_loads = true;
};

// What planning decided, before any range is known.
struct QuantizationPlan {
  // Activation tensors whose ranges calibration must collect (main graph and If branches),
  // in graph order. Outputs of data-movement ops and Concat are not listed: they share their
  // inputs' scale and their values come from those inputs, so the inputs' ranges cover them.
  std::vector<std::string> tensors_to_calibrate;
  std::vector<std::string> warnings;  // patterns/op types that match nothing
  std::int64_t nodes_to_quantize = 0;
};

// Reads the model and plans. Errors: unreadable model, already quantized, opset below 10,
// invalid exclude pattern (usage error naming it), nothing left to quantize (a usage error when
// the user's op types or exclude patterns left nothing, naming how many nodes each left out).
[[nodiscard]] Result<QuantizationPlan> plan_quantization(const std::filesystem::path& model_path,
                                                         const QuantizeOptions& options);

struct OpTypeSummary {
  std::string op_type;  // "Conv", "com.microsoft.Attention"
  std::int64_t quantized = 0;  // nodes now between DQ and Q (or folded into one: folded)
  std::int64_t folded = 0;     // Relu/Clip removed into the producer's quantization
  std::int64_t skipped = 0;
  std::map<std::string, std::int64_t> skip_reasons;  // reason -> count
};

struct NodeDecision {
  std::string name;
  std::string op_type;
  std::string graph;   // "" for the main graph, else "If_0/then_branch" ...
  std::string status;  // "quantized", "folded", "skipped"
  std::string reason;  // for skipped and folded
};

struct QuantizeReport {
  std::string model;        // input path
  std::string output;       // output path
  std::string precision = "int8";  // settings.hpp, kPrecisions
  // int4 (precisions.hpp): the block settings; fp16: Casts added and values clamped.
  std::int64_t block_size = 0;
  bool symmetric = false;     // int4 blocks without zero points; static: symmetric activations
  bool reduce_range = false;  // static, dynamic: 7-bit weights
  std::int64_t accuracy_level = 0;
  std::int64_t casts_inserted = 0;
  std::int64_t values_clamped = 0;
  std::string activation_type;
  std::string weight_type;
  bool per_channel = false;
  std::string qdq_domain;   // "ai.onnx" or "com.microsoft"
  std::int64_t opset = 0;   // the model's default-domain opset (unchanged)
  std::string calibration_method;
  std::int64_t nodes_quantized = 0;
  std::int64_t nodes_folded = 0;
  std::int64_t nodes_skipped = 0;
  std::int64_t quantize_linear_nodes = 0;
  std::int64_t dequantize_linear_nodes = 0;
  std::int64_t weights_quantized = 0;   // initializers quantized offline (weights and constant operands)
  std::int64_t biases_quantized = 0;
  std::int64_t constants_to_initializers = 0;
  std::int64_t batch_norms_folded = 0;  // BatchNormalization folded into the Conv before it
  std::uint64_t input_bytes = 0;        // .onnx file plus external data
  std::uint64_t output_bytes = 0;
  std::vector<OpTypeSummary> op_types;  // sorted by op type
  std::vector<NodeDecision> nodes;      // every node of the original model, graph order
  std::vector<std::string> warnings;
};

// Quantizes `model_path` with `ranges` (every tensor plan_quantization listed must have one;
// a missing one is an error naming it) and writes the result to `output_path` (external data
// next to it when needed). The output is then loaded in ONNX Runtime; a load failure is an
// error. Refuses already-quantized models.
[[nodiscard]] Result<QuantizeReport> quantize(const std::filesystem::path& model_path,
                                              const calib::TensorRanges& ranges, const QuantizeOptions& options,
                                              const std::filesystem::path& output_path);

// --- validation ---------------------------------------------------------------------------------
//
// Metrics per output over held-back samples (docs/validation.md). Cosine similarity alone ignores
// scale (an output exactly 2x the float one scores 1.0) and, pooled over samples, hides one bad
// sample among good ones; relative L2 error and SQNR see both, absolute errors give the units.

struct OutputComparison {
  std::string name;
  std::uint64_t elements = 0;       // compared over all samples
  double cosine_similarity = 0;     // of the flattened outputs pooled over all samples; 1 when both are all zero
  double min_cosine = 0;            // per sample, the lowest and the mean (same convention per sample)
  double mean_cosine = 0;
  // ||q - f|| / ||f|| over all samples: 0 when both are all zero, +inf when only f is.
  double relative_l2_error = 0;
  // Signal-to-quantization-noise ratio as ONNX Runtime's qdq_loss_debug computes it, over all
  // samples: 20 log10(max(||f||, eps) / max(||f - q||, eps)), eps = DBL_EPSILON.
  double sqnr_db = 0;
  double max_abs_error = 0;
  double mean_abs_error = 0;
  bool compared = true;             // false for non-float outputs (then `note` says why)
  // false when the float output was the same for every sample (2 or more) or all zero: the
  // comparison then cannot tell a broken quantization from a good one (`note` says why).
  bool informative = true;
  std::string note;
};

struct ValidationReport {
  std::uint64_t samples = 0;
  std::vector<OutputComparison> outputs;  // the float model's outputs, in order
};

struct CompareOptions {
  std::uint64_t max_samples = 10;  // 0: the whole source
  int intra_op_threads = 0;
};

// Runs the float and the quantized model on the same samples (the source is rewound first) and
// compares every output. Errors: either model fails to load or run, outputs differ in name or
// shape, the source yields nothing.
[[nodiscard]] Result<ValidationReport> compare_models(const std::filesystem::path& float_model,
                                                      const std::filesystem::path& quantized_model,
                                                      calib::SampleSource& source, const CompareOptions& options = {});

// compare_models with the float side given: reference.samples[i] are the float outputs of the
// i-th sample of `source` (rewound first); only the quantized model is loaded.
[[nodiscard]] Result<ValidationReport> compare_with_reference(const std::filesystem::path& quantized_model,
                                                              calib::SampleSource& source,
                                                              const calib::ReferenceOutputs& reference,
                                                              const CompareOptions& options = {});

// Which outputs warrant a warning. The defaults are set from measurements (docs/validation.md):
// a per-sample cosine below min_cosine, or an SQNR below min_sqnr_db, warns; so does an
// uninformative comparison.
struct ValidationThresholds {
  double min_cosine = 0.99;
  double min_sqnr_db = 0;  // see kDefaultMinSqnrDb
};
// Measured (docs/validation.md): well-quantized test models score 30-52 dB on held-back samples
// (bert-tiny-like 29.9 dB with every op quantized, 33.9 with MatMul/Gemm only; cnn-tiny 52 dB);
// ranges widened 8x cost ~18 dB (bert-tiny-like MatMul/Gemm only: 20.6 and 25.6 dB, per-sample
// cosine still 0.994 and 0.9985).
inline constexpr double kDefaultMinSqnrDb = 27;
[[nodiscard]] ValidationThresholds default_validation_thresholds();

// One line per finding ("output 'logits': SQNR 12.3 dB is below 25 dB (relative L2 error 0.24)"),
// in output order.
[[nodiscard]] std::vector<std::string> validation_warnings(const ValidationReport& report,
                                                           const ValidationThresholds& thresholds);

}  // namespace modelkit::quant
