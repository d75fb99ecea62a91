// Graph views for quantization (internal): per-graph indexes over a ModelProto with scopes for
// If/Loop/Scan bodies, element type inference, Constant-to-initializer conversion, and the
// planner that decides which nodes and tensors get QDQ.
#pragma once

#include <modelkit/quantize.hpp>
#include <modelkit/tensor.hpp>

#include "quant/rules.hpp"

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace modelkit::quant {

// One graph (main or a body) with indexes. Pointers into the ModelProto stay valid as long as
// nodes are not removed or reordered (repeated fields of messages keep element addresses).
struct GraphScope {
  ::onnx::GraphProto* graph = nullptr;
  GraphScope* parent = nullptr;
  std::string path;  // "" for the main graph, "If_0/then_branch/..." for bodies
  std::string owner_op;  // op type of the node holding this body ("If", "Loop", "Scan"); "" for main
  std::map<std::string, int> producer;                                // value -> node index
  std::map<std::string, std::vector<std::pair<int, int>>> consumers;  // value -> (node, input slot)
  std::map<std::string, ::onnx::TensorProto*> initializers;
  std::set<std::string> inputs, outputs;
  std::set<std::string> used_by_bodies;  // names referenced inside descendant bodies
  std::map<std::string, ElementType> types;
  std::vector<GraphScope*> children;

  // Initializer visible from this graph (own first, then enclosing graphs).
  [[nodiscard]] ::onnx::TensorProto* find_initializer(const std::string& name) const;
  [[nodiscard]] std::optional<ElementType> type_of(const std::string& name) const;
  [[nodiscard]] bool defines(const std::string& name) const;
};

// Turns Constant nodes holding a tensor (`value`, `value_float(s)`, `value_int(s)`) into
// initializers of their graph, in every graph. Returns how many.
std::int64_t constants_to_initializers(::onnx::ModelProto& model);

// Folds BatchNormalization nodes (inference form, one output) into the Conv before them when
// the Conv's output feeds only the BN and weights and BN parameters are float32 initializers:
// W' = W * g, B' = (B - mean) * g + beta with g = gamma / sqrt(var + eps) per output channel.
// This is what onnxruntime's quantization pre-processing does through ORT's optimizer; done
// here, the Conv keeps a bias we can quantize. Returns how many were folded.
[[nodiscard]] Result<std::int64_t> fold_batch_norms(::onnx::ModelProto& model, const std::filesystem::path& model_dir);

// The named transform passes that run before planning, in order (ONNX Runtime's quantizer
// pre-processing does the same): "constants-to-initializers", then "fold-batch-norm".
struct PassRun {
  std::string_view name;
  std::int64_t changed = 0;  // what the pass converted or folded
};
[[nodiscard]] Result<std::vector<PassRun>> run_pre_passes(::onnx::ModelProto& model,
                                                          const std::filesystem::path& model_dir);

// Builds scopes for every graph of the model (index 0 = main graph) and infers element types.
std::vector<std::unique_ptr<GraphScope>> build_scopes(::onnx::ModelProto& model);

// The role of a node at the model's opset (rules.cpp); nullopt when it is not quantized.
[[nodiscard]] std::optional<Role> role_of(const ::onnx::NodeProto& node, std::int64_t opset);
// The model's default-domain opset.
[[nodiscard]] std::int64_t default_opset(const ::onnx::ModelProto& model);

// A tensor quantized as an activation in one graph (Q/DQ placed in that graph).
struct ActivationTensor {
  GraphScope* scope = nullptr;
  std::string name;
  bool is_initializer = false;  // quantized offline with the activation type
  bool fixed_unit_range = false;  // Softmax output: [0, 1]
  // Output of a data-movement op or Concat: its values are drawn from its inputs', which share
  // its group, so the group's union range already covers it and it needs no calibration.
  bool derived = false;
  int group = -1;               // shared scale group id (union-find root resolved at the end)
};

struct WeightUse {  // a constant weight or bias input of a weighted node
  GraphScope* scope = nullptr;
  int node = -1;
  int slot = -1;
  bool is_bias = false;
  int axis = -1;  // per-channel axis (weights), -1 per-tensor
};

struct FoldCandidate {  // Relu/Clip folded into its producer's output quantization
  GraphScope* scope = nullptr;
  int node = -1;           // the Relu/Clip
  std::string input;       // x (producer output)
  std::string output;      // y
  float clip_min = 0, clip_max = 0;  // saturation the fold must reproduce
};

struct NodeState {
  GraphScope* scope = nullptr;
  int node = -1;
  std::string status;  // quantized, skipped, folded (after quantize)
  std::string reason;
  std::vector<int> activation_slots;  // input slots fed through DQ (activations and constants)
};

struct Planned {
  std::vector<std::unique_ptr<GraphScope>> scopes;
  std::vector<NodeState> nodes;  // every node of every graph, graph order
  std::map<std::pair<GraphScope*, std::string>, ActivationTensor> activations;
  std::vector<int> group_parent;  // union-find
  std::vector<WeightUse> weights;
  std::vector<FoldCandidate> folds;
  std::vector<std::string> warnings;
  std::int64_t constants_converted = 0;
  std::int64_t opset = 0;  // the model's default-domain opset (selects the op rules)

  int find(int g);
  void unite(int a, int b);
  [[nodiscard]] std::vector<std::string> tensors_to_calibrate() const;
};

// Plans on a model whose Constant nodes were already converted. Usage errors for bad patterns.
[[nodiscard]] Result<Planned> plan(::onnx::ModelProto& model, const QuantizeOptions& options);

// The Q/DQ operator domain for the model's opset and the options ("" = ai.onnx).
[[nodiscard]] std::string qdq_domain(std::int64_t opset, const QuantizeOptions& options);

}  // namespace modelkit::quant
