// A small ONNX graph builder for the exporter: named values, nodes of standard ONNX ops,
// small constants inline, and weights declared by their checkpoint tensor name and written later,
// one at a time, straight into the output file (write_model): the model is never held in memory
// with all its weights.
#pragma once

#include "export/weights.hpp"

#include <modelkit/result.hpp>

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace modelkit::exporter {

// A weight initializer whose data comes from the WeightSource when the model is written.
struct WeightSpec {
  std::string initializer;           // name in the graph
  std::string source;                // checkpoint tensor name
  std::vector<std::int64_t> shape;   // as stored in the checkpoint
  bool transpose = false;            // 2-D [out, in] written as [in, out] (MatMul layout)
  Init init = Init::normal;
};

using Attr = std::variant<std::int64_t, float, std::vector<std::int64_t>, std::string>;

class GraphBuilder {
 public:
  explicit GraphBuilder(int opset) : opset_(opset) {}
  [[nodiscard]] int opset() const { return opset_; }

  // A graph input; dims are sizes or symbolic names.
  std::string input(const std::string& name, ::onnx::TensorProto_DataType type,
                    const std::vector<std::variant<std::int64_t, std::string>>& dims);
  // Declares `value` as a graph output named `name` (an Identity when the names differ).
  void output(const std::string& value, const std::string& name, ::onnx::TensorProto_DataType type,
              const std::vector<std::variant<std::int64_t, std::string>>& dims);

  // One node; returns its outputs (fresh names "<hint>_N").
  std::vector<std::string> node_n(const std::string& op, const std::vector<std::string>& inputs, int outputs,
                                  const std::map<std::string, Attr>& attrs = {}, const std::string& hint = "");
  std::string node(const std::string& op, const std::vector<std::string>& inputs,
                   const std::map<std::string, Attr>& attrs = {}, const std::string& hint = "") {
    return node_n(op, inputs, 1, attrs, hint)[0];
  }

  std::string const_i64(const std::vector<std::int64_t>& values, bool scalar = false);
  std::string const_f32(float value);  // a scalar
  std::string const_f32s(const std::vector<float>& values);  // a 1-D tensor

  // A weight from the checkpoint; the same (source, transpose) pair is one initializer.
  std::string weight(const std::string& source, std::vector<std::int64_t> shape, Init init, bool transpose = false);

  // Reduce ops whose axes moved from attribute to input at opset 18.
  std::string reduce(const std::string& op, const std::string& x, std::vector<std::int64_t> axes, bool keepdims);

  [[nodiscard]] const std::vector<WeightSpec>& weights() const { return weights_; }
  [[nodiscard]] const std::vector<std::string>& input_names() const { return inputs_; }
  [[nodiscard]] const std::vector<std::string>& output_names() const { return outputs_; }
  [[nodiscard]] ::onnx::ModelProto& model() { return model_; }

 private:
  std::string fresh(const std::string& hint);
  int opset_;
  ::onnx::ModelProto model_;
  std::vector<WeightSpec> weights_;
  std::map<std::string, std::string> weight_names_;  // source + transpose -> initializer
  std::vector<std::string> inputs_, outputs_;
  std::map<std::string, int> counters_;
  int constants_ = 0;
};

// Bounds on what one export writes: a larger tensor or model is a corrupt or hostile config, not a
// model (the largest text encoders have ~1e9-element embeddings).
inline constexpr std::uint64_t kMaxTensorElements = std::uint64_t{1} << 31;
inline constexpr std::uint64_t kMaxModelElements = std::uint64_t{1} << 35;

struct WriteStats {
  std::uint64_t parameters = 0;
  std::uint64_t bytes = 0;
  bool external_data = false;
};

// Checks every weight exists in `source` with its expected shape and a readable dtype, and that
// tensors and the model stay within the bounds above (one-line errors naming the tensor), before
// anything is written.
[[nodiscard]] Result<void> check_weights(const std::vector<WeightSpec>& weights, const WeightSource& source);

// Past this many bytes of weights, they go to an external data file: protobuf cannot hold 2 GiB,
// and the graph itself needs some room.
inline constexpr std::uint64_t kExternalDataThreshold = std::uint64_t{3} << 29;  // 1.5 GiB

// Writes `model` (graph without weight data) plus the weights read from `source` to `path`:
// inline in the protobuf (streamed tensor by tensor) below `external_threshold` bytes, otherwise
// into `<file name>_data` beside it. `path` and the data file are written directly (the caller makes
// the result atomic by writing into a temporary folder).
[[nodiscard]] Result<WriteStats> write_model(const ::onnx::ModelProto& model, const std::vector<WeightSpec>& weights,
                                             const WeightSource& source, const std::filesystem::path& path,
                                             std::uint64_t external_threshold = kExternalDataThreshold);

}  // namespace modelkit::exporter
