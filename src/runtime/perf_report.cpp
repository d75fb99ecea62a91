#include <modelkit/onnx.hpp>
#include <modelkit/perf.hpp>

#include "onnx/onnx_json.hpp"
#include "util/file.hpp"
#include "util/json_read.hpp"
#include "util/json_writer.hpp"

#include <chrono>
#include <cstdio>

namespace modelkit::runtime {
namespace {

namespace fs = std::filesystem;

struct ModelRun {
  PerfModel report;
  RandomInputs inputs;
  std::optional<Session> session;
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

Result<ModelRun> prepare(const fs::path& given, const PerfOptions& o) {
  MODELKIT_TRY(auto path, onnx::resolve_model_path(given));
  MODELKIT_TRY(auto info, onnx::read_model_info(path));
  InputHints hints = hints_near(path, o.sequence_length);
  auto inputs = make_random_inputs(info.inputs, hints, o.input_shapes, o.seed);
  if (!inputs) {
    auto e = inputs.take_error();
    return Error{e.message + " (use --input-shape NAME=DIMS)", e.kind}.with_context(quoted(path));
  }
  ModelRun run;
  run.report.path = path;
  run.inputs = std::move(*inputs);
  run.report.inputs = run.inputs.records;
  SessionOptions options;
  options.intra_op_threads = o.threads;
  auto start = std::chrono::steady_clock::now();
  auto session = Session::open(path, options);
  auto end = std::chrono::steady_clock::now();
  if (!session) return session.take_error();
  run.report.load_ms = std::chrono::duration<double, std::milli>(end - start).count();
  run.report.rss_after_load_bytes = current_rss_bytes();
  run.session.emplace(std::move(*session));
  return run;
}

std::string human_bytes(std::uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

Result<PerfReport> measure_perf(const PerfOptions& o) {
  std::vector<ModelRun> runs;
  MODELKIT_TRY(auto first, prepare(o.model, o));
  runs.push_back(std::move(first));
  if (o.compare) {
    MODELKIT_TRY(auto second, prepare(*o.compare, o));
    runs.push_back(std::move(second));
  }
  if (runs.size() == 1) {
    MODELKIT_TRY(runs[0].report.samples_ms, time_runs(*runs[0].session, runs[0].inputs.tensors, o.warmup, o.iterations));
  } else {
    // Alternate so both models see the same machine state (clock, cache, other load).
    for (int i = 0; i < o.warmup + o.iterations; ++i) {
      for (auto& r : runs) {
        MODELKIT_TRY(auto sample, time_runs(*r.session, r.inputs.tensors, 0, 1));
        if (i >= o.warmup) r.report.samples_ms.push_back(sample.front());
      }
    }
  }
  PerfReport report;
  report.options = o;
  report.onnxruntime_version = onnxruntime_version();
  for (auto& r : runs) {
    r.report.latency = latency_stats(r.report.samples_ms);
    report.models.push_back(std::move(r.report));
  }
  report.peak_rss_bytes = peak_rss_bytes();
  return report;
}

std::string perf_report_table(const PerfReport& report) {
  const auto& o = report.options;
  std::string out;
  auto row = [&out](std::string_view label, const std::string& text) {
    std::string l(label);
    l.resize(13, ' ');
    out += l + text + "\n";
  };
  row("onnxruntime", report.onnxruntime_version + ", intra-op threads " +
                         (o.threads > 0 ? std::to_string(o.threads) : std::string("default")));
  row("runs", std::to_string(o.iterations) + " timed after " + std::to_string(o.warmup) + " warmup" +
                  (report.models.size() > 1 ? ", models alternating" : "") + "; random inputs seed " +
                  std::to_string(o.seed));
  for (const auto& r : report.models) {
    const auto& s = r.latency;
    out += "\n";
    row("model", r.path.string());
    for (std::size_t i = 0; i < r.inputs.size(); ++i) {
      const auto& rec = r.inputs[i];
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
    row("memory", "RSS after load " + human_bytes(r.rss_after_load_bytes));
  }
  out += "\n";
  row("peak memory", human_bytes(report.peak_rss_bytes) + " RSS (process peak)");
  if (report.models.size() == 2) {
    const auto& a = report.models[0].latency;
    const auto& b = report.models[1].latency;
    char buf[160];
    double ratio = b.p50_ms / a.p50_ms;
    std::snprintf(buf, sizeof buf, "compare/model p50 %.3f, mean %.3f (compare is %.2fx %s)", ratio,
                  b.mean_ms / a.mean_ms, ratio < 1 ? 1 / ratio : ratio, ratio < 1 ? "faster" : "slower");
    row("ratio", buf);
  }
  return out;
}

std::string perf_report_json(const PerfReport& report) {
  const auto& o = report.options;
  util::JsonWriter json;
  json.begin_object();
  json.field("schema_version", 1);
  json.field("onnxruntime_version", report.onnxruntime_version);
  json.field("warmup", o.warmup);
  json.field("iterations", o.iterations);
  json.field("threads", o.threads);
  json.field("seed", o.seed);
  json.key("models").begin_array();
  for (const auto& r : report.models) {
    const auto& s = r.latency;
    json.begin_object();
    json.field("path", r.path.string());
    json.field("load_ms", r.load_ms);
    json.key("inputs");
    write_random_input_records_json(json, r.inputs);
    json.key("latency_ms").begin_object();
    json.field("min", s.min_ms);
    json.field("p50", s.p50_ms);
    json.field("p90", s.p90_ms);
    json.field("p99", s.p99_ms);
    json.field("mean", s.mean_ms);
    json.field("std", s.std_ms);
    json.end_object();
    json.field("throughput_per_second", s.mean_ms > 0 ? 1000.0 / s.mean_ms : 0.0);
    json.field("rss_after_load_bytes", r.rss_after_load_bytes);
    json.end_object();
  }
  json.end_array();
  json.field("peak_rss_bytes", report.peak_rss_bytes);
  json.key("comparison");
  if (report.models.size() == 2) {
    const auto& a = report.models[0].latency;
    const auto& b = report.models[1].latency;
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
  return text;
}

}  // namespace modelkit::runtime
