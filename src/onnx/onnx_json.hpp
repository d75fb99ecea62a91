// JSON writers of the onnx area's reports (internal: util::JsonWriter is not installed).
// Field names are stable; the commands' JSON outputs and the build manifest use them.
#pragma once

#include <modelkit/onnx.hpp>
#include <modelkit/random_inputs.hpp>

#include "util/json_writer.hpp"

#include <vector>

namespace modelkit::onnx {

// The object documented in onnx.hpp (read_model_info).
void write_model_info_json(util::JsonWriter& json, const ModelInfo& info);
// Array of {"path", "variant", "is_float_model"} for scan_folder's result.
void write_onnx_files_json(util::JsonWriter& json, const std::vector<OnnxFile>& files);

}  // namespace modelkit::onnx

namespace modelkit {

// {"seed": S, "inputs": [records]}; a record is
// {"name", "element_type", "shape": [1, 128], "fill": "...", "dims": ["batch_size=1 (batch)", ...]}.
void write_random_inputs_json(util::JsonWriter& json, const RandomInputs& inputs);
// Just the array of records.
void write_random_input_records_json(util::JsonWriter& json, const std::vector<RandomInputRecord>& records);

}  // namespace modelkit
