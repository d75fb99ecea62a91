// `modelkit perf` as a library call: latency, throughput, load time and peak memory of an ONNX
// model in ONNX Runtime on seeded random inputs built from the model's own input specs; with a
// second model, both run alternately (same machine state) and the latency ratio is reported.
#pragma once

#include <modelkit/random_inputs.hpp>
#include <modelkit/result.hpp>
#include <modelkit/runtime.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace modelkit::runtime {

struct PerfOptions {
  std::filesystem::path model;                  // .onnx file or a folder (its float model)
  std::optional<std::filesystem::path> compare;  // run alternately with `model`
  int warmup = 10;
  int iterations = 100;
  int threads = 0;  // intra-op; 0 = ONNX Runtime's default
  std::int64_t sequence_length = 128;
  std::uint64_t seed = 0;
  std::vector<InputShape> input_shapes;
};

struct PerfModel {
  std::filesystem::path path;
  std::vector<RandomInputRecord> inputs;
  double load_ms = 0;  // session creation (parse, optimize, allocate)
  std::uint64_t rss_after_load_bytes = 0;
  std::vector<double> samples_ms;
  LatencyStats latency;
};

struct PerfReport {
  PerfOptions options;
  std::string onnxruntime_version;
  std::vector<PerfModel> models;  // the model, then the compare model if any
  std::uint64_t peak_rss_bytes = 0;
};

// Input hints (vocab_size, image_size, ...) are read from config.json/preprocessor_config.json
// beside the model (or beside its onnx/ folder) where present.
[[nodiscard]] Result<PerfReport> measure_perf(const PerfOptions& options);

// JSON (field names are stable, pinned by tests/integration/perf_test.cpp):
// {"schema_version": 1, "onnxruntime_version", "warmup", "iterations", "threads", "seed",
//  "models": [{"path", "load_ms", "inputs": [{"name", "element_type", "shape", "fill", "dims"}],
//              "latency_ms": {"min", "p50", "p90", "p99", "mean", "std"}, "throughput_per_second",
//              "rss_after_load_bytes"}],
//  "peak_rss_bytes", "comparison": null | {"p50_ratio", "mean_ratio"}   (compare model / model)}
[[nodiscard]] std::string perf_report_json(const PerfReport& report);
[[nodiscard]] std::string perf_report_table(const PerfReport& report);

}  // namespace modelkit::runtime
