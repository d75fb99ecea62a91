// `modelkit build` and `modelkit quantize` as a library call: the stages of kBuildStages
// (plan.hpp; resolve -> export -> optimize -> plan -> calibrate -> quantize -> validate -> evaluate -> write, see
// docs/design.md). Every stage is timed and recorded in build_manifest.json. The output folder appears whole or not at all:
// everything is written into a temporary folder beside it and renamed at the end.
#pragma once

#include <modelkit/calib_sources.hpp>
#include <modelkit/model.hpp>
#include <modelkit/plan.hpp>
#include <modelkit/result.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace modelkit {

inline constexpr int kManifestSchemaVersion = 1;

struct BuildEvents {
  // A stage starts ("calibrate", ...).
  std::function<void(std::string_view stage)> stage;
  // Calibration progress: samples done of total, seconds elapsed.
  std::function<void(std::uint64_t done, std::uint64_t total, double seconds)> progress;
  // A warning the user must see (fallbacks, unmatched --exclude-nodes, low cosine, ...).
  std::function<void(std::string_view message)> warning;
};

struct BuildRequest {
  ResolvedModel model;  // resolved; may be unresolved for quantize (then random calibration)
  BuildConfig config;   // the plan
  std::optional<std::filesystem::path> onnx;  // --onnx FILE; else -m FILE.onnx or the folder's float model
  std::filesystem::path output;               // a folder (build) or an .onnx file (quantize)
  bool output_is_file = false;                // quantize writes one .onnx file (+ manifest beside it)
  bool force = false;
  std::optional<std::filesystem::path> ranges_in;   // --ranges: skip calibration
  std::optional<std::filesystem::path> ranges_out;  // --save-ranges
  std::vector<InputShape> input_shapes;       // --input-shape name=1x512 for random inputs
  int validation_samples = 10;
  double cosine_warning = 0.99;
  int threads = 0;                              // ORT intra-op threads; 0 = ORT's default
  const std::atomic<bool>* cancel = nullptr;    // Ctrl-C
  BuildEvents events;
};

// The quality gate on the validation's minimum cosine similarity (float vs quantized outputs).
// With a required minimum (--min-cosine), below it the build fails; without one, the result is
// published with a loud warning below warn_below and a louder one below severe_below.
struct QualityGate {
  std::optional<double> required;  // --min-cosine
  double warn_below = 0.99;
  double severe_below = 0.9;
};
enum class QualityVerdict { pass, warn, severe, fail };
struct QualityDecision {
  QualityVerdict verdict = QualityVerdict::pass;
  std::string message;  // empty on pass
};
[[nodiscard]] QualityDecision judge_quality(double min_cosine, const QualityGate& gate);
[[nodiscard]] std::string_view quality_verdict_name(QualityVerdict verdict);
// Where a build that fails the gate writes its manifest: beside the output, named so.
[[nodiscard]] std::filesystem::path failed_manifest_path(const std::filesystem::path& output);

struct StageTiming {
  std::string stage;
  double seconds = 0;
};

// A stage as it went: ran (timed) or skipped with the reason.
struct StageRecord {
  std::string stage;
  double seconds = 0;
  std::optional<std::string> skipped;
};

struct BuildResult {
  std::filesystem::path output;         // the folder (or file) written
  std::filesystem::path manifest_path;
  std::string manifest_json;
  std::vector<std::string> warnings;
  std::vector<StageTiming> timings;  // the stages that ran, in order
  std::vector<StageRecord> stages;   // every stage, in order
  double min_cosine = 1.0;
  // The evaluate stage's report (--eval-data), as `modelkit eval --format json` prints it and as
  // readable text; empty when the stage was skipped.
  std::string evaluation_json, evaluation_text;
};

// Finds the float ONNX model of a request: --onnx, -m FILE.onnx, or the checkpoint folder's
// float model. Errors say where it looked and how to get one.
[[nodiscard]] Result<std::filesystem::path> find_float_model(const BuildRequest& request);

[[nodiscard]] Result<BuildResult> run_build(BuildRequest request);

// One JSON object summing up a finished build or quantize (what --format json prints):
// {"output", "manifest", "min_cosine_similarity", "timings": {stage: seconds}, "warnings": [...]}.
[[nodiscard]] std::string build_summary_json(const BuildResult& result);

// Async-signal-safe: removes the temporary folders of the builds running in this process, for a
// signal handler about to _exit (a second Ctrl-C, SIGTERM or SIGHUP). The first such signal should
// only set BuildRequest::cancel: the build then removes its folder itself.
void remove_build_temporaries_in_signal_handler() noexcept;

}  // namespace modelkit
