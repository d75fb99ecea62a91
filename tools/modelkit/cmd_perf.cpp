// modelkit perf: latency, throughput, load time and peak memory of an ONNX model in ONNX
// Runtime on seeded random inputs built from the model's own input specs; --compare runs a
// second model alternately and prints the latency ratio.
//
// JSON (--format json; field names are stable, pinned by tests/integration/perf_test.cpp):
// {
//   "schema_version": 1,
//   "onnxruntime_version": "1.30.0",
//   "warmup": 10, "iterations": 100,
//   "threads": 0,                       intra-op threads; 0 = ONNX Runtime's default
//   "seed": 0,
//   "models": [{                        the model, then the --compare model if any
//     "path": "model.onnx",
//     "load_ms": 12.5,                  session creation (parse, optimize, allocate)
//     "inputs": [{"name", "element_type", "shape", "fill", "dims"}],
//     "latency_ms": {"min", "p50", "p90", "p99", "mean", "std"},
//     "throughput_per_second": 790.1,   inferences per second (1000 / mean latency)
//     "rss_after_load_bytes": 123
//   }],
//   "peak_rss_bytes": 456,              the process's peak resident memory
//   "comparison": null | {"p50_ratio": 0.61, "mean_ratio": 0.63}   compare model / model
// }
#include "cli.hpp"

#include <modelkit/onnx.hpp>
#include <modelkit/random_inputs.hpp>
#include <modelkit/runtime.hpp>

#include "util/file.hpp"
#include "util/json_read.hpp"
#include "util/json_writer.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>

namespace modelkit::cli {
namespace {

namespace fs = std::filesystem;

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

struct ModelRun {
  fs::path path;
  RandomInputs inputs;
  std::optional<runtime::Session> session;
  double load_ms = 0;
  std::uint64_t rss_after_load = 0;
  std::vector<double> samples;
};

// Hints from the checkpoint files next to the model (config.json, preprocessor_config.json),
// where a folder has them; absent files or fields just leave the hint unset.
InputHints hints_near(const fs::path& model_path, std::int64_t sequence_length) {
  InputHints hints;
  hints.sequence_length = sequence_length;
  std::vector<fs::path> dirs = {model_path.parent_path()};
  if (model_path.parent_path().filename() == "onnx") dirs.push_back(model_path.parent_path().parent_path());
  auto read_int = [](simdjson::dom::object obj, std::string_view key) -> std::optional<std::int64_t> {
    auto v = util::optional_int(obj, key);
    return v.ok() ? *v : std::nullopt;
  };
  for (const auto& dir : dirs) {
    for (const char* name : {"config.json", "preprocessor_config.json"}) {
      auto text = util::read_file(dir / name, 16u << 20);
      if (!text) continue;
      simdjson::dom::parser parser;
      auto doc = util::parse_json(parser, *text);
      if (!doc || !doc->is_object()) continue;
      auto obj = doc->get_object().value();
      if (!hints.vocab_size) hints.vocab_size = read_int(obj, "vocab_size");
      if (!hints.image_size) hints.image_size = read_int(obj, "image_size");
      if (!hints.num_channels) hints.num_channels = read_int(obj, "num_channels");
      if (!hints.sampling_rate) hints.sampling_rate = read_int(obj, "sampling_rate");
    }
  }
  return hints;
}

Result<ModelRun> prepare(const fs::path& given, const InputHints& base_hints, std::span<const InputShape> shapes,
                         std::uint64_t seed, int threads) {
  MODELKIT_TRY(auto located, path_or_model_id(given.string()));
  auto path = onnx::resolve_model_path(located);
  if (!path) return path.take_error();
  auto info = onnx::read_model_info(*path);
  if (!info) return info.take_error();
  InputHints hints = hints_near(*path, base_hints.sequence_length);
  auto inputs = make_random_inputs(info->inputs, hints, shapes, seed);
  if (!inputs) {
    auto e = inputs.take_error();
    return Error{e.message + " (use --input-shape NAME=DIMS)", e.kind}.with_context("'" + path->string() + "'");
  }
  ModelRun run;
  run.path = *path;
  run.inputs = std::move(*inputs);
  runtime::SessionOptions options;
  options.intra_op_threads = threads;
  auto start = std::chrono::steady_clock::now();
  auto session = runtime::Session::open(*path, options);
  auto end = std::chrono::steady_clock::now();
  if (!session) return session.take_error();
  run.load_ms = std::chrono::duration<double, std::milli>(end - start).count();
  run.rss_after_load = runtime::current_rss_bytes();
  run.session.emplace(std::move(*session));
  return run;
}

std::string human_bytes(std::uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1024.0 * 1024.0));
  return buf;
}

