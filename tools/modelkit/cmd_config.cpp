// modelkit config: the build config JSON that 'modelkit build -c' replays.
#include "cli.hpp"

#include <modelkit/calib_sources.hpp>
#include <modelkit/precisions.hpp>
#include <modelkit/run.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace modelkit::cli {

namespace {
// Value lists of the options, from the settings tables ("minmax|percentile|entropy").
const std::string kMethodValues = setting_list<CalibrationMethod>("|");
const std::string kQuantTypeValues = setting_list<QuantType>("|");
const std::string kLayoutValues = setting_list<ImageLayout>("|");
const std::string kResizeModeValues = setting_list<ResizeMode>("|");
const std::string kPrecisionValues = setting_list<Precision>("|");
const std::string kOptimizeValues = setting_list<OptimizeLevel>("|");
}  // namespace

std::vector<OptionSpec> calibration_options() {
  return {
      {"--samples", "", "N", "calibration samples (default 100)"},
      {"--sequence-length", "", "N", "sequence length for text inputs without a static one (default 128)"},
      {"--method", "", kMethodValues, "calibration method (default minmax)"},
      {"--calibration-data", "", "PATH",
       ".txt, .jsonl, .csv, .tsv, an image or audio folder, or a .txt list of audio files (used, or the build fails)"},
      {"--text-column", "", "NAME", "the text column of .jsonl/.csv/.tsv data (default text)"},
      {"--pair-column", "", "NAME", "the second text's column (default text_pair when present)"},
      {"--column", "", "ROLE=NAME", "text=NAME or pair=NAME, as --text-column/--pair-column (repeatable)"},
      {"--sample-rate", "", "HZ", "sample rate of raw-audio models' input (default 16000)"},
      {"--per-channel", "", "", "per-channel weight scales"},
      {"--precision", "", kPrecisionValues,
       "int8/int16/w8a16: static QDQ types; fp16, int4 (MatMul weights), dynamic: no calibration (default int8)"},
      {"--block-size", "", "N", "int4: weights per block along K, a power of two >= 16 (default 128)"},
      {"--symmetric", "", "", "int4: blocks without zero points; static: activations symmetric too"},
      {"--accuracy-level", "", "0-4", "int4: MatMulNBits accuracy_level, the lowest type A is computed in "
                                      "(1 fp32, 2 fp16, 3 bf16, 4 int8; 0 ONNX Runtime's default)"},
      {"--reduce-range", "", "", "static and dynamic: 7-bit weights, for CPUs without VNNI"},
      {"--optimize", "", kOptimizeValues, "ONNX Runtime graph optimization before quantizing (default none)"},
      {"--activation-type", "", kQuantTypeValues, "activations' type (default uint8, asymmetric)"},
      {"--weight-type", "", kQuantTypeValues, "weights' type (default int8, symmetric)"},
      {"--seed", "", "N", "seed of random inputs (default 0)"},
      {"--input-shape", "", "NAME=1x128", "shape of a random calibration input (repeatable)"},
      {"--op-types", "", "A,B,..", "quantize only these op types (default: chosen from the graph)"},
      {"--exclude-nodes", "", "NAME|REGEX", "leave matching nodes in float (repeatable)"},
      {"--image-input", "", "NAME", "the input images feed (default pixel_values, else the input shaped like an image)"},
      {"--layout", "", kLayoutValues, "channel order of the image input (default: from its shape)"},
      {"--image-mean", "", "R,G,B", "normalisation mean (default preprocessor_config.json, else 0,0,0)"},
      {"--image-std", "", "R,G,B", "normalisation std (default preprocessor_config.json, else 1,1,1)"},
      {"--rescale", "", "F", "factor applied to 0..255 pixels before normalising (default 1/255)"},
      {"--bgr", "", "", "feed channels in B,G,R order"},
      {"--resize-mode", "", kResizeModeValues, "without preprocessor_config.json: stretch to the input's size (default) "
                                            "or resize the short edge and crop the centre"},
      {"--min-cosine", "", "X", "fail the build when an output's cosine similarity to the float model is below X"},
      {"--eval-data", "", "FILE|DIR", "after validation, evaluate the quantized model against the float one on this "
                                      "data (as modelkit eval --compare) and record it in the manifest"},
      {"--eval-column", "", "ROLE=NAME", "with --eval-data: the field holding a role, as eval's --column (repeatable)"},
      {"--eval-samples", "", "N", "with --eval-data: samples to evaluate at most, as eval's --samples (default 100)"},
  };
}

