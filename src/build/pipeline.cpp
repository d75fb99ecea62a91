// run_build: the loop over the build's stages (stages.hpp). Everything a stage does lives in
// its own file under stages/; this file only runs them in order, times them, reports them to
// the caller's events and finishes the output.
#include <modelkit/build.hpp>
#include <modelkit/version.hpp>

#include "build/stages.hpp"
#include "report/json_fields.hpp"
#include "util/file.hpp"
#include "util/json_writer.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>

#include <sys/resource.h>

namespace modelkit {
namespace fs = std::filesystem;

namespace build {
namespace {

// In kBuildStages order (a test checks the two tables agree).
constexpr std::array<StageImpl, 9> kStageTable = {{
    {BuildStage::resolve, nullptr, resolve_stage, resolve_manifest},
    {BuildStage::export_model, export_skip, export_stage, export_manifest},
    {BuildStage::optimize, optimize_skip, optimize_stage, optimize_manifest},
    {BuildStage::plan, nullptr, plan_stage, nullptr},
    {BuildStage::calibrate, nullptr, calibrate_stage, calibrate_manifest},
    {BuildStage::quantize, nullptr, quantize_stage, quantize_manifest},
    {BuildStage::validate, nullptr, validate_stage, validate_manifest},
    {BuildStage::evaluate, evaluate_skip, evaluate_stage, evaluate_manifest},
    {BuildStage::write, nullptr, write_stage, nullptr},
}};
static_assert(kStageTable.size() == std::size(kBuildStages));

// The build's peak resident memory (getrusage ru_maxrss: every stage so far) against the float
// and quantized models' sizes (.onnx plus external data), which bound it from below for large models.
void write_resources(const Context& c, util::JsonWriter& w) {
  rusage usage{};
  const std::uint64_t peak = ::getrusage(RUSAGE_SELF, &usage) == 0 ? static_cast<std::uint64_t>(usage.ru_maxrss) * 1024 : 0;
  const std::uint64_t models = c.report.input_bytes + c.report.output_bytes;
  w.key("resources").begin_object();
  w.field("peak_rss_bytes", peak);
  w.field("float_model_bytes", c.report.input_bytes);
  w.field("quantized_model_bytes", c.report.output_bytes);
  w.field("peak_rss_over_models", models > 0 ? static_cast<double>(peak) / static_cast<double>(models) : 0.0);
  w.end_object();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

void Context::warn(std::string message) {
  if (request.events.warning) request.events.warning(message);
  result.warnings.push_back(std::move(message));
}

void Context::warn_once(std::string message) {
  if (std::find(result.warnings.begin(), result.warnings.end(), message) == result.warnings.end())
    warn(std::move(message));
}

Result<void> Context::check_cancel() const {
  if (request.cancel && request.cancel->load()) return failure("build cancelled; nothing was written");
  return {};
}

Result<void> finish(Context& c) {
  const auto& req = c.request;
  util::JsonWriter w;
  w.begin_object();
  w.field("schema_version", kManifestSchemaVersion);
  w.field("modelkit_version", version());
  for (const auto& s : kStageTable)
    if (s.manifest) s.manifest(c, w);
  w.key("timings").begin_object();
  for (const auto& t : c.result.timings) w.field(t.stage, t.seconds);
  w.end_object();
  write_resources(c, w);
  w.key("stages").begin_array();
  for (const auto& s : c.result.stages) {
    w.begin_object();
    w.field("name", s.stage);
    w.field("status", s.skipped ? "skipped" : "ran");
    w.field("reason", s.skipped);
    w.field("seconds", s.seconds);
    w.end_object();
  }
  w.end_array();
  w.key("files").string_array(c.copied);
  w.key("warnings").string_array(c.result.warnings);
  w.end_object();
  c.result.manifest_json = w.take();
  if (c.quality.verdict == QualityVerdict::fail) {
    // Nothing is published; the manifest says what was measured, beside where the output would be.
    auto failed = failed_manifest_path(req.output);
    MODELKIT_TRY_VOID(util::write_file_atomic(failed, c.result.manifest_json));
    return failure(c.quality.message + "; nothing was written to " + quoted(req.output) + ", the manifest is " +
                   quoted(failed));
  }
  fs::path manifest_name = req.output_is_file ? fs::path(req.output.stem().string() + ".manifest.json")
                                              : fs::path("build_manifest.json");
  fs::path folder = c.temp.path();
  MODELKIT_TRY_VOID(util::write_file_atomic(folder / manifest_name, c.result.manifest_json));
  MODELKIT_TRY_VOID(c.check_cancel());

  if (req.output_is_file) {
    // Move each file of the temporary folder beside the output, the model last.
    fs::path dir = req.output.parent_path().empty() ? fs::path(".") : req.output.parent_path();
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(folder, ec)) {
      if (e.path() == c.quantized) continue;
      MODELKIT_TRY_VOID(publish(e.path(), dir / e.path().filename(), true));
    }
    MODELKIT_TRY_VOID(publish(c.quantized, req.output, req.force));
    c.result.manifest_path = dir / manifest_name;
  } else {
    MODELKIT_TRY_VOID(publish(folder, req.output, req.force));
    c.temp.release();
    c.result.manifest_path = req.output / manifest_name;
  }
  c.result.output = req.output;
  return {};
}

}  // namespace build

QualityDecision judge_quality(double min_cosine, const QualityGate& gate) {
  char value[32];
  std::snprintf(value, sizeof value, "%.4f", min_cosine);
  auto bound = [](double b) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", b);
    return std::string(buf);
  };
  if (gate.required) {
    if (!(min_cosine >= *gate.required))
      return {QualityVerdict::fail, "quality gate: the quantized model's minimum cosine similarity to the float model is " +
                                        std::string(value) + ", below the required " + bound(*gate.required) +
                                        " (--min-cosine)"};
    return {};
  }
  if (!(min_cosine >= gate.severe_below))
    return {QualityVerdict::severe,
            "VERY LOW QUALITY: the quantized model's minimum cosine similarity to the float model is " +
                std::string(value) + " (below " + bound(gate.severe_below) +
                "): its outputs differ substantially from the float model's. Calibrate on real data "
                "(--calibration-data), try --per-channel, --precision w8a16 or --exclude-nodes (modelkit eval "
                "--per-tensor names the worst nodes), and set --min-cosine to fail such builds"};
  if (!(min_cosine >= gate.warn_below))
    return {QualityVerdict::warn, "LOW QUALITY: the quantized model's minimum cosine similarity to the float model is " +
                                      std::string(value) + " (below " + bound(gate.warn_below) +
                                      "); check it on your data, or set --min-cosine to fail such builds"};
  return {};
}

std::string_view quality_verdict_name(QualityVerdict verdict) {
  switch (verdict) {
    case QualityVerdict::pass: return "pass";
    case QualityVerdict::warn: return "warn";
    case QualityVerdict::severe: return "severe";
    case QualityVerdict::fail: return "fail";
  }
  return "pass";
}

fs::path failed_manifest_path(const fs::path& output) {
  return fs::path(output.string() + ".failed-manifest.json");
}

Result<fs::path> find_float_model(const BuildRequest& req) {
  if (req.onnx) {
    std::error_code ec;
    if (!fs::is_regular_file(*req.onnx, ec)) return failure("no ONNX model " + quoted(*req.onnx));
    return *req.onnx;
  }
  if (!req.model.checkpoint) return usage_error("name the ONNX model to build with --onnx FILE");
  const auto& src = req.model.checkpoint->source;
  if (src.onnx_path) return *src.onnx_path;
  MODELKIT_TRY(auto files, onnx::scan_folder(src.folder));
  for (const auto& f : files)
    if (f.is_float_model) return f.path;
  std::string found;
  for (const auto& f : files) found += (found.empty() ? "" : ", ") + f.relative_path;
  return failure("no float ONNX model in " + quoted(src.folder) +
                 " (expected model.onnx or onnx/model.onnx" + (found.empty() ? "" : "; found " + found) +
                 "); export one (optimum-cli export onnx) or pass --onnx FILE");
}

Result<BuildResult> run_build(BuildRequest request) {
  BuildResult result;
  // Before any work: the evaluation's data must be there (a replayed config may name a gone file).
  if (const auto& data = request.config.eval_data) {
    std::error_code ec;
    if (!fs::exists(*data, ec)) return usage_error("option '--eval-data': no file or folder " + quoted(*data));
  }
  build::Context context{request, result};
  for (const auto& stage : build::kStageTable) {
    const auto name = setting_name(stage.stage);
    const auto start = std::chrono::steady_clock::now();
    build::StageOutcome outcome;
    if (stage.skip) outcome.skipped = stage.skip(context);
    if (!outcome.skipped) {
      if (request.events.stage) request.events.stage(name);
      MODELKIT_TRY(outcome, stage.run(context));
    }
    const double seconds = build::seconds_since(start);
    if (outcome.skipped) {
      if (request.events.stage) request.events.stage(std::string(name) + ": skipped (" + *outcome.skipped + ")");
    } else {
      result.timings.push_back({std::string(name), seconds});
    }
    result.stages.push_back({std::string(name), seconds, outcome.skipped});
    MODELKIT_TRY_VOID(context.check_cancel());
  }
  MODELKIT_TRY_VOID(build::finish(context));
  return result;
}

}  // namespace modelkit
