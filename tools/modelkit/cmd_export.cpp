// modelkit export: a checkpoint's safetensors (or its config alone, with --random-weights) to an
// ONNX model, natively.
#include "cli.hpp"

#include <modelkit/export.hpp>

#include <cstdio>
#include <limits>

namespace modelkit::cli {

CommandSyntax export_syntax() {
  std::vector<OptionSpec> o = {
      {"--model", "-m", "PATH|MODEL_ID", "checkpoint folder, config.json, or model id in the HF cache"},
      {"--task", "", "TASK", "the task (synonyms accepted); picks the head"},
      {"--output", "-o", "OUT", "FILE.onnx: that file; otherwise a folder (model.onnx + config and tokenizer files)"},
      {"--opset", "", "N", "ONNX opset (default 17; 17..21)"},
      {"--random-weights", "", "", "weights from a seeded normal(0, initializer_range) instead of the checkpoint's"},
      {"--seed", "", "N", "seed of --random-weights (default 0)"},
      {"--input-shape", "", "pixel_values=NxCxHxW", "vision models: the image size to export for (default: the processor's)"},
      {"--force", "", "", "replace an existing output (never an input)"},
      {"--format", "", "table|json", "output format (default table)"},
      {"--help", "-h", "", "show this help"},
  };
  return {"modelkit export -m PATH|ID [--task T] -o OUT [--opset 17] [--random-weights [--seed N]] "
          "[--input-shape pixel_values=NxCxHxW] [--force] "
          "[--format table|json]",
          std::move(o)};
}

Result<void> run_export(std::span<char* const> argv) {
  const auto syntax = export_syntax();
  auto args = parse_args("export", argv, syntax.options);
  if (!args) return args.take_error();
  if (args->has("--help")) {
    std::fputs(format_help(syntax.usage, syntax.options).c_str(), stdout);
    return {};
  }
  MODELKIT_TRY_VOID(no_positional("export", *args));
  MODELKIT_TRY(auto format, format_from(*args));
  MODELKIT_TRY(auto spec, model_spec_from(*args));
  if (!spec.model) return usage_error("name the checkpoint with -m PATH|MODEL_ID");
  auto output = args->value("--output");
  if (!output) return usage_error("name the output with -o FILE.onnx or -o DIR");
  ExportRequest request;
  request.output = *output;
  if (auto opset = args->value("--opset")) {
    MODELKIT_TRY(auto n, parse_int_option("--opset", *opset, kMinExportOpset, kMaxExportOpset));
    request.opset = static_cast<int>(n);
  }
  request.random_weights = args->has("--random-weights");
  if (auto seed = args->value("--seed")) {
    if (!request.random_weights) return usage_error("--seed only applies with --random-weights");
    MODELKIT_TRY(auto n, parse_int_option("--seed", *seed, 0, std::numeric_limits<long long>::max()));
    request.seed = static_cast<std::uint64_t>(n);
  }
  request.force = args->has("--force");
  std::vector<InputShape> shapes;
  for (const auto& text : args->values("--input-shape")) {
    auto s = parse_input_shape(text);
    if (!s) return Error{"option '--input-shape': " + s.error().message, ErrorKind::usage};
    shapes.push_back(std::move(*s));
  }
  MODELKIT_TRY(request.image_size, export_image_size(shapes, true));
  MODELKIT_TRY(request.model, resolve_model(spec, CacheLocation::from_environment()));
  MODELKIT_TRY(auto result, export_model(request));
  if (format == OutputFormat::json) {
    std::fputs(export_result_json(result).c_str(), stdout);
    return {};
  }
  std::string dtypes;
  for (const auto& d : result.source_weights.dtypes) dtypes += (dtypes.empty() ? "" : ", ") + d.dtype;
  std::printf("exported %s (%s, %s head%s) to %s\n", result.model_class.c_str(), result.family.c_str(),
              result.head.c_str(),
              result.pooling ? (", pooling " + *result.pooling + (result.normalize ? " + normalize" : "")).c_str() : "",
              result.model_path.string().c_str());
  std::printf("  opset %d, %llu parameters, %llu bytes%s, weights %s\n", result.opset,
              static_cast<unsigned long long>(result.parameters), static_cast<unsigned long long>(result.onnx_bytes),
              result.external_data ? " (external data)" : "",
              result.random_weights ? ("random (seed " + std::to_string(result.seed) + ")").c_str()
                                    : (std::to_string(result.source_weights.files.size()) + " safetensors file(s), " +
                                       dtypes)
                                          .c_str());
  std::string ins, outs;
  for (const auto& i : result.inputs) ins += (ins.empty() ? "" : ", ") + i;
  for (const auto& o : result.outputs) outs += (outs.empty() ? "" : ", ") + o;
  std::printf("  inputs: %s\n  outputs: %s\n", ins.c_str(), outs.c_str());
  if (!result.component.empty())
    std::printf("  note: only the %s of %s is exported (the decoder is not exported yet)\n", result.component.c_str(),
                result.model_class.c_str());
  return {};
}

}  // namespace modelkit::cli
