// The build config ('modelkit config' writes it, 'build -c' replays it) and the
// inspect report. Rendering lives in the library so every client prints the same.
#pragma once

#include <modelkit/model.hpp>
#include <modelkit/onnx.hpp>
#include <modelkit/result.hpp>
#include <modelkit/safetensors.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace modelkit {

inline constexpr int kBuildConfigSchemaVersion = 1;

struct CalibrationSettings {
  std::string kind = "random";  // text | image | random (build-pipeline.md "Calibration data")
  std::string kind_reason;      // why this kind
  std::optional<std::string> data;  // --calibration-data
  int samples = 100;
  int sequence_length = 128;
  std::string method = "minmax";  // minmax | percentile | entropy
  double percentile = 99.999;
  int histogram_bins = 2048;
  std::uint64_t seed = 0;
};

struct QuantizationSettings {
  std::string format = "qdq";
  std::string activation_type = "uint8";  // asymmetric
  std::string weight_type = "int8";       // symmetric
  bool per_channel = false;
  std::vector<std::string> op_types;       // empty: every supported op type
  std::vector<std::string> exclude_nodes;  // names or regexes
};

struct BuildConfig {
  int schema_version = kBuildConfigSchemaVersion;
  ModelSpec request;         // what the user named; replayed by build -c
  TaskResolution resolution; // recorded, and checked again on replay
  std::optional<std::string> model_type;
  std::optional<std::string> model_id;
  CalibrationSettings calibration;
  QuantizationSettings quantization;
};

// The calibration data kind of a task (text, image or random) with its reason.
[[nodiscard]] std::pair<std::string, std::string> calibration_kind_for(const TaskResolution& resolution);

// A build config from a resolved model. Requires a resolved task.
[[nodiscard]] Result<BuildConfig> make_build_config(const ResolvedModel& model);
// A sequence length the user asked for that the model cannot take (above its config's
// max_position_embeddings): a usage error before any work.
[[nodiscard]] Result<void> check_sequence_length(const ResolvedModel& model, int sequence_length);
[[nodiscard]] std::string build_config_json(const BuildConfig& config);
// Parses a config written by build_config_json; errors name the field. The caller
// prefixes the file name.
[[nodiscard]] Result<BuildConfig> parse_build_config(std::string_view json);

// Writes the config atomically; reads one back (errors prefixed with the file name).
[[nodiscard]] Result<void> write_build_config(const BuildConfig& config, const std::string& path);
[[nodiscard]] Result<BuildConfig> read_build_config(const std::string& path);

// The recorded and the fresh resolution must agree, or the replay stops.
[[nodiscard]] Result<void> check_replayed_resolution(const TaskResolution& recorded, const TaskResolution& fresh);

// JSON of a TaskResolution: {task, optimum_task, source, model_class, modality, notes}.
[[nodiscard]] std::string resolution_json(const TaskResolution& resolution, bool pretty = true);

enum class OutputFormat { table, json };
[[nodiscard]] Result<OutputFormat> parse_output_format(std::string_view text);

struct InspectReport {
  ResolvedModel model;
  std::vector<std::string> exportable_tasks;  // of the model_type, '-with-past' included
  std::optional<WeightsSummary> weights;      // with -m
  std::optional<std::string> config_class;
  std::vector<onnx::OnnxFile> onnx_files;     // the folder's ONNX files and what each is
  std::optional<onnx::ModelInfo> onnx_model;  // -m FILE.onnx, else the folder's float model
};
[[nodiscard]] Result<InspectReport> inspect_model(ResolvedModel model);
[[nodiscard]] std::string render_inspect(const InspectReport& report, OutputFormat format);

// `build --dry-run`: the resolution and the plan, written nowhere.
[[nodiscard]] std::string render_plan(const BuildConfig& config, const std::optional<std::string>& output,
                                      OutputFormat format);

}  // namespace modelkit
