// modelkit perf: parses the options and prints runtime::measure_perf's report (perf.hpp has
// the measurement and its JSON).
#include "cli.hpp"

#include <modelkit/perf.hpp>

#include <cstdio>
#include <limits>

namespace modelkit::cli {
namespace {

constexpr OptionSpec kOptions[] = {
    {"--model", "-m", "PATH|MODEL_ID", ".onnx file, a folder (its model.onnx / onnx/model.onnx), or a model id in the HF cache"},
    {"--compare", "", "PATH", "a second model run alternately with the first; prints the latency ratio"},
    {"--warmup", "", "N", "untimed runs first (default 10)"},
    {"--iterations", "", "N", "timed runs (default 100)"},
    {"--threads", "", "N", "ONNX Runtime intra-op threads (0 or absent: ONNX Runtime's choice)"},
    {"--input-shape", "", "NAME=DIMS", "shape of an input, e.g. input_ids=1x128 (repeatable)"},
    {"--sequence-length", "", "N", "sequence dims of the inputs (default 128)"},
    {"--seed", "", "S", "random input seed (default 0)"},
    {"--format", "", "table|json", "output format (default table)"},
    {"--help", "-h", "", "show this help"},
};

}  // namespace

CommandSyntax perf_syntax() {
  return {"modelkit perf -m MODEL [--compare OTHER] [--warmup N] [--iterations N] [--threads N] "
          "[--input-shape NAME=DIMS]... [--seed S] [--format table|json]",
          {std::begin(kOptions), std::end(kOptions)}};
}

Result<void> run_perf(std::span<char* const> argv) {
  const auto syntax = perf_syntax();
  auto args = parse_args("perf", argv, syntax.options);
  if (!args) return args.take_error();
  if (args->has("--help")) {
    std::fputs(format_help(syntax.usage, syntax.options).c_str(), stdout);
    return {};
  }
  MODELKIT_TRY_VOID(no_positional("perf", *args));
  auto format = format_from(*args);
  if (!format) return format.take_error();
  auto model = args->value("--model");
  if (!model) return usage_error("'modelkit perf' needs a model (-m PATH)");

  auto int_option = [&](std::string_view name, long long fallback, long long min, long long max) -> Result<long long> {
    auto v = args->value(name);
    return v ? parse_int_option(name, *v, min, max) : Result<long long>(fallback);
  };
  auto warmup = int_option("--warmup", 10, 0, 1000000);
  if (!warmup) return warmup.take_error();
  auto iterations = int_option("--iterations", 100, 1, 10000000);
  if (!iterations) return iterations.take_error();
  auto threads = threads_option(*args);
  if (!threads) return threads.take_error();
  auto sequence_length = int_option("--sequence-length", 128, 1, 1 << 20);
  if (!sequence_length) return sequence_length.take_error();
  auto seed = int_option("--seed", 0, 0, std::numeric_limits<long long>::max());
  if (!seed) return seed.take_error();
  std::vector<InputShape> shapes;
  for (const auto& text : args->values("--input-shape")) {
    auto s = parse_input_shape(text);
    if (!s) return Error{"option '--input-shape': " + s.error().message, ErrorKind::usage};
    shapes.push_back(std::move(*s));
  }

  runtime::PerfOptions options;
  MODELKIT_TRY(options.model, path_or_model_id(*model));
  if (auto other = args->value("--compare")) {
    MODELKIT_TRY(options.compare, path_or_model_id(*other));
  }
  options.warmup = static_cast<int>(*warmup);
  options.iterations = static_cast<int>(*iterations);
  options.threads = static_cast<int>(*threads);
  options.sequence_length = *sequence_length;
  options.seed = static_cast<std::uint64_t>(*seed);
  options.input_shapes = std::move(shapes);
  MODELKIT_TRY(auto report, runtime::measure_perf(options));
  auto text = *format == OutputFormat::json ? runtime::perf_report_json(report) : runtime::perf_report_table(report);
  std::fputs(text.c_str(), stdout);
  return {};
}

}  // namespace modelkit::cli
