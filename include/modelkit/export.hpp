// Native ONNX export: writes an ONNX graph straight from a Hugging Face checkpoint's
// config.json and safetensors weights (or seeded random weights), with the inputs and outputs
// optimum's ONNX export of the same checkpoint and task has. No Python, no torch.
//
// The resolved model (resolve_model()) decides what is built: the resolution's model_class picks
// the head (BertModel, BertForSequenceClassification, ...), its library picks sentence-transformers
// pooling. See docs/export.md for the families, heads and the I/O contract.
#pragma once

#include <modelkit/model.hpp>
#include <modelkit/random_inputs.hpp>
#include <modelkit/result.hpp>
#include <modelkit/safetensors.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace modelkit {

// The exporter's own version, recorded in build manifests; bumped when the graphs it writes change.
inline constexpr std::string_view kExporterVersion = "1";
inline constexpr int kDefaultExportOpset = 17;
// Opsets the exporter can write (LayerNormalization needs 17).
inline constexpr int kMinExportOpset = 17;
inline constexpr int kMaxExportOpset = 21;

struct ExportRequest {
  ResolvedModel model;           // from resolve_model(); needs a checkpoint folder with config.json
  std::filesystem::path output;  // "x.onnx": that file; otherwise a folder (model.onnx + config/tokenizer files)
  int opset = kDefaultExportOpset;
  bool random_weights = false;   // weights from a seeded normal(0, initializer_range), not from the checkpoint
  std::uint64_t seed = 0;
  bool force = false;            // replace an existing output (never an input)
  // Vision families: pixel_values height and width (--input-shape pixel_values=1x3xHxW); by default
  // the checkpoint's preprocessor output size, else config.json's image_size.
  std::optional<std::array<std::int64_t, 2>> image_size;
};

// What was exported, with what the build manifest records.
struct ExportResult {
  std::string exporter_version;
  int opset = kDefaultExportOpset;
  std::string family;       // "bert", "roberta", ...
  std::string head;         // "base", "sequence-classification", ...
  std::string model_class;  // the resolution's class, e.g. "BertForSequenceClassification"
  std::string component;    // "" the whole model; "encoder": only the encoder of an encoder-decoder (Whisper)
  std::string task;
  bool sentence_transformers = false;
  std::optional<std::string> pooling;  // sentence-transformers: "mean", "cls", "max", ...
  bool normalize = false;
  bool random_weights = false;
  std::uint64_t seed = 0;
  WeightsSummary source_weights;  // files read and their dtypes (empty with random_weights)
  std::uint64_t parameters = 0;   // float32 values written
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::filesystem::path output;      // the folder or file asked for
  std::filesystem::path model_path;  // the .onnx file written
  bool external_data = false;        // weights in <model>.onnx_data (model past protobuf's 2 GiB)
  std::uint64_t onnx_bytes = 0;      // model file plus external data
  std::vector<std::string> copied_files;  // config/tokenizer/processor files copied (folder output)
};

// Whether a resolved model exports natively: its family and head, or why not (the error
// export_model would give, naming the supported families/heads and the --onnx FILE way, or that
// the checkpoint folder holds no *.safetensors weights). build and inspect both ask this.
struct ExportSupport {
  std::string family;
  std::string head;
};
[[nodiscard]] Result<ExportSupport> export_support(const ResolvedModel& model);

// The exporter families and, for each, the model classes it builds ("bert: BertModel, ...").
[[nodiscard]] std::vector<std::string> supported_export_classes();

// The pixel_values height and width that `--input-shape pixel_values=NxCxHxW` asks for (nullopt when no
// shape names pixel_values); a usage error for another rank or a non-positive size. Shapes of other
// inputs are left to their own users (random inputs) when `only_pixel_values` is false, refused when true.
[[nodiscard]] Result<std::optional<std::array<std::int64_t, 2>>> export_image_size(const std::vector<InputShape>& shapes,
                                                                                  bool only_pixel_values);

// Exports. Errors: unsupported family/head, no safetensors (pytorch_model.bin only), a missing or
// mis-shaped tensor or an unreadable dtype (named), an existing output without force, an output
// that would overwrite an input. Nothing is left behind on failure.
[[nodiscard]] Result<ExportResult> export_model(const ExportRequest& request);

// The JSON the CLI prints with --format json (fields in a fixed order).
[[nodiscard]] std::string export_result_json(const ExportResult& result);

}  // namespace modelkit
