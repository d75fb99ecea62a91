// The build as named stages (internal to the build area; docs/design.md, "The build").
// run_build() (pipeline.cpp) runs kStageTable in order over one Context: each stage reads what
// the stages before it left there and adds its own results. A stage may be skipped with a
// reason (recorded in the manifest); each stage can contribute one section to the manifest.
#pragma once

#include <modelkit/build.hpp>
#include <modelkit/calib_sources.hpp>
#include <modelkit/calib_stats.hpp>
#include <modelkit/export.hpp>
#include <modelkit/onnx.hpp>
#include <modelkit/quantize.hpp>

#include "build/output.hpp"
#include "util/temp_folder.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace modelkit::util {
class JsonWriter;
}

namespace modelkit::build {

// The op types to quantize and why (chosen from the graph when the user names none).
struct OpTypePolicy {
  std::vector<std::string> op_types;  // empty: every supported op type
  std::string reason;
};

// The op types the build quantizes when the user names none (sets options.op_types to them):
// MatMul and Gemm for MatMul-dominated graphs, every supported op type otherwise.
OpTypePolicy default_op_types(const onnx::ModelInfo& info, quant::QuantizeOptions& options);

struct Context {
  // A constructor, not aggregate initialization: the stage fields start default-constructed
  // (and -Wmissing-field-initializers stays quiet for -Werror builds).
  Context(BuildRequest& request_, BuildResult& result_) : request(request_), result(result_) {}

  BuildRequest& request;
  BuildResult& result;

  void warn(std::string message);
  // Adds a warning unless the same text was already given.
  void warn_once(std::string message);
  [[nodiscard]] Result<void> check_cancel() const;

  // resolve
  std::filesystem::path source_onnx;  // the float model the user's request names
  std::filesystem::path float_model;  // what the later stages read: source_onnx, or its opset-upgraded copy
  onnx::ModelInfo info;
  std::optional<onnx::OpsetUpgrade> upgrade;
  util::TempFolder upgrade_dir;             // holds the upgraded copy; never published
  // export: the checkpoint has no ONNX model and exports natively (resolve decides)
  bool needs_export = false;
  std::optional<ExportResult> exported;
  util::TempFolder export_dir;  // holds the exported float model; never published
  // optimize: the model ONNX Runtime optimized (float_model points at it), and what it holds
  util::TempFolder optimize_dir;  // never published
  std::int64_t nodes_before_optimize = 0;
  std::vector<std::string> contrib_ops;  // com.microsoft op types after optimization
  // plan
  quant::QuantizeOptions options;
  OpTypePolicy op_policy;
  quant::QuantizationPlan plan;
  // calibrate
  std::optional<calib::SelectedSource> selected;
  int calibration_samples = 0;  // used for calibration (or recorded in the ranges file)
  int held_back = 0;            // kept apart for validation
  calib::TensorRanges ranges;
  // quantize
  util::TempFolder temp;
  std::filesystem::path quantized;  // inside temp
  quant::QuantizeReport report;
  // validate (the window is chosen by calibrate, so its session can keep the float outputs)
  struct ValidationWindow {
    int offset = 0, count = 0;
    bool held_back_unreadable = false;  // every held-back input was unreadable: calibration samples reused
  };
  std::optional<ValidationWindow> validation_window;
  calib::ReferenceOutputs reference;  // float outputs of the window's samples (empty: load the float model)
  quant::ValidationReport validation;
  QualityDecision quality;
  // write
  std::vector<std::string> copied;
};

// A stage's outcome: it ran, or it was skipped for a reason.
struct StageOutcome {
  std::optional<std::string> skipped;
};
[[nodiscard]] inline StageOutcome ran() { return {}; }
[[nodiscard]] inline StageOutcome skipped(std::string reason) { return {std::move(reason)}; }

struct StageImpl {
  BuildStage stage;
  // Why the stage does not apply to this build, decided before it starts (nullptr: it always
  // applies); a stage may also find out while running and return skipped().
  std::optional<std::string> (*skip)(const Context&);
  Result<StageOutcome> (*run)(Context&);
  // This stage's section of build_manifest.json (nullptr: none).
  void (*manifest)(const Context&, util::JsonWriter&);
};

// One function pair per stage, one file each (stages/<name>.cpp).
Result<StageOutcome> resolve_stage(Context&);
void resolve_manifest(const Context&, util::JsonWriter&);
std::optional<std::string> export_skip(const Context&);
Result<StageOutcome> export_stage(Context&);
void export_manifest(const Context&, util::JsonWriter&);
// Reads the float model (after resolve, or after export): what it is, refuses quantized models,
// upgrades opsets below 10 into a copy.
[[nodiscard]] Result<void> read_float_model(Context& context);
std::optional<std::string> optimize_skip(const Context&);
Result<StageOutcome> optimize_stage(Context&);
void optimize_manifest(const Context&, util::JsonWriter&);
Result<StageOutcome> plan_stage(Context&);
Result<StageOutcome> calibrate_stage(Context&);
void calibrate_manifest(const Context&, util::JsonWriter&);
Result<StageOutcome> quantize_stage(Context&);
void quantize_manifest(const Context&, util::JsonWriter&);
// Which samples validation compares on (held back, or calibration ones when none are usable).
[[nodiscard]] Result<Context::ValidationWindow> choose_validation_window(Context&);
Result<StageOutcome> validate_stage(Context&);
void validate_manifest(const Context&, util::JsonWriter&);
std::optional<std::string> evaluate_skip(const Context&);
Result<StageOutcome> evaluate_stage(Context&);
void evaluate_manifest(const Context&, util::JsonWriter&);
Result<StageOutcome> write_stage(Context&);

// The precisions that are not static QDQ (stages/precision.cpp): the plan, calibrate and
// quantize stages dispatch to these by the precision's kind.
[[nodiscard]] const PrecisionInfo& precision_of(const Context& c);
Result<StageOutcome> plan_without_qdq(Context&);
Result<StageOutcome> validation_samples_only(Context&);
void no_calibration_manifest(const Context&, util::JsonWriter&);
[[nodiscard]] Result<void> convert_precision(Context&);

// Writes build_manifest.json (or NAME.manifest.json beside a quantize output) into the
// temporary folder and publishes the output; after the write stage.
[[nodiscard]] Result<void> finish(Context& context);

}  // namespace modelkit::build
