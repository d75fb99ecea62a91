// The build config ('modelkit config' writes it, 'build -c' replays it) and the
// inspect report. Rendering lives in the library so every client prints the same.
#pragma once

#include <modelkit/model.hpp>
#include <modelkit/onnx.hpp>
#include <modelkit/result.hpp>
#include <modelkit/safetensors.hpp>
#include <modelkit/settings.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace modelkit {

inline constexpr int kBuildConfigSchemaVersion = 1;
inline constexpr int kMaxEvalSamples = 1000000;  // --eval-samples, as eval's --samples

// The stages of a build, in the order they run (docs/design.md, "The build"). Each is one file
// under src/build/stages/; progress output, the manifest's "stages" and "timings" and the dry
// run's plan list them in this order. A stage that does not apply is skipped with a reason.
enum class BuildStage { resolve, export_model, optimize, plan, calibrate, quantize, validate, evaluate, write };
struct BuildStageInfo {
  BuildStage value;
  std::string_view name;
  std::string_view help;
};
inline constexpr BuildStageInfo kBuildStages[] = {
    {BuildStage::resolve, "resolve", "find the float ONNX model and what it is; check the output"},
    {BuildStage::export_model, "export", "write the float ONNX model from the checkpoint's weights"},
    {BuildStage::optimize, "optimize", "ONNX Runtime's offline graph optimization at --optimize's level"},
    {BuildStage::plan, "plan", "choose the op types and the nodes and tensors to quantize"},
    {BuildStage::calibrate, "calibrate", "run the float model on the task's samples and collect ranges"},
    {BuildStage::quantize, "quantize", "insert QDQ with scales from the ranges; quantize weights"},
    {BuildStage::validate, "validate", "compare the quantized model with the float one on held-back samples"},
    {BuildStage::evaluate, "evaluate", "with --eval-data: modelkit eval of the quantized model against the float one"},
    {BuildStage::write, "write", "copy the checkpoint's files, write the manifest, publish atomically"},
};
template <>
struct SettingTable<BuildStage> {
  static constexpr std::span<const BuildStageInfo> rows{kBuildStages};
};

// Image calibration for models that are not Hugging Face exports (calib_sources.hpp,
// ImageOptions).
struct ImageSettings {
  std::optional<std::string> input;        // --image-input
  std::optional<ImageLayout> layout;       // --layout
  std::optional<ResizeMode> resize_mode;   // --resize-mode
  std::optional<std::vector<double>> mean;  // --image-mean R,G,B
  std::optional<std::vector<double>> std;   // --image-std R,G,B
  std::optional<double> rescale;           // --rescale F
  bool bgr = false;                        // --bgr
};

struct CalibrationSettings {
  CalibrationKind kind = CalibrationKind::random;  // what the task's samples are made from
  std::string kind_reason;      // why this kind
  std::optional<std::string> data;  // --calibration-data
  std::optional<std::string> text_column;  // --text-column (jsonl/csv/tsv; default "text")
  std::optional<std::string> pair_column;  // --pair-column (default "text_pair" when present)
  int samples = 100;
  int sequence_length = 128;
  std::optional<int> sample_rate;  // --sample-rate: raw-audio models (default 16000)
  CalibrationMethod method = CalibrationMethod::minmax;
  double percentile = 99.999;
  int histogram_bins = 2048;
  std::uint64_t seed = 0;
  std::vector<std::string> input_shapes;  // --input-shape name=1x128, as given
  ImageSettings image;
};

struct QuantizationSettings {
  std::string format = "qdq";
  QuantType activation_type = QuantType::uint8;  // asymmetric
  QuantType weight_type = QuantType::int8;       // symmetric
  bool per_channel = false;
  std::vector<std::string> op_types;       // empty: every supported op type
  std::vector<std::string> exclude_nodes;  // names or regexes
  Precision precision = Precision::int8;   // --precision (static ones set the two types above)
  int block_size = kDefaultBlockSize;      // int4: --block-size
  bool symmetric = false;                  // int4 blocks without zero points; static: activations too
  int accuracy_level = 0;                  // int4: MatMulNBits accuracy_level (0: ONNX Runtime's default)
  bool reduce_range = false;               // static/dynamic: 7-bit weights (CPUs without VNNI)
  OptimizeLevel optimize = OptimizeLevel::none;  // --optimize: the optimize stage's level
};

