// The calibration op: FiniteMinMax (domain ai.modelkit) takes a tensor of any floating type and
// outputs float32 [2] = {min, max} of its finite values ({+inf, -inf} when there is none). One
// pass over data the producing node has just written, where ONNX's ReduceMin plus ReduceMax are
// two nodes and two passes.
#pragma once

#ifndef ORT_API_MANUAL_INIT
#define ORT_API_MANUAL_INIT
#endif
#include <onnxruntime_cxx_api.h>

namespace modelkit::runtime {

// Adds the domain holding the op to `options`; the domain lives for the process.
void add_calibration_ops(Ort::SessionOptions& options);

}  // namespace modelkit::runtime
