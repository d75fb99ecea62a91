// Offline weight quantization at the speed of the disk (internal to the quant area): each
// weight's float values are read where they lie — the protobuf's raw_data or float_data, or a
// read-only mapping of its external data file — with no float copy in memory, and quantized in
// chunks across threads. Chunks only take a maximum (exact, order-free) or write their own
// elements, so the result is the same bytes whatever the thread count, and the same bytes as
// quantize_weight (params.cpp), which stays the reference (tests compare the two).
#pragma once

#include "quant/params.hpp"

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <span>
#include <vector>

namespace modelkit::quant {

struct WeightJob {
  const ::onnx::TensorProto* proto = nullptr;
  int axis = -1;  // per-channel axis; -1 per-tensor
};

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
