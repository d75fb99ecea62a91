// modelkit build: resolve -> plan -> calibrate -> quantize -> validate -> write.
#include "build_events.hpp"
#include "cli.hpp"

#include <cstdio>
#include <vector>

namespace modelkit::cli {

std::vector<OptionSpec> calibration_options();
Result<void> apply_calibration_options(const ParsedArgs& args, BuildConfig& config);

CommandSyntax build_syntax() {
  std::vector<OptionSpec> opts(std::begin(kModelOptions), std::end(kModelOptions));
  opts.push_back({"--config", "-c", "FILE", "replay a config written by 'modelkit config' (flags override it)"});
  for (auto& o : calibration_options()) opts.push_back(o);
  for (auto& o : pipeline_options()) opts.push_back(o);
  opts.push_back({"--output", "-o", "DIR", "output folder"});
  opts.push_back({"--dry-run", "", "", "resolve and print the plan; write nothing"});
  opts.push_back({"--format", "", "table|json", "output format of the plan (--dry-run) or the summary (default table)"});
  opts.push_back({"--help", "-h", "", "show this help"});
  return {"modelkit build (-m PATH|ID | --model-type T | -c FILE) [--task T] [-o DIR] [--dry-run]", std::move(opts)};
}

Result<void> run_build(std::span<char* const> argv) {
  const auto syntax = build_syntax();
  auto args = parse_args("build", argv, syntax.options);
  if (!args) return args.take_error();
  if (args->has("--help")) {
    std::fputs(format_help(syntax.usage, syntax.options).c_str(), stdout);
    return {};
  }
  MODELKIT_TRY_VOID(no_positional("build", *args));
  auto format = format_from(*args);
  if (!format) return format.take_error();
  MODELKIT_TRY(ModelSpec spec, model_spec_from(*args));
  const auto cache = CacheLocation::from_environment();
  ResolvedModel model;
  BuildConfig config;
  if (auto file = args->value("--config")) {
    MODELKIT_TRY(auto replayed, replay_build_config(*file, spec, cache));
    model = std::move(replayed.model);
    config = std::move(replayed.config);
  } else {
    MODELKIT_TRY(model, resolve_model(spec, cache));
    MODELKIT_TRY(config, make_build_config(model));
  }
  MODELKIT_TRY_VOID(apply_calibration_options(*args, config));
  if (args->has("--sequence-length"))
    MODELKIT_TRY_VOID(check_sequence_length(model, config.calibration.sequence_length));
  if (args->has("--dry-run")) {
    std::fputs(render_plan(config, args->value("--output"), *format).c_str(), stdout);
    return {};
  }
  auto output = args->value("--output");
  if (!output) return usage_error("name the output folder with -o DIR (or use --dry-run)");
  BuildRequest request;
  request.model = std::move(model);
  request.config = std::move(config);
  request.output = *output;
  MODELKIT_TRY_VOID(apply_pipeline_options(*args, request));
  bool quiet = args->has("--quiet");
  request.events = terminal_events(quiet);
  request.cancel = install_interrupt_flag();
  auto result = modelkit::run_build(std::move(request));
  if (!result) return result.take_error();
  print_build_summary(*result, quiet, *format);
  return {};
}

}  // namespace modelkit::cli
