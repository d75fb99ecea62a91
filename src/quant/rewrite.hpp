// Shared by the conversions of precisions.hpp (internal): loading a float model, unique names,
// recursive renaming of a value's uses, node decisions into the report, and writing + loading
// the result in ONNX Runtime.
#pragma once

#include <modelkit/precisions.hpp>

#include "onnx/model_proto.hpp"
#include "quant/graph.hpp"
#include "util/name_pattern.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace modelkit::quant {

struct FloatModel {
  ::onnx::ModelProto model;
  onnx::ModelInfo info;
  std::filesystem::path dir;  // the model's folder (external data)
};

// Reads the model; refuses quantized ones, naming what `precision` converts.
[[nodiscard]] Result<FloatModel> load_model_for(const std::filesystem::path& path, std::string_view precision);

// Every name of every graph (values, nodes), for unique().
class NameSet {
 public:
  explicit NameSet(const ::onnx::ModelProto& model);
  std::string unique(const std::string& base);

 private:
  void add_graph(const ::onnx::GraphProto& g);
  std::set<std::string> names_;
};

// Replaces reads of `from` by `to` in `graph`'s nodes and in every body below them.
void rename_uses(::onnx::GraphProto& graph, const std::string& from, const std::string& to);

// A node's decision for the report.
struct NodeOutcome {
  std::string name, op_type, graph, status, reason;
};
// Fills nodes, op_types and the counts of the report from the outcomes ("converted" and
// "quantized" count as quantized).
void summarize(QuantizeReport& report, std::vector<NodeOutcome> outcomes);

// Writes the model (external data read from `source_dir` as needed), fills output_bytes and
// checks that ONNX Runtime loads it.
[[nodiscard]] Result<void> save_and_check(::onnx::ModelProto& model, const std::filesystem::path& source_dir,
                                          const std::filesystem::path& output_path, QuantizeReport& report);

// The report's common fields.
[[nodiscard]] QuantizeReport start_report(const FloatModel& m, const std::filesystem::path& model_path,
                                          const std::filesystem::path& output_path, std::string_view precision);

// Names read by `g`'s nodes and outputs, and by every body below them.
[[nodiscard]] std::set<std::string> names_read(const ::onnx::GraphProto& g);

// Drops `g`'s initializers that are not in `read`, and the graph inputs of the same names.
void drop_initializers_not_in(::onnx::GraphProto& g, const std::set<std::string>& read);

// The size of an .onnx file (0 when unreadable) and, with `info`, plus the external data files it names.
[[nodiscard]] std::uint64_t file_size_or_zero(const std::filesystem::path& p);
[[nodiscard]] std::uint64_t model_bytes(const std::filesystem::path& path, const onnx::ModelInfo* info);

// Why a MatMul's weight cannot take a weight-only conversion (int4, dynamic), or nothing when it
// can: the node is not excluded by a pattern (a matching pattern is marked used), input A is
// float32 and B a constant 2-D float32 tensor. Returns B's proto through `weight`.
[[nodiscard]] std::optional<std::string> matmul_weight_refusal(const ::onnx::NodeProto& n, const GraphScope& s,
                                                               const std::vector<util::NamePattern>& excludes,
                                                               std::vector<bool>& exclude_used,
                                                               const ::onnx::TensorProto*& weight);

// Adds `domain` at `version` to the model's opset imports unless present.
void ensure_opset(::onnx::ModelProto& model, const std::string& domain, std::int64_t version);

}  // namespace modelkit::quant
