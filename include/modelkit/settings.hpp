// Settings that take one of a fixed set of values: each is an enum with one table. Parsing
// (with its "did you mean"), the value lists in --help, 'modelkit help', the bash completion,
// docs/cli.md and every error message are generated from these tables, so adding a value is
// adding a row (plus, where a row names one, its implementation file). Strings are parsed once,
// at the edge (CLI flags, build_config.json); the library carries the enums.
#pragma once

#include <modelkit/result.hpp>
#include <modelkit/tensor.hpp>

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace modelkit {

// ---- the tables ---------------------------------------------------------------------------------

// Integer types of QDQ quantization. `min_opset` is the default-domain opset whose
// QuantizeLinear/DequantizeLinear accept the type (below it the quantizer uses com.microsoft's
// Q/DQ, which ONNX Runtime's QDQ fusions also match).
enum class QuantType { uint8, int8, uint16, int16 };
struct QuantTypeInfo {
  QuantType value;
  std::string_view name;
  std::string_view help;
  ElementType element_type;
  int bits;
  bool is_signed;
  int min_opset;
};
inline constexpr QuantTypeInfo kQuantTypes[] = {
    {QuantType::uint8, "uint8", "8-bit unsigned", ElementType::uint8, 8, false, 10},
    {QuantType::int8, "int8", "8-bit signed", ElementType::int8, 8, true, 10},
    {QuantType::uint16, "uint16", "16-bit unsigned", ElementType::uint16, 16, false, 21},
    {QuantType::int16, "int16", "16-bit signed", ElementType::int16, 16, true, 21},
};

// Where calibration samples come from. The task -> kind table is in registry.hpp
// (calibration_kind_for_task); each kind's source is built in src/calib/ (sources.cpp).
enum class CalibrationKind { text, image, audio, random };
struct CalibrationKindInfo {
  CalibrationKind value;
  std::string_view name;
  std::string_view help;
};
inline constexpr CalibrationKindInfo kCalibrationKinds[] = {
    {CalibrationKind::text, "text",
     "the checkpoint's tokenizer.json applied to text: input_ids, attention_mask, token_type_ids"},
    {CalibrationKind::image, "image",
     "images decoded and preprocessed (preprocessor_config.json, else the image flags) into pixel_values or the "
     "input shaped like an image"},
    {CalibrationKind::audio, "audio",
     "audio decoded, resampled and turned into features as preprocessor_config.json says (input_values, "
     "input_features), or the raw waveform for models that take one (docs/audio.md)"},
    {CalibrationKind::random, "random",
     "one seeded tensor per ONNX input, from the model's own input names, types and shapes"},
};

// How activation ranges are derived from the calibration samples.
enum class CalibrationMethod { minmax, percentile, entropy };
struct CalibrationMethodInfo {
  CalibrationMethod value;
  std::string_view name;
  std::string_view help;
  bool histogram;  // needs a histogram pass (histogram_bins applies)
};
inline constexpr CalibrationMethodInfo kCalibrationMethods[] = {
    {CalibrationMethod::minmax, "minmax", "the smallest and largest value seen", false},
    {CalibrationMethod::percentile, "percentile", "the symmetric percentile of |x| (default 99.999)", true},
    {CalibrationMethod::entropy, "entropy", "the threshold minimizing KL divergence (TensorRT-style)", true},
};

// How images are laid out in a model input (image calibration of non-HF models).
enum class ImageLayout { nchw, nhwc };
struct ImageLayoutInfo {
  ImageLayout value;
  std::string_view name;
  std::string_view help;
};
inline constexpr ImageLayoutInfo kImageLayouts[] = {
    {ImageLayout::nchw, "nchw", "channels first: [N, 3, H, W]"},
    {ImageLayout::nhwc, "nhwc", "channels last: [N, H, W, 3]"},
};

// How an image reaches the input's size when no preprocessor_config.json says.
enum class ResizeMode { stretch, crop };
struct ResizeModeInfo {
  ResizeMode value;
  std::string_view name;
  std::string_view help;
};
inline constexpr ResizeModeInfo kResizeModes[] = {
    {ResizeMode::stretch, "stretch", "resize to the input's height and width (aspect ratio not kept)"},
    {ResizeMode::crop, "crop", "resize the shortest edge to the larger side, then crop the centre"},
};

// Precisions. The static ones are presets over the weight and activation types of static QDQ
// quantization (--precision sets both; --weight-type/--activation-type given as well must agree);
// the others are their own conversions (src/quant: float16.cpp, matmul_nbits.cpp, dynamic.cpp),
// which take no calibration and no weight/activation type.
enum class Precision { int8, int16, w8a16, fp16, int4, dynamic };
enum class PrecisionKind {
  static_qdq,    // QDQ with calibrated activation ranges (quant::quantize)
  float16,       // float16 weights and compute, float32 graph inputs/outputs
  weight_only,   // MatMul weights in 4-bit blocks (com.microsoft MatMulNBits), activations float
  dynamic_int8,  // int8 weights, activations quantized at run time
};
struct PrecisionInfo {
  Precision value;
  std::string_view name;
  std::string_view help;
  QuantType weight_type;
  QuantType activation_type;
  PrecisionKind kind = PrecisionKind::static_qdq;
};
[[nodiscard]] constexpr bool needs_calibration(PrecisionKind kind) { return kind == PrecisionKind::static_qdq; }
inline constexpr PrecisionInfo kPrecisions[] = {
    {Precision::int8, "int8", "static QDQ: int8 weights, uint8 activations (the default)", QuantType::int8,
     QuantType::uint8},
    {Precision::int16, "int16", "static QDQ: int16 weights, uint16 activations", QuantType::int16, QuantType::uint16},
    {Precision::w8a16, "w8a16", "static QDQ: int8 weights, uint16 activations", QuantType::int8, QuantType::uint16},
    {Precision::fp16, "fp16", "float16 weights and compute, float32 inputs/outputs; no calibration", QuantType::int8,
     QuantType::uint8, PrecisionKind::float16},
    {Precision::int4, "int4",
     "weight-only 4-bit blocks of MatMul weights (com.microsoft MatMulNBits, ONNX Runtime); no calibration",
     QuantType::int8, QuantType::uint8, PrecisionKind::weight_only},
    {Precision::dynamic, "dynamic", "int8 weights, activations quantized at run time; no calibration",
     QuantType::int8, QuantType::uint8, PrecisionKind::dynamic_int8},
};

// Block sizes of 4-bit weight-only quantization (--block-size): a power of two from 16.
inline constexpr int kDefaultBlockSize = 128;
inline constexpr int kMinBlockSize = 16;
inline constexpr int kMaxBlockSize = 2048;
// MatMulNBits' accuracy_level (--accuracy-level): the lowest type the kernel may compute A in.
// 0 leaves it to ONNX Runtime.
inline constexpr int kMaxAccuracyLevel = 4;

// Graph optimization before quantization (the build's optimize stage): ONNX Runtime's offline
// optimizer at a level, whose result is the float model the later stages quantize.
enum class OptimizeLevel { none, basic, extended };
struct OptimizeLevelInfo {
  OptimizeLevel value;
  std::string_view name;
  std::string_view help;
};
inline constexpr OptimizeLevelInfo kOptimizeLevels[] = {
    {OptimizeLevel::none, "none", "quantize the model as given"},
    {OptimizeLevel::basic, "basic",
     "ONNX Runtime's basic optimizations first: constant folding, redundant nodes removed (portable)"},
    {OptimizeLevel::extended, "extended",
     "basic plus ONNX Runtime's fusions (LayerNormalization, GELU, attention) into com.microsoft ops: "
     "the result runs on ONNX Runtime's CPU provider only"},
};

// What a command prints.
enum class OutputFormat { table, json };
struct OutputFormatInfo {
  OutputFormat value;
  std::string_view name;
  std::string_view help;
};
inline constexpr OutputFormatInfo kOutputFormats[] = {
    {OutputFormat::table, "table", "aligned text for people"},
    {OutputFormat::json, "json", "one JSON object"},
};

// ---- generic access -------------------------------------------------------------------------------

template <class E>
struct SettingTable;
template <>
struct SettingTable<QuantType> {
  static constexpr std::span<const QuantTypeInfo> rows{kQuantTypes};
};
template <>
struct SettingTable<CalibrationKind> {
  static constexpr std::span<const CalibrationKindInfo> rows{kCalibrationKinds};
};
template <>
struct SettingTable<CalibrationMethod> {
  static constexpr std::span<const CalibrationMethodInfo> rows{kCalibrationMethods};
};
template <>
struct SettingTable<ImageLayout> {
  static constexpr std::span<const ImageLayoutInfo> rows{kImageLayouts};
};
template <>
struct SettingTable<ResizeMode> {
  static constexpr std::span<const ResizeModeInfo> rows{kResizeModes};
};
template <>
struct SettingTable<Precision> {
  static constexpr std::span<const PrecisionInfo> rows{kPrecisions};
};
template <>
struct SettingTable<OptimizeLevel> {
  static constexpr std::span<const OptimizeLevelInfo> rows{kOptimizeLevels};
};
template <>
struct SettingTable<OutputFormat> {
  static constexpr std::span<const OutputFormatInfo> rows{kOutputFormats};
};

// The row of a value (every enumerator has one; tests check the tables are complete).
// Rows are kept in enumerator order, so this is an index (the quantizer asks per element); the
// scan is the fallback for a table that is not.
template <class E>
[[nodiscard]] constexpr const auto& setting_info(E value) {
  const auto index = static_cast<std::size_t>(value);
  if (index < SettingTable<E>::rows.size() && SettingTable<E>::rows[index].value == value)
    return SettingTable<E>::rows[index];
  for (const auto& row : SettingTable<E>::rows)
    if (row.value == value) return row;
  return SettingTable<E>::rows.front();
}

template <class E>
[[nodiscard]] constexpr std::string_view setting_name(E value) {
  return setting_info(value).name;
}

template <class E>
[[nodiscard]] std::vector<std::string> setting_names() {
  std::vector<std::string> out;
  for (const auto& row : SettingTable<E>::rows) out.emplace_back(row.name);
  return out;
}

// "a, b, c" (or with another separator).
template <class E>
[[nodiscard]] std::string setting_list(std::string_view separator = ", ") {
  std::string out;
  for (const auto& row : SettingTable<E>::rows) {
    if (!out.empty()) out.append(separator);
    out.append(row.name);
  }
  return out;
}

// "expected one of a, b, c, got 'x' (did you mean 'b'?)" — a usage error the caller prefixes
// with where the value came from ("option '--method'", "field 'calibration.method'").
[[nodiscard]] Error unknown_setting_value(std::span<const std::string_view> names, std::string_view got);
// The name closest to `got` when it is close enough to be a typo ("did you mean"), else empty.
[[nodiscard]] std::string_view closest_name(std::span<const std::string_view> names, std::string_view got);

template <class E>
[[nodiscard]] Result<E> parse_setting(std::string_view text) {
  for (const auto& row : SettingTable<E>::rows)
    if (row.name == text) return row.value;
  std::vector<std::string_view> names;
  for (const auto& row : SettingTable<E>::rows) names.push_back(row.name);
  return unknown_setting_value(names, text);
}

// The same, prefixed with the option name: "option '--method': expected one of ...".
template <class E>
[[nodiscard]] Result<E> parse_option_setting(std::string_view option, std::string_view text) {
  auto parsed = parse_setting<E>(text);
  if (!parsed) return parsed.error().with_context("option '" + std::string(option) + "'");
  return parsed;
}

}  // namespace modelkit