void print_table(const std::vector<ModelRun>& runs, int warmup, int iterations, int threads, std::uint64_t seed) {
  std::string out;
  auto row = [&out](std::string_view label, const std::string& text) {
    std::string l(label);
    l.resize(13, ' ');
    out += l + text + "\n";
  };
  row("onnxruntime", runtime::onnxruntime_version() + ", intra-op threads " +
                         (threads > 0 ? std::to_string(threads) : std::string("default")));
  row("runs", std::to_string(iterations) + " timed after " + std::to_string(warmup) + " warmup" +
                  (runs.size() > 1 ? ", models alternating" : "") + "; random inputs seed " + std::to_string(seed));
  for (const auto& r : runs) {
    auto s = runtime::latency_stats(r.samples);
    out += "\n";
    row("model", r.path.string());
    for (std::size_t i = 0; i < r.inputs.records.size(); ++i) {
      const auto& rec = r.inputs.records[i];
      row(i == 0 ? "inputs" : "", rec.name + " " + element_type_name(rec.type) + " [" + format_shape(rec.shape) +
                                      "] " + rec.fill);
    }
    char buf[256];
    std::snprintf(buf, sizeof buf, "%.2f ms", r.load_ms);
    row("load", buf);
    std::snprintf(buf, sizeof buf, "min %.3f  p50 %.3f  p90 %.3f  p99 %.3f  mean %.3f  std %.3f", s.min_ms, s.p50_ms,
                  s.p90_ms, s.p99_ms, s.mean_ms, s.std_ms);
    row("latency ms", buf);
    std::snprintf(buf, sizeof buf, "%.1f inferences/s", s.mean_ms > 0 ? 1000.0 / s.mean_ms : 0.0);
    row("throughput", buf);
    row("memory", "RSS after load " + human_bytes(r.rss_after_load));
  }
  out += "\n";
  row("peak memory", human_bytes(runtime::peak_rss_bytes()) + " RSS (process peak)");
  if (runs.size() == 2) {
    auto a = runtime::latency_stats(runs[0].samples), b = runtime::latency_stats(runs[1].samples);
    char buf[160];
    double ratio = b.p50_ms / a.p50_ms;
    std::snprintf(buf, sizeof buf, "compare/model p50 %.3f, mean %.3f (compare is %.2fx %s)", ratio,
                  b.mean_ms / a.mean_ms, ratio < 1 ? 1 / ratio : ratio, ratio < 1 ? "faster" : "slower");
    row("ratio", buf);
  }
  std::fputs(out.c_str(), stdout);
}

void print_json(const std::vector<ModelRun>& runs, int warmup, int iterations, int threads, std::uint64_t seed) {
  util::JsonWriter json;
  json.begin_object();
  json.field("schema_version", 1);
  json.field("onnxruntime_version", runtime::onnxruntime_version());
  json.field("warmup", warmup);
  json.field("iterations", iterations);
  json.field("threads", threads);
  json.field("seed", seed);
  json.key("models").begin_array();
  for (const auto& r : runs) {
    auto s = runtime::latency_stats(r.samples);
    json.begin_object();
    json.field("path", r.path.string());
    json.field("load_ms", r.load_ms);
    json.key("inputs");
    write_random_input_records_json(json, r.inputs.records);
    json.key("latency_ms").begin_object();
    json.field("min", s.min_ms);
    json.field("p50", s.p50_ms);
    json.field("p90", s.p90_ms);
    json.field("p99", s.p99_ms);
    json.field("mean", s.mean_ms);
    json.field("std", s.std_ms);
    json.end_object();
    json.field("throughput_per_second", s.mean_ms > 0 ? 1000.0 / s.mean_ms : 0.0);
    json.field("rss_after_load_bytes", r.rss_after_load);
    json.end_object();
  }
  json.end_array();
  json.field("peak_rss_bytes", runtime::peak_rss_bytes());
  json.key("comparison");
  if (runs.size() == 2) {
    auto a = runtime::latency_stats(runs[0].samples), b = runtime::latency_stats(runs[1].samples);
    json.begin_object();
    json.field("p50_ratio", b.p50_ms / a.p50_ms);
    json.field("mean_ratio", b.mean_ms / a.mean_ms);
    json.end_object();
  } else {
    json.null();
  }
  json.end_object();
  std::string text = json.take();
  text += "\n";
  std::fputs(text.c_str(), stdout);
}

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

  InputHints hints;
  hints.sequence_length = *sequence_length;
  auto seed_value = static_cast<std::uint64_t>(*seed);
  int thread_count = static_cast<int>(*threads);
  std::vector<ModelRun> runs;
  auto first = prepare(*model, hints, shapes, seed_value, thread_count);
  if (!first) return first.take_error();
  runs.push_back(std::move(*first));
  if (auto other = args->value("--compare")) {
    auto second = prepare(*other, hints, shapes, seed_value, thread_count);
    if (!second) return second.take_error();
    runs.push_back(std::move(*second));
  }

  int w = static_cast<int>(*warmup), n = static_cast<int>(*iterations);
  if (runs.size() == 1) {
    auto samples = runtime::time_runs(*runs[0].session, runs[0].inputs.tensors, w, n);
    if (!samples) return samples.take_error();
    runs[0].samples = std::move(*samples);
  } else {
    // Alternate so both models see the same machine state (clock, cache, other load).
    for (int i = 0; i < w + n; ++i) {
      for (auto& r : runs) {
        auto sample = runtime::time_runs(*r.session, r.inputs.tensors, 0, 1);
        if (!sample) return sample.take_error();
        if (i >= w) r.samples.push_back(sample->front());
      }
    }
  }
  if (*format == OutputFormat::json) print_json(runs, w, n, thread_count, seed_value);
  else print_table(runs, w, n, thread_count, seed_value);
  return {};
}

}  // namespace modelkit::cli
