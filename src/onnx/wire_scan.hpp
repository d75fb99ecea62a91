// The parts of an ONNX ModelProto that `inspect` shows, read straight from the protobuf wire
// format: names, types, shapes, operators, tensor dims and data types, and the SIZE of each
// tensor's data taken from its length prefix. Tensor payloads (raw_data, float_data, ...) are
// stepped over without being read, so describing a 1 GiB model touches only its graph: the file
// is memory-mapped and only the pages holding the graph are ever read.
//
// Every length is checked against what encloses it before it is used, nesting is bounded, and a
// varint may not run past 10 bytes; a malformed file is a one-line error naming it and saying
// what is wrong where (byte offset). What protobuf would do is followed where it changes what is
// shown: a singular message seen twice is merged, the last scalar wins, a oneof keeps the member
// set last, packed and unpacked repeated numbers are both read, a field with an unexpected wire
// type is skipped like protobuf skips an unknown field, an enum value outside DataLocation is
// ignored. Fields inspect does not show are skipped by their wire type, not checked inside.
//
// Views (std::string_view) point into the scanned bytes, which must outlive the result.
#pragma once

#include <modelkit/result.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace modelkit::onnx::wire {

// Messages nested deeper than this are refused (protobuf's own default limit is 100).
inline constexpr int kMaxNesting = 100;

using StringPairs = std::vector<std::pair<std::string_view, std::string_view>>;

struct Tensor {
  std::string_view name;
  std::vector<std::int64_t> dims;
  std::int32_t data_type = 0;
  bool external = false;  // data_location == EXTERNAL
  StringPairs external_data;
  bool has_raw_data = false;
  std::uint64_t raw_data_bytes = 0;
  // Entries of float_data, int32_data, int64_data, double_data and uint64_data together.
  std::uint64_t typed_entries = 0;
};

struct Dimension {
  int which = 0;  // 1 dim_value, 2 dim_param, 0 neither
  std::int64_t value = 0;
  std::string_view param;
};

// TypeProto. `which` is the field number of the oneof member last set (0: none):
// 1 tensor_type, 4 sequence_type, 5 map_type, 7 opaque_type, 8 sparse_tensor_type, 9 optional_type.
struct Type {
  int which = 0;
  std::int32_t elem_type = 0;  // tensor/sparse tensor elem_type, map key_type
  bool has_shape = false;
  std::vector<Dimension> shape;
  std::unique_ptr<Type> inner;  // sequence/optional elem_type
};

struct ValueInfo {
  std::string_view name;
  bool has_type = false;
  Type type;
};

struct Graph;

struct Attribute {
  std::string_view name;
  std::int64_t i = 0;
  bool has_t = false;
  Tensor t;
  std::vector<Tensor> tensors;
  std::unique_ptr<Graph> g;  // set when the attribute has a graph
  std::vector<Graph> graphs;
};

struct Node {
  std::string_view op_type;
  std::string_view domain;
  std::vector<std::string_view> inputs;
  std::vector<Attribute> attributes;
};

struct SparseTensor {
  Tensor values;
  Tensor indices;
};

struct Graph {
  std::string_view name;
  std::vector<Node> nodes;
  std::vector<Tensor> initializers;
  std::vector<SparseTensor> sparse_initializers;
  std::vector<ValueInfo> inputs;
  std::vector<ValueInfo> outputs;
};

struct OpsetId {
  std::string_view domain;
  std::int64_t version = 0;
};

struct Model {
  std::int64_t ir_version = 0;
  std::string_view producer_name;
  std::string_view producer_version;
  std::string_view domain;
  std::int64_t model_version = 0;
  bool has_graph = false;
  Graph graph;
  std::vector<OpsetId> opset_imports;
  StringPairs metadata_props;
  std::vector<std::vector<Node>> function_nodes;  // the nodes of each model-local function
};

// Scans serialized ModelProto bytes. `what` names the source in errors ("'x.onnx'"). Refuses
// what parse_model_proto refuses (empty, over 2 GiB, no graph, ir_version <= 0) and malformed
// wire data.
[[nodiscard]] Result<Model> scan_model(std::string_view bytes, std::string_view what);

// A read-only memory map of a whole file (empty files map to an empty view).
class MappedFile {
 public:
  // Errors name the file: missing, a folder, not a regular file, unreadable.
  [[nodiscard]] static Result<MappedFile> open(const std::filesystem::path& path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  [[nodiscard]] std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }

 private:
  MappedFile() = default;
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace modelkit::onnx::wire

#include <modelkit/onnx.hpp>

namespace modelkit::onnx {

// What inspect shows of a scanned model (read_model_info is this on scan_model of the mapped
// file; model_info_from_proto converts a parsed model to the same view first).
[[nodiscard]] Result<ModelInfo> model_info_from_scan(const wire::Model& model, const std::filesystem::path& path,
                                                     std::uint64_t file_bytes);

}  // namespace modelkit::onnx
