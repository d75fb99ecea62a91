// The precisions that are not static QDQ (settings.hpp, PrecisionKind): each rewrites a float
// model without calibration, writes it and checks that ONNX Runtime loads it. Each refuses
// quantized models. The report is the same QuantizeReport static quantization fills (precision
// names which; nodes say per node what happened).
//
//   - fp16 (float16.cpp): float32 initializers, Constant values and compute become float16; the
//     graph's float32 inputs and outputs stay float32 with a Cast at each edge. Ops ONNX Runtime's
//     float16 converter keeps in float32 (float16_op_block_list) stay so, with Casts where they
//     meet converted ones; an initializer only such ops read stays float32. Values beyond the
//     float16 range are clamped to +-65504 (nonzero values below its smallest subnormal are kept
//     nonzero at +-2^-24), with a warning per initializer.
//   - int4 (matmul_nbits.cpp): MatMuls whose B is a 2-D float32 initializer become com.microsoft
//     MatMulNBits (ONNX Runtime contrib op, 4 bits): B transposed to [N, K], cut into blocks of
//     block_size along K, each block rounded to nearest with its own scale (and zero point when
//     asymmetric), packed two values a byte (low nibble first) as uint8 [N, K/block_size,
//     block_size/2]; scales float32 [N * K/block_size]; zero points uint8, two blocks a byte,
//     ceil(K/block_size / 2) bytes a column. Asymmetric: scale = (max' - min') / 15 over the
//     block's range widened to include 0, zero point round(-min' / scale); symmetric: scale =
//     v / -8 for the block's value v of largest magnitude, zero point 8 (implied, no input).
//     MatMuls whose K is not a multiple of block_size, or whose B is not a constant, stay float
//     and are reported. With `embeddings`, Gathers on axis 0 of a 2-D float32 table (word
//     embeddings) become com.microsoft GatherBlockQuantized (uint8 data, bits = 4): the same
//     blocks along each row (the table [V, D] is B^T, so K = D and N = V), data [V, D/2], scales
//     [V, D/block_size], zero points [V, ceil(D/block_size / 2)].
//   - dynamic (dynamic.cpp): MatMuls with a constant 2-D float32 B get int8 weights (symmetric,
//     per-tensor; 7-bit with reduce_range) and activations quantized at run time
//     (DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul, which ONNX Runtime fuses into one
//     kernel). Convs with a constant float32 W get int8 W per output channel (zero point 0) and
//     either the QDQ form (default; DequantizeLinear on the run-time quantized input and on W,
//     float Conv) or ConvInteger (per-channel scales applied by the Mul, the bias by an Add).
#pragma once

#include <modelkit/quantize.hpp>
#include <modelkit/result.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace modelkit::quant {

// Op types kept in float32 by the fp16 conversion (as ONNX Runtime's float16 converter keeps them).
[[nodiscard]] const std::vector<std::string>& float16_op_block_list();

// float16 limits: the largest finite value and the smallest positive subnormal.
inline constexpr float kFloat16Max = 65504.0f;
inline constexpr float kFloat16MinPositive = 5.96046448e-08f;  // 2^-24

[[nodiscard]] Result<QuantizeReport> convert_float16(const std::filesystem::path& model_path,
                                                     const std::filesystem::path& output_path);

struct WeightOnlyOptions {
  int block_size = kDefaultBlockSize;  // power of two, >= 16
  bool symmetric = false;
  int accuracy_level = 0;  // 0..4; 0 leaves it to ONNX Runtime
  std::vector<std::string> exclude_nodes;  // names or RE2 patterns (whole name)
  bool embeddings = false;  // also Gather tables -> GatherBlockQuantized (--int4-embeddings)
};
// Usage error unless `block_size` is a power of two from kMinBlockSize to kMaxBlockSize.
[[nodiscard]] Result<void> check_block_size(std::int64_t block_size);

[[nodiscard]] Result<QuantizeReport> quantize_matmul_nbits(const std::filesystem::path& model_path,
                                                           const WeightOnlyOptions& options,
                                                           const std::filesystem::path& output_path);

// How dynamic writes a Conv. Measured on the ResNet-style CNN, one thread (docs/precisions.md):
// ONNX Runtime runs ConvInteger without its NCHWc kernels or fusions, about 3x slower than the
// QDQ form, whose Conv runs in float on the dequantized values.
enum class DynamicConvForm {
  qdq,      // DynamicQuantizeLinear -> DequantizeLinear -> Conv <- DequantizeLinear(int8 W, axis 0)
  integer,  // DynamicQuantizeLinear -> ConvInteger -> Cast -> Mul(scales) -> Add(bias), as ONNX Runtime's quantizer
};
struct DynamicConvFormInfo {
  DynamicConvForm value;
  std::string_view name, help;
};
inline constexpr DynamicConvFormInfo kDynamicConvForms[] = {
    {DynamicConvForm::qdq, "qdq", "DequantizeLinear around a float Conv (the default: faster on CPU)"},
    {DynamicConvForm::integer, "integer", "ConvInteger, as ONNX Runtime's dynamic quantizer writes it"},
};

struct DynamicOptions {
  bool reduce_range = false;  // 7-bit weights
  std::vector<std::string> exclude_nodes;
  DynamicConvForm conv_form = DynamicConvForm::qdq;
};
[[nodiscard]] Result<QuantizeReport> quantize_dynamic(const std::filesystem::path& model_path,
                                                      const DynamicOptions& options,
                                                      const std::filesystem::path& output_path);

}  // namespace modelkit::quant