namespace {

// "0.5,0.5,0.5" -> three numbers.
Result<std::vector<double>> parse_triple(std::string_view option, const std::string& text) {
  std::vector<double> out;
  std::string_view rest = text;
  while (true) {
    auto comma = rest.find(',');
    std::string item(rest.substr(0, comma));
    char* end = nullptr;
    double v = std::strtod(item.c_str(), &end);
    if (item.empty() || end != item.c_str() + item.size() || !std::isfinite(v))
      return usage_error("option '" + std::string(option) + "': expected three numbers R,G,B, got '" + text + "'");
    out.push_back(v);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (out.size() != 3)
    return usage_error("option '" + std::string(option) + "': expected three numbers R,G,B, got '" + text + "'");
  return out;
}

std::string util_format(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

Result<double> parse_double_option(std::string_view option, const std::string& text, double min, double max) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(v >= min && v <= max))
    return usage_error("option '" + std::string(option) + "': expected a number from " + util_format(min) + " to " +
                       util_format(max) + ", got '" + text + "'");
  return v;
}

}  // namespace

// --block-size, --symmetric, --accuracy-level, --reduce-range, each checked against the
// precision (given now or recorded in a replayed config): an option the precision does not take
// is refused, naming the precisions that do.
Result<void> apply_precision_options(const ParsedArgs& args, QuantizationSettings& q) {
  const auto& row = setting_info(q.precision);
  auto refuse = [&](std::string_view option, std::string_view takers) {
    return usage_error("option '" + std::string(option) + "' does not apply to --precision " + std::string(row.name) +
                       "; it goes with " + std::string(takers));
  };
  if (auto v = args.value("--block-size")) {
    if (row.kind != PrecisionKind::weight_only) return refuse("--block-size", "int4");
    MODELKIT_TRY(auto n, parse_int_option("--block-size", *v, 1, kMaxBlockSize));
    auto checked = quant::check_block_size(n);
    if (!checked) return checked.error().with_context("option '--block-size'");
    q.block_size = static_cast<int>(n);
  }
  if (auto v = args.value("--accuracy-level")) {
    if (row.kind != PrecisionKind::weight_only) return refuse("--accuracy-level", "int4");
    MODELKIT_TRY(auto n, parse_int_option("--accuracy-level", *v, 0, kMaxAccuracyLevel));
    q.accuracy_level = static_cast<int>(n);
  }
  if (args.has("--symmetric")) {
    if (row.kind != PrecisionKind::weight_only && row.kind != PrecisionKind::static_qdq)
      return refuse("--symmetric", "int4, int8, int16, w8a16");
    q.symmetric = true;
  }
  if (args.has("--reduce-range")) {
    if (row.kind != PrecisionKind::dynamic_int8 && row.kind != PrecisionKind::static_qdq)
      return refuse("--reduce-range", "dynamic, int8, int16, w8a16");
    q.reduce_range = true;
  }
  for (std::string_view option : {"--weight-type", "--activation-type"})
    if (args.has(option) && row.kind != PrecisionKind::static_qdq) return refuse(option, "int8, int16, w8a16");
  if (args.has("--per-channel") && row.kind != PrecisionKind::static_qdq)
    return refuse("--per-channel", "int8, int16, w8a16");
  return {};
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
    q.precision = precision;
    q.weight_type = row.weight_type;
    q.activation_type = row.activation_type;
    // A type given beside the precision must be the one the precision sets; the other
    // precisions take no types at all.
    for (auto [option, set] : {std::pair{"--weight-type", row.weight_type}, {"--activation-type", row.activation_type}})
      if (auto t = args.value(option); t && (row.kind != PrecisionKind::static_qdq || *t != setting_name(set)))
        return usage_error("option '" + std::string(option) + "' " + quoted(*t) + " contradicts '--precision " +
                           std::string(row.name) + "' (" +
                           (row.kind == PrecisionKind::static_qdq
                                ? std::string(setting_name(set))
                                : "which sets its own types; --weight-type/--activation-type go with int8, int16, w8a16") +
                           ")");
  }
  MODELKIT_TRY_VOID(apply_precision_options(args, q));
  if (auto v = args.value("--optimize")) {
    MODELKIT_TRY(q.optimize, parse_option_setting<OptimizeLevel>("--optimize", *v));
  }
  if (auto v = args.value("--activation-type")) {
    MODELKIT_TRY(q.activation_type, parse_option_setting<QuantType>("--activation-type", *v));
  }
  if (auto v = args.value("--weight-type")) {
    MODELKIT_TRY(q.weight_type, parse_option_setting<QuantType>("--weight-type", *v));
  }
  if (auto v = args.value("--calibration-data")) cal.data = *v;
  for (const auto& v : args.values("--column")) {
    auto eq = v.find('=');
    std::string role = v.substr(0, eq == std::string::npos ? v.size() : eq);
    if (eq == std::string::npos || eq + 1 == v.size() || (role != "text" && role != "pair"))
      return usage_error("option '--column': expected text=NAME or pair=NAME, got '" + v + "'");
    (role == "text" ? cal.text_column : cal.pair_column) = v.substr(eq + 1);
  }
  if (auto v = args.value("--text-column")) cal.text_column = *v;
  if (auto v = args.value("--pair-column")) cal.pair_column = *v;
  if (args.has("--per-channel")) q.per_channel = true;
  for (const auto& text : args.values("--input-shape")) {
    // A shape given on the command line replaces a recorded one for the same input.
    MODELKIT_TRY(auto shape, parse_input_shape(text));
    std::erase_if(cal.input_shapes, [&](const std::string& recorded) {
      auto parsed = parse_input_shape(recorded);
      return parsed.ok() && parsed->name == shape.name;
    });
    cal.input_shapes.push_back(text);
  }
  if (auto v = args.value("--op-types")) {
    q.op_types.clear();
    std::string_view rest = *v;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      auto item = rest.substr(0, comma);
      if (!item.empty()) q.op_types.emplace_back(item);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  for (auto& pattern : args.values("--exclude-nodes")) q.exclude_nodes.push_back(pattern);
  auto& img = cal.image;
  if (auto v = args.value("--image-input")) img.input = *v;
  if (auto v = args.value("--layout")) {
    MODELKIT_TRY(img.layout, parse_option_setting<ImageLayout>("--layout", *v));
  }
  if (auto v = args.value("--resize-mode")) {
    MODELKIT_TRY(img.resize_mode, parse_option_setting<ResizeMode>("--resize-mode", *v));
  }
  if (auto v = args.value("--image-mean")) {
    MODELKIT_TRY(img.mean, parse_triple("--image-mean", *v));
  }
  if (auto v = args.value("--image-std")) {
    MODELKIT_TRY(img.std, parse_triple("--image-std", *v));
    for (double x : *img.std)
      if (x <= 0) return usage_error("option '--image-std': values must be positive, got '" + *v + "'");
  }
  if (auto v = args.value("--rescale")) {
    MODELKIT_TRY(img.rescale, parse_double_option("--rescale", *v, 1e-12, 1e12));
  }
  if (args.has("--bgr")) img.bgr = true;
  if (auto v = args.value("--min-cosine")) {
    MODELKIT_TRY(config.min_cosine, parse_double_option("--min-cosine", *v, -1, 1));
  }
  if (auto v = args.value("--eval-data")) {
    std::error_code ec;
    if (!std::filesystem::exists(*v, ec))
      return usage_error("option '--eval-data': no file or folder " + quoted(*v));
    config.eval_data = *v;
  }
  for (const auto& v : args.values("--eval-column")) {
    MODELKIT_TRY(auto column, infer::parse_column_option("--eval-column", v));
    config.eval_columns.push_back(column.first + "=" + column.second);
  }
  if (auto v = args.value("--eval-samples")) {
    MODELKIT_TRY(auto n, parse_int_option("--eval-samples", *v, 1, kMaxEvalSamples));
    config.eval_samples = static_cast<int>(n);
  }
  if ((!config.eval_columns.empty() || args.has("--eval-samples")) && !config.eval_data)
    return usage_error("--eval-column and --eval-samples go with --eval-data FILE|DIR");
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
