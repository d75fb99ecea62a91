// modelkit quantize: the build machinery on a bare ONNX file, written to one .onnx file
// (with <name>.manifest.json beside it). Without a known task it calibrates on random
// inputs, and says so.
#include "build_events.hpp"
#include "cli.hpp"

#include <cstdio>

namespace modelkit::cli {

std::vector<OptionSpec> calibration_options();
Result<void> apply_calibration_options(const ParsedArgs& args, BuildConfig& config);

CommandSyntax quantize_syntax() {
  std::vector<OptionSpec> opts = {
      {"--model", "-m", "FILE.onnx", "the float ONNX model"},
      {"--task", "", "TASK", "the task (selects the calibration data)"},
      {"--hf-config", "", "config.json", "the checkpoint's Hugging Face config.json, to resolve the task from"},
      {"--build-config", "", "FILE", "replay the settings of a build config written by 'modelkit config' (flags override it)"},
  };
  for (auto& o : calibration_options()) opts.push_back(o);
  for (auto& o : pipeline_options())
    if (o.name != "--onnx") opts.push_back(o);
  opts.push_back({"--output", "-o", "FILE.onnx", "the quantized model to write"});
  opts.push_back({"--format", "", "table|json", "output format of the summary (default table)"});
  opts.push_back({"--help", "-h", "", "show this help"});
  return {"modelkit quantize -m model.onnx [--task T | --hf-config config.json] [--build-config FILE] -o out.onnx",
          std::move(opts)};
}

Result<void> run_quantize(std::span<char* const> argv) {
  // '--config' once meant the checkpoint's config.json here and a build config in 'build': refuse
  // the ambiguous name rather than guess.
  for (std::string_view a : argv)
    if (a == "--config" || a.starts_with("--config="))
      return usage_error("option '--config' is ambiguous for 'modelkit quantize': use --hf-config FILE for a "
                         "checkpoint's config.json, or --build-config FILE for a build config written by 'modelkit config'");
  const auto syntax = quantize_syntax();
  auto args = parse_args("quantize", argv, syntax.options);
  if (!args) return args.take_error();
  if (args->has("--help")) {
    std::fputs(format_help(syntax.usage, syntax.options).c_str(), stdout);
    return {};
  }
  MODELKIT_TRY_VOID(no_positional("quantize", *args));
  auto format = format_from(*args);
  if (!format) return format.take_error();
  auto onnx = args->value("--model");
  if (!onnx) return usage_error("name the float model with -m FILE.onnx");
  auto output = args->value("--output");
  if (!output) return usage_error("name the output with -o FILE.onnx");
  ModelSpec spec;
  spec.task = args->value("--task");
  if (spec.task) {
    auto task = registry::parse_task(*spec.task);
    if (!task) return task.take_error();
  }
  // The task comes from --task, --hf-config, or a config.json beside the model.
  if (auto hf = args->value("--hf-config")) {
    // A build config is not a Hugging Face config: say so rather than read it as one.
    if (read_build_config(*hf).ok())
      return usage_error("'" + *hf + "' is a build config written by 'modelkit config', not a checkpoint's config.json; "
                         "pass it with --build-config");
  }
  spec.model = args->value("--hf-config").value_or(*onnx);
  MODELKIT_TRY(ResolvedModel model, resolve_model(spec, CacheLocation::from_environment()));
  BuildConfig config = make_quantize_config(model, *onnx);
  if (auto file = args->value("--build-config")) {
    MODELKIT_TRY(BuildConfig recorded, read_build_config(*file));
    replay_build_settings(config, recorded);
  }
  MODELKIT_TRY_VOID(apply_calibration_options(*args, config));
  if (args->has("--sequence-length"))
    MODELKIT_TRY_VOID(check_sequence_length(model, config.calibration.sequence_length));
  BuildRequest request;
  request.model = std::move(model);
  request.config = std::move(config);
  request.onnx = *onnx;
  request.output = *output;
  request.output_is_file = true;
  MODELKIT_TRY_VOID(apply_pipeline_options(*args, request));
  bool quiet = args->has("--quiet");
  request.events = terminal_events(quiet);
  request.cancel = install_interrupt_flag();
  auto result = run_build(std::move(request));
  if (!result) return result.take_error();
  print_build_summary(*result, quiet, *format);
  return {};
}

}  // namespace modelkit::cli
