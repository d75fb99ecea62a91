// modelkit config: the build config JSON that 'modelkit build -c' replays.
#include "cli.hpp"

#include <cstdio>
#include <vector>

namespace modelkit::cli {

namespace {
// Value lists of the options, from the settings tables ("minmax|percentile|entropy").
const std::string kMethodValues = setting_list<CalibrationMethod>("|");
const std::string kQuantTypeValues = setting_list<QuantType>("|");
const std::string kPrecisionValues = setting_list<Precision>("|");
}  // namespace

std::vector<OptionSpec> calibration_options() {
  return {
      {"--samples", "", "N", "calibration samples (default 100)"},
      {"--sequence-length", "", "N", "sequence length for text inputs without a static one (default 128)"},
      {"--method", "", kMethodValues, "calibration method (default minmax)"},
      {"--calibration-data", "", "PATH", ".txt, .jsonl, an image or audio folder, or a .txt list of audio files"},
      {"--sample-rate", "", "HZ", "sample rate of raw-audio models' input (default 16000)"},
      {"--per-channel", "", "", "per-channel weight scales"},
      {"--precision", "", kPrecisionValues, "weight and activation types together (default int8)"},
      {"--activation-type", "", kQuantTypeValues, "activations' type (default uint8, asymmetric)"},
      {"--weight-type", "", kQuantTypeValues, "weights' type (default int8, symmetric)"},
      {"--seed", "", "N", "seed of random inputs (default 0)"},
  };
}

Result<void> apply_calibration_options(const ParsedArgs& args, BuildConfig& config) {
  auto& cal = config.calibration;
  auto& q = config.quantization;
  if (auto v = args.value("--samples")) {
    auto n = parse_int_option("--samples", *v, 1, 1'000'000);
    if (!n) return n.take_error();
    cal.samples = static_cast<int>(*n);
  }
  if (auto v = args.value("--sequence-length")) {
    auto n = parse_int_option("--sequence-length", *v, 1, 1'000'000);
    if (!n) return n.take_error();
    cal.sequence_length = static_cast<int>(*n);
  }
  if (auto v = args.value("--sample-rate")) {
    auto n = parse_int_option("--sample-rate", *v, 1000, 768000);
    if (!n) return n.take_error();
    cal.sample_rate = static_cast<int>(*n);
  }
  if (auto v = args.value("--seed")) {
    auto n = parse_int_option("--seed", *v, 0, INT64_MAX);
    if (!n) return n.take_error();
    cal.seed = static_cast<std::uint64_t>(*n);
  }
  if (auto v = args.value("--method")) {
    MODELKIT_TRY(cal.method, parse_option_setting<CalibrationMethod>("--method", *v));
  }
  if (auto v = args.value("--precision")) {
    MODELKIT_TRY(auto precision, parse_option_setting<Precision>("--precision", *v));
    const auto& row = setting_info(precision);
    q.weight_type = row.weight_type;
    q.activation_type = row.activation_type;
    // A type given beside the precision must be the one the precision sets.
    for (auto [option, set] : {std::pair{"--weight-type", row.weight_type}, {"--activation-type", row.activation_type}})
      if (auto t = args.value(option); t && *t != setting_name(set))
        return usage_error("option '" + std::string(option) + "' " + quoted(*t) + " contradicts '--precision " +
                           std::string(row.name) + "' (" + std::string(setting_name(set)) + ")");
  }
  if (auto v = args.value("--activation-type")) {
    MODELKIT_TRY(q.activation_type, parse_option_setting<QuantType>("--activation-type", *v));
  }
  if (auto v = args.value("--weight-type")) {
    MODELKIT_TRY(q.weight_type, parse_option_setting<QuantType>("--weight-type", *v));
  }
  if (auto v = args.value("--calibration-data")) cal.data = *v;
  if (args.has("--per-channel")) q.per_channel = true;
  return {};
}

CommandSyntax config_syntax() {
  std::vector<OptionSpec> opts(std::begin(kModelOptions), std::end(kModelOptions));
  for (auto& o : calibration_options()) opts.push_back(o);
  opts.push_back({"--output", "-o", "FILE", "write the config here instead of stdout"});
  opts.push_back({"--force", "", "", "replace an existing -o FILE"});
  opts.push_back({"--format", "", "json|table", "json: the config (default); table: its plan, readable"});
  opts.push_back({"--help", "-h", "", "show this help"});
  return {"modelkit config (-m PATH|ID | --model-type T | --model-class C) [--task T] [-o FILE [--force]]",
          std::move(opts)};
}

Result<void> run_config(std::span<char* const> argv) {
  const auto syntax = config_syntax();
  auto args = parse_args("config", argv, syntax.options);
  if (!args) return args.take_error();
  if (args->has("--help")) {
    std::fputs(format_help(syntax.usage, syntax.options).c_str(), stdout);
    return {};
  }
  MODELKIT_TRY_VOID(no_positional("config", *args));
  auto format = parse_output_format(args->value("--format").value_or("json"));
  if (!format) return format.take_error();
  auto spec = model_spec_from(*args);
  if (!spec) return spec.take_error();
  auto model = resolve_model(*spec, CacheLocation::from_environment());
  if (!model) return model.take_error();
  auto config = make_build_config(*model);
  if (!config) return config.take_error();
  MODELKIT_TRY_VOID(apply_calibration_options(*args, *config));
  if (args->has("--sequence-length"))
    MODELKIT_TRY_VOID(check_sequence_length(*model, config->calibration.sequence_length));
  if (auto out = args->value("--output")) return write_build_config(*config, *out, *model, args->has("--force"));
  if (*format == OutputFormat::table) {
    std::fputs(render_plan(*config, std::nullopt, OutputFormat::table).c_str(), stdout);
    return {};
  }
  std::fputs(build_config_json(*config).c_str(), stdout);
  return {};
}

}  // namespace modelkit::cli
