// What an ONNX model is: its inputs/outputs, opsets, operators, weights, external data and
// whether it is already quantized, read without libonnx's checker (so IR 10 / opset 21 models
// from current exporters are fine). Plus finding the ONNX files in a checkpoint folder.
//
// JSON written by write_model_info_json (field names are stable; order is fixed):
// {
//   "path": "dir/model.onnx",            the file read
//   "file_bytes": 606896,                size of the .onnx file itself
//   "ir_version": 8,
//   "producer_name": "pytorch", "producer_version": "2.1.0",
//   "domain": "", "model_version": 0, "graph_name": "main_graph",
//   "opset_imports": [{"domain": "", "version": 17}, ...],   "" is the default ai.onnx domain
//   "metadata_props": {"key": "value", ...},
//   "inputs":  [{"name": "input_ids", "kind": "tensor", "element_type": "int64",
//                "shape": ["batch_size", "sequence_length"], "index_bound": 30522}, ...],
//   "outputs": [{"name": ..., "kind": ..., "element_type": ..., "shape": ...}, ...],
//       shape: an array of ints (static), strings (symbolic, by name) and null (unknown
//       dim), or null when the rank is unknown. kind: tensor, sparse_tensor, sequence, map,
//       optional or unknown; element_type: see tensor.hpp's names ("float32", "int64", ...),
//       for sequence/optional the element's. index_bound (inputs only, null if unknown): the row
//       count of the initializer this input indexes through Gather (a vocabulary size).
//   "node_count": 272,                   nodes of the main graph
//   "subgraph_node_count": 0,            nodes inside If/Loop/Scan bodies, recursively
//   "function_count": 0,                 model-local functions
//   "op_types": {"MatMul": 48, "com.microsoft.Attention": 2, ...}   main graph; most used
//                                         first; ops of non-default domains as domain.op
//   "initializer_count": 199, "initializer_bytes": 4400000,   dense bytes, inline and external
//   "external_data": {"bytes": 0, "files": [{"location": "model.onnx_data",
//                     "file_bytes": 123, "tensor_count": 4}]},
//   "quantization": {"quantized": false, "evidence": ["QuantizeLinear x12", ...]}
// }
#pragma once

#include <modelkit/result.hpp>
#include <modelkit/tensor.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace modelkit::onnx {

// One dimension of a declared shape: a static size, a symbolic name, or neither (unknown).
struct Dim {
  std::optional<std::int64_t> value;
  std::string symbol;

  [[nodiscard]] bool is_static() const { return value.has_value(); }
  [[nodiscard]] bool is_anonymous() const { return !value && symbol.empty(); }
};

struct ValueInfo {
  std::string name;
  std::string kind = "tensor";  // tensor, sparse_tensor, sequence, map, optional, unknown
  ElementType element_type = ElementType::undefined;
  bool has_shape = false;  // false: not even the rank is declared
  std::vector<Dim> shape;
  std::optional<std::int64_t> index_bound;  // inputs feeding Gather on an initializer: its dim 0
};

struct OpsetImport {
  std::string domain;  // "" = ai.onnx
  std::int64_t version = 0;
};

struct OpCount {
  std::string op;  // "MatMul", or "com.microsoft.Attention" for other domains
  std::int64_t count = 0;
};

struct ExternalDataFile {
  std::string location;  // as written in the model, relative to its folder
  std::uint64_t file_bytes = 0;
  std::int64_t tensor_count = 0;
};

struct QuantizationInfo {
  bool quantized = false;
  std::vector<std::string> evidence;  // "QuantizeLinear x12", "int8 initializers x40 (e.g. 'w')"
};

struct ModelInfo {
  std::string path;
  std::uint64_t file_bytes = 0;
  std::int64_t ir_version = 0;
  std::string producer_name;
  std::string producer_version;
  std::string domain;
  std::int64_t model_version = 0;
  std::string graph_name;
  std::vector<OpsetImport> opset_imports;
  std::vector<std::pair<std::string, std::string>> metadata_props;
  std::vector<ValueInfo> inputs;  // graph inputs that are not initializers
  std::vector<ValueInfo> outputs;
  std::int64_t node_count = 0;
  std::int64_t subgraph_node_count = 0;
  std::int64_t function_count = 0;
  std::vector<OpCount> op_types;  // main graph, count descending then name
  std::int64_t initializer_count = 0;
  std::uint64_t initializer_bytes = 0;
  std::uint64_t external_data_bytes = 0;  // part of initializer_bytes held in side files
  std::vector<ExternalDataFile> external_data_files;
  QuantizationInfo quantization;

  // Version of the default (ai.onnx) opset, 0 if not imported.
  [[nodiscard]] std::int64_t default_opset() const;
};

// Reads an .onnx file and describes it. External data files are located and size-checked (not
// read). Errors name the file: not found, not an ONNX model (truncated or corrupt protobuf),
// over protobuf's 2 GiB limit, external data outside the model's folder or missing.
[[nodiscard]] Result<ModelInfo> read_model_info(const std::filesystem::path& path);

// Human-readable multi-line summary for `modelkit inspect`.
[[nodiscard]] std::string format_model_info_table(const ModelInfo& info);

// "[batch_size, sequence_length, 768]"; "?" for unknown dims; "unknown rank" without a shape.
[[nodiscard]] std::string format_dims(const ValueInfo& value);

// --- ONNX files in a checkpoint folder ----------------------------------------------------------

// What a file name says the file is. onnx-community/Xenova repos ship model.onnx (float32) next
// to model_quantized.onnx, model_int8.onnx, model_uint8.onnx, model_q4.onnx, model_q4f16.onnx,
// model_bnb4.onnx and model_fp16.onnx.
enum class OnnxVariant { float32, fp16, quantized, int8, uint8, q4, q4f16, bnb4 };

struct OnnxFile {
  std::filesystem::path path;  // absolute or as given + relative part
  std::string relative_path;   // "model.onnx", "onnx/model_q4.onnx"
  std::string stem;            // file stem without the variant suffix: "model", "decoder_model_merged"
  OnnxVariant variant = OnnxVariant::float32;
  bool is_float_model = false;  // the one float32 model to quantize/run (at most one per folder)
};

[[nodiscard]] std::string_view variant_name(OnnxVariant v);  // "float32", "fp16", "quantized", "int8", ...
[[nodiscard]] bool variant_is_quantized(OnnxVariant v);

// Finds *.onnx in `folder` and `folder`/onnx, sorted by relative path. The float model is
// model.onnx (top level preferred over onnx/), else the only float32-named file if there is just
// one. Errors: the folder cannot be listed.
[[nodiscard]] Result<std::vector<OnnxFile>> scan_folder(const std::filesystem::path& folder);

// `path` itself if it is a file; for a folder its float model, else an error that lists what
// the folder holds.
[[nodiscard]] Result<std::filesystem::path> resolve_model_path(const std::filesystem::path& path);

}  // namespace modelkit::onnx
