// modelkit eval: a model over a data set, alone (task metrics with labels) or against another
// model on the same inputs (infer::evaluate; run.hpp).
#include "cli.hpp"

#include <modelkit/run.hpp>

#include <cstdio>

namespace modelkit::cli {
namespace {

constexpr OptionSpec kEvalOptions[] = {
    {"--model", "-m", "PATH|MODEL_ID", "the model evaluated: a built folder, a checkpoint folder, an .onnx file, or a model id"},
    {"--compare", "", "PATH|MODEL_ID", "a reference model run on the same inputs (e.g. the float model of a build)"},
    {"--data", "", "FILE|DIR", ".jsonl/.csv/.tsv/.txt text (text, text_pair, label), or an image/audio folder (one sub-folder per class); default: the embedded calibration data"},
    {"--column", "", "ROLE=NAME", "the field holding text, text_pair, label, tokens (words), ner_tags or answers (repeatable), e.g. text=sentence"},
    {"--task", "", "TASK", "the task (synonyms accepted); overrides the manifest and detection"},
    {"--config", "", "PATH", "with an .onnx file: the config.json or checkpoint folder it came from"},
    {"--samples", "", "N", "samples to evaluate at most (default 100)"},
    {"--input-shape", "", "NAME=DIMS", "size of an image/audio input without a static one, e.g. input=1x512 (repeatable)"},
    {"--per-tensor", "", "", "with -m QDQ_MODEL --compare FLOAT_MODEL: error per quantized tensor, worst first, and the --exclude-nodes line"},
    {"--worst", "", "N", "tensors the --exclude-nodes line keeps in float (default 3)"},
    {"--pooling", "", "auto|mean|cls|none", "feature extraction pooling (default auto)"},
    {"--threads", "", "N", "ONNX Runtime intra-op threads (0 or absent: ONNX Runtime's choice)"},
    {"--output", "-o", "FILE", "also write the JSON report to FILE"},
    {"--html", "", "FILE", "also write a self-contained HTML page (with --per-tensor: an SVG chart of the error per tensor)"},
    {"--force", "", "", "replace an existing -o file"},
    {"--format", "", "table|json", "output format (default table)"},
    {"--help", "-h", "", "show this help"},
};

}  // namespace

CommandSyntax eval_syntax() {
  return {"modelkit eval -m MODEL [--compare OTHER] [--data FILE|DIR] [--column ROLE=NAME]... [--task T] "
          "[--samples N] [--per-tensor [--worst N]] [--format table|json] [-o report.json] [--html FILE]",
          {std::begin(kEvalOptions), std::end(kEvalOptions)}};
}

Result<void> run_eval(std::span<char* const> argv) {
  const auto syntax = eval_syntax();
  MODELKIT_TRY(auto args, parse_args("eval", argv, syntax.options));
  if (args.has("--help")) {
    std::fputs(format_help(syntax.usage, syntax.options).c_str(), stdout);
    return {};
  }
  MODELKIT_TRY_VOID(no_positional("eval", args));
  MODELKIT_TRY(auto format, format_from(args));
  infer::EvalRequest req;
  MODELKIT_TRY(req.spec, model_spec_from(args));
  if (!req.spec.model) return usage_error("'modelkit eval' needs a model (-m PATH)");
  req.compare = args.value("--compare");
  if (auto v = args.value("--data")) req.data = *v;
  if (auto v = args.value("--config")) req.config = *v;
  for (const auto& v : args.values("--column")) {
    MODELKIT_TRY(auto column, infer::parse_column_option("--column", v));
    req.columns.push_back(std::move(column));
  }
  if (auto v = args.value("--samples")) {
    MODELKIT_TRY(auto n, parse_int_option("--samples", *v, 1, 1000000));
    req.samples = static_cast<std::size_t>(n);
  }
  if (auto v = args.value("--pooling")) {
    MODELKIT_TRY(req.pooling, parse_option_setting<Pooling>("--pooling", *v));
  }
  MODELKIT_TRY(req.threads, threads_option(args));
  for (const auto& text : args.values("--input-shape")) {
    auto shape = parse_input_shape(text);
    if (!shape) return Error{"option '--input-shape': " + shape.error().message, ErrorKind::usage};
    req.input_shapes.push_back(std::move(*shape));
  }
  req.per_tensor = args.has("--per-tensor");
  if (auto v = args.value("--worst")) {
    MODELKIT_TRY(auto n, parse_int_option("--worst", *v, 1, 1000000));
    req.worst = static_cast<std::size_t>(n);
  }
  std::optional<std::filesystem::path> output;
  if (auto v = args.value("--output")) {
    output = *v;
    std::vector<std::filesystem::path> inputs{*req.spec.model};
    if (req.compare) inputs.emplace_back(*req.compare);
    if (req.data) inputs.push_back(*req.data);
    MODELKIT_TRY_VOID(infer::check_report_output(*output, args.has("--force"), inputs));
  }
  std::optional<std::filesystem::path> html;
  if (auto v = args.value("--html")) {
    html = *v;
    std::vector<std::filesystem::path> inputs{*req.spec.model};
    if (req.compare) inputs.emplace_back(*req.compare);
    if (req.data) inputs.push_back(*req.data);
    if (output) inputs.push_back(*output);
    MODELKIT_TRY_VOID(infer::check_report_output(*html, args.has("--force"), inputs));
  }
  MODELKIT_TRY(auto report, infer::evaluate(req));
  if (html) MODELKIT_TRY_VOID(infer::write_report(*html, infer::eval_report_html(report, req.worst)));
  const auto json = infer::eval_report_json(report);
  if (output) MODELKIT_TRY_VOID(infer::write_report(*output, json));
  std::fputs(format == OutputFormat::json ? json.c_str() : infer::eval_report_text(report).c_str(), stdout);
  return {};
}

}  // namespace modelkit::cli
