// evaluate: with --eval-data, the evaluation `modelkit eval -m OUT --compare FLOAT --data X` makes
// (infer::evaluate) of the quantized model against the float one, recorded in the manifest under
// "evaluation". It runs after validate, on the quantized model still in the temporary folder; the
// checkpoint's folder supplies config.json, the tokenizer and the processor, as the built folder
// does once the write stage has copied them.
#include <modelkit/run.hpp>

#include "build/stages.hpp"
#include "util/json_writer.hpp"

namespace modelkit::build {
namespace fs = std::filesystem;

std::optional<std::string> evaluate_skip(const Context& c) {
  if (!c.request.config.eval_data) return "no --eval-data";
  return std::nullopt;
}

Result<StageOutcome> evaluate_stage(Context& c) {
  const auto& req = c.request;
  infer::EvalRequest eval;
  eval.spec.model = c.quantized.string();
  // The resolved task binds both models, as the built folder's manifest would.
  eval.spec.task = req.model.resolution.task;
  std::error_code ec;
  if (req.model.checkpoint && fs::is_regular_file(req.model.checkpoint->source.folder / "config.json", ec))
    eval.config = req.model.checkpoint->source.folder;
  eval.compare = c.source_onnx.string();
  eval.data = fs::path(*req.config.eval_data);
  eval.threads = req.threads;
  eval.samples = static_cast<std::size_t>(req.config.eval_samples);
  for (const auto& column : req.config.eval_columns) {
    MODELKIT_TRY(auto parsed, infer::parse_column_option("--eval-column", column));
    eval.columns.push_back(std::move(parsed));
  }
  auto report = infer::evaluate(eval);
  if (!report) return report.take_error().with_context("--eval-data " + quoted(*req.config.eval_data));
  // Name the models as the user knows them, not by the temporary folder's path.
  report->model = req.output.string();
  report->compare = req.model.checkpoint ? req.model.checkpoint->source.folder.string() : c.source_onnx.string();
  c.result.evaluation_json = infer::eval_report_json(*report);
  c.result.evaluation_text = infer::eval_report_text(*report);
  return ran();
}

void evaluate_manifest(const Context& c, util::JsonWriter& w) {
  if (c.result.evaluation_json.empty()) return;
  w.key("evaluation").raw(c.result.evaluation_json);
}

}  // namespace modelkit::build