struct BuildConfig {
  int schema_version = kBuildConfigSchemaVersion;
  ModelSpec request;         // what the user named; replayed by build -c
  TaskResolution resolution; // recorded, and checked again on replay
  std::optional<std::string> model_type;
  std::optional<std::string> model_id;
  CalibrationSettings calibration;
  QuantizationSettings quantization;
  std::optional<double> min_cosine;  // --min-cosine: below it the build fails
  std::optional<std::string> eval_data;  // --eval-data FILE|DIR: the evaluate stage's data
  std::vector<std::string> eval_columns;  // --eval-column ROLE=NAME, as eval's --column
  int eval_samples = 100;                 // --eval-samples N, as eval's --samples
};

// The calibration data kind of a task (registry::calibration_kind_for_task, else random) with its reason.
[[nodiscard]] std::pair<CalibrationKind, std::string> calibration_kind_for(const TaskResolution& resolution);

// A build config from a resolved model. Requires a resolved task.
[[nodiscard]] Result<BuildConfig> make_build_config(const ResolvedModel& model);
// The config of `quantize -m FILE.onnx`: make_build_config when the task resolved, else random
// calibration with the reason (quantize works on bare ONNX files with no known task).
[[nodiscard]] BuildConfig make_quantize_config(const ResolvedModel& model, std::string_view onnx_reference);

// `build -c FILE` with the command line's model options over it: the recorded request (a model
// named on the command line replaces the recorded one; --task overrides), resolved again and
// checked against the recorded resolution when the request is unchanged; the recorded
// calibration and quantization settings are kept, the data kind follows today's resolution.
struct ReplayedBuild {
  ResolvedModel model;
  BuildConfig config;
};
[[nodiscard]] Result<ReplayedBuild> replay_build_config(const std::string& path, const ModelSpec& command_line,
                                                        const CacheLocation& cache);
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
// `config -o`: writes under the one output rule (util::check_output): an existing file is replaced
// only with `force`, and never when it is one of the model's own files (its config.json).
[[nodiscard]] Result<void> write_build_config(const BuildConfig& config, const std::string& path,
                                              const ResolvedModel& model, bool force);

// Replays a recorded config's build settings onto a fresh one: calibration (but the data kind
// follows the fresh resolution), quantization and the quality gate. Flags given afterwards
// override them.
void replay_build_settings(BuildConfig& fresh, const BuildConfig& recorded);

// The recorded and the fresh resolution must agree, or the replay stops.
[[nodiscard]] Result<void> check_replayed_resolution(const TaskResolution& recorded, const TaskResolution& fresh);

// JSON of a TaskResolution: {task, optimum_task, source, model_class, modality, notes}.
[[nodiscard]] std::string resolution_json(const TaskResolution& resolution, bool pretty = true);

// OutputFormat is in settings.hpp; "option '--format': expected one of table, json, got 'x'".
[[nodiscard]] inline Result<OutputFormat> parse_output_format(std::string_view text) {
  return parse_option_setting<OutputFormat>("--format", text);
}

struct InspectReport {
  ResolvedModel model;
  std::vector<std::string> exportable_tasks;  // of the model_type, '-with-past' included
  std::optional<WeightsSummary> weights;      // with -m
  std::optional<std::string> config_class;
  std::vector<onnx::OnnxFile> onnx_files;     // the folder's ONNX files and what each is
  std::optional<onnx::ModelInfo> onnx_model;  // -m FILE.onnx, else the folder's float model
  // Whether a checkpoint folder exports natively (modelkit export / build's export stage): filled
  // by the caller from export_support(), since the export area comes after this one.
  struct NativeExport {
    bool native = false;
    std::string family, head;  // when native
    std::string reason;        // when not
  };
  std::optional<NativeExport> native_export;
};
[[nodiscard]] Result<InspectReport> inspect_model(ResolvedModel model);
[[nodiscard]] std::string render_inspect(const InspectReport& report, OutputFormat format);

// `build --dry-run`: the resolution and the plan, written nowhere.
[[nodiscard]] std::string render_plan(const BuildConfig& config, const std::optional<std::string>& output,
                                      OutputFormat format);

}  // namespace modelkit
