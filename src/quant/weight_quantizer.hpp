// Offline weight quantization at the speed of the disk (internal to the quant area): each
// weight's float values are read where they lie — the protobuf's raw_data or float_data, or a
// read-only mapping of its external data file — with no float copy in memory, and quantized in
// chunks across threads. Chunks only take a maximum (exact, order-free) or write their own
// elements, so the result is the same bytes whatever the thread count, and the same bytes as
// quantize_weight (params.cpp), which stays the reference (tests compare the two).
#pragma once

#include "onnx/deferred_data.hpp"
#include "quant/params.hpp"

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace modelkit::quant {

struct WeightJob {
  const ::onnx::TensorProto* proto = nullptr;
  int axis = -1;  // per-channel axis; -1 per-tensor
};

// Where an external float32 tensor's values lie: the resolved file (confined to the model's
// folder), the location as the model names it (for errors) and the checked byte range.
struct ExternalFloats {
  std::filesystem::path file;
  std::string location;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

// A weight quantized while the model is written (streamed): its parameters are computed up front
// (one pass over the float values), its values produced window by window by
// write_streamed_weight, so neither the float nor the quantized tensor is ever held in memory.
struct StreamedWeight {
  std::string name;
  ExternalFloats source;
  QuantType type = QuantType::int8;
  int axis = -1;
  std::vector<std::int64_t> shape;
  std::vector<QuantParams> params;
  std::size_t channels = 1, inner = 1;  // layout around the axis: [outer, channels, inner]
  [[nodiscard]] std::uint64_t quantized_bytes() const;
};

// The streamed form of `job` as quantize_weights would quantize it, when it can be streamed: an
// 8- or 16-bit type and float32 values in an external data file (nullopt otherwise). Reads the
// values once for the parameters.
[[nodiscard]] Result<std::optional<StreamedWeight>> prepare_streamed_weight(const WeightJob& job, QuantType type,
                                                                            const std::filesystem::path& model_dir,
                                                                            int threads);

// Hands `w`'s quantized bytes, in order, to `sink`: the same bytes quantize_weights produces,
// windows quantized by `threads` workers ahead of the writing (this) thread. The values are read
// again from the file (its range checked again).
[[nodiscard]] Result<void> write_streamed_weight(const StreamedWeight& w, int threads, const onnx::ByteSink& sink);

// Worker threads for weight quantization: the machine's hardware threads (at least 1, at most 16).
[[nodiscard]] int weight_quantization_threads();

// Quantizes every job as quantize_weight would (symmetric, per-tensor or per-channel along its
// axis), one tensor after the other, each tensor's chunks spread over `threads` workers. Results
// are in job order. External data is read from `model_dir` (locations confined to it, ranges
// checked against the file). Errors name the tensor.
[[nodiscard]] Result<std::vector<QuantizedTensor>> quantize_weights(std::span<const WeightJob> jobs, QuantType type,
                                                                    const std::filesystem::path& model_dir,
                                                                    int threads);

}  // namespace modelkit::quant
