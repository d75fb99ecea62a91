// ONNX ModelProto reading and writing for the areas that edit graphs (runtime, calib, quant).
// Protobuf types are ::onnx::* (Debian's libonnx, protobuf 3.21); inside modelkit::onnx always
// spell them with the leading :: so they do not resolve to this namespace.
//
// Never runs libonnx's checker: libonnx 1.12 rejects IR 10 models and opsets it does not know,
// which current exporters produce. External data locations are confined to the model's folder.
#pragma once

#include <modelkit/onnx.hpp>
#include <modelkit/result.hpp>
#include <modelkit/tensor.hpp>

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace modelkit::onnx {

// protobuf cannot parse or serialize a message of 2 GiB or more; tensors past that live in side files.
inline constexpr std::uint64_t kProtobufLimit = (std::uint64_t{1} << 31) - 1;

// A node's operator as reports and op-type options name it: "Conv" for the default domain,
// "com.microsoft.Attention" otherwise.
[[nodiscard]] inline bool is_default_domain(const ::onnx::NodeProto& node) {
  return node.domain().empty() || node.domain() == "ai.onnx";
}
[[nodiscard]] inline std::string op_key(const ::onnx::NodeProto& node) {
  return is_default_domain(node) ? node.op_type() : node.domain() + "." + node.op_type();
}

// Parses serialized ModelProto bytes; `what` names the source in errors ("'x.onnx'").
[[nodiscard]] Result<::onnx::ModelProto> parse_model_proto(std::string_view bytes, std::string_view what);

// Reads and parses a .onnx file. External data is NOT loaded (tensors keep their references);
// use load_external_data for that.
[[nodiscard]] Result<::onnx::ModelProto> read_model_proto(const std::filesystem::path& path);

// An external-data reference of a TensorProto (keys location/offset/length of external_data).
struct ExternalRef {
  std::string location;
  std::uint64_t offset = 0;
  std::optional<std::uint64_t> length;
};

// nullopt when the tensor holds its data inline; an error for malformed keys.
[[nodiscard]] Result<std::optional<ExternalRef>> external_ref(const ::onnx::TensorProto& tensor);
// The same from a tensor's name, whether it is stored externally and its external_data entries.
[[nodiscard]] Result<std::optional<ExternalRef>> external_ref(
    std::string_view name, bool external, std::span<const std::pair<std::string_view, std::string_view>> entries);

// Dense byte size a tensor's dims and type call for. Errors for negative dims, string or unknown
// element types, and sizes past 1 TiB (corrupt dims).
[[nodiscard]] Result<std::uint64_t> tensor_dense_bytes(const ::onnx::TensorProto& tensor);
[[nodiscard]] Result<std::uint64_t> tensor_dense_bytes(std::string_view name, std::int32_t data_type,
                                                       std::span<const std::int64_t> dims);

// Resolves `location` against the model's folder. Refuses absolute paths and anything that,
// after following symlinks, lies outside `model_dir`; the error names the location and the model.
[[nodiscard]] Result<std::filesystem::path> resolve_external_location(const std::filesystem::path& model_dir,
                                                                      std::string_view location);

// Reads every externally stored tensor (graphs, subgraphs, functions) into raw_data and marks it
// inline. Checks each range lies within its file.
[[nodiscard]] Result<void> load_external_data(::onnx::ModelProto& model, const std::filesystem::path& model_dir);

enum class ExternalDataPolicy {
  automatic,  // side file only when the model would not fit in one protobuf (>= ~2 GiB)
  always,     // every tensor of at least size_threshold bytes goes to the side file
  never,      // everything inline; fails past protobuf's limit
};

class DeferredTensors;  // onnx/deferred_data.hpp

struct SaveOptions {
  ExternalDataPolicy external_data = ExternalDataPolicy::automatic;
  std::uint64_t size_threshold = 1024;  // smaller tensors stay inline
  std::string location;                 // side file name, in the model's folder; default "<model file name>_data"
  // Where tensors that are still external (not loaded) are read from; empty = they are an error.
  std::filesystem::path external_source_dir;
  // Tensors whose bytes are produced while the model is written (onnx/deferred_data.hpp).
  const DeferredTensors* deferred = nullptr;
};

// Writes `model` to `path` (atomically: temporary files renamed into place). Tensors going to the
// side file are moved out of the proto only while it is serialized, so `model` is unchanged after.
[[nodiscard]] Result<void> save_model_proto(::onnx::ModelProto& model, const std::filesystem::path& path,
                                            const SaveOptions& options = {});

// TensorProto <-> Tensor. Reads raw_data or the typed fields; external data is read from
// `model_dir` (which must then be given).
[[nodiscard]] Result<Tensor> tensor_from_proto(const ::onnx::TensorProto& proto,
                                               const std::filesystem::path& model_dir = {});
[[nodiscard]] ::onnx::TensorProto tensor_to_proto(const Tensor& tensor);

// ModelInfo from an already-parsed model (read_model_info is this on read_model_proto's result).
// `model_dir` is used to check external data files; `path`/`file_bytes` are copied into the info.
[[nodiscard]] Result<ModelInfo> model_info_from_proto(const ::onnx::ModelProto& model,
                                                      const std::filesystem::path& path, std::uint64_t file_bytes);

// The element type code of a graph value's declared type, if it is a tensor; nullopt otherwise.
[[nodiscard]] std::optional<ElementType> declared_element_type(const ::onnx::ValueInfoProto& value);

}  // namespace modelkit::onnx
