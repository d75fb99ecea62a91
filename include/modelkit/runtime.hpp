// A small layer over ONNX Runtime's C++ API: sessions from a model file or bytes, thread
// settings, running with named Tensors, and exposing intermediate tensors as extra graph outputs
// (what calibration needs). ORT's exceptions never escape: every failure is a Result error
// starting "onnxruntime: ". ORT's own log output is suppressed (library code never prints).
#pragma once

#include <modelkit/result.hpp>
#include <modelkit/tensor.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace modelkit::runtime {

// The loaded library's version, e.g. "1.30.0" (OrtGetApiBase()->GetVersionString()).
[[nodiscard]] std::string onnxruntime_version();
// The API version the headers were compiled against ("1.29": headers <= library).
[[nodiscard]] std::string onnxruntime_header_version();

enum class GraphOptimization { disabled, basic, extended, all };

// The op minmax calibration inserts after each calibrated tensor (sessions opened with
// SessionOptions::calibration_ops run it): input any floating tensor, output float32 [2], the
// {min, max} of its finite values, {+inf, -inf} when there is none.
inline constexpr const char* kCalibrationDomain = "ai.modelkit";
inline constexpr const char* kCalibrationExtremesOp = "FiniteMinMax";

struct SessionOptions {
  int intra_op_threads = 0;  // 0: ORT's default (one per physical core)
  int inter_op_threads = 0;  // only used with parallel_execution
  bool parallel_execution = false;
  GraphOptimization optimization = GraphOptimization::all;
  // For sessions made from bytes whose model refers to external data: the folder it lives in.
  std::filesystem::path external_data_dir;
  // Where ONNX Runtime writes the model as optimized at `optimization` (offline optimization);
  // empty: nowhere.
  std::filesystem::path optimized_model_path;
  // ONNX Runtime graph transformers to skip, by their names (e.g. "ConvActivationFusion").
  std::vector<std::string> disabled_optimizers;
  // Registers the calibration op (kCalibrationDomain) for models that use it.
  bool calibration_ops = false;
};

// An input or output as the session sees it. Dynamic dims are -1 with their symbolic name (or
// "" when anonymous) in `symbols`.
struct TensorSpec {
  std::string name;
  ElementType type = ElementType::undefined;
  std::vector<std::int64_t> shape;
  std::vector<std::string> symbols;
  bool is_tensor = true;  // false for sequence/map/optional values
};

class Session {
 public:
  // Errors name the model file and carry ORT's message.
  [[nodiscard]] static Result<Session> open(const std::filesystem::path& model, const SessionOptions& options = {});
  // `what` names the model in errors.
  [[nodiscard]] static Result<Session> from_bytes(std::string_view model_bytes, const SessionOptions& options = {},
                                                  std::string_view what = "model");

  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  [[nodiscard]] const std::vector<TensorSpec>& inputs() const;
  [[nodiscard]] const std::vector<TensorSpec>& outputs() const;

  // Runs with the given inputs (every model input, by name; the tensors' bytes are used in
  // place, not copied) and returns the requested outputs (all when `output_names` is empty) in
  // the order asked. Errors: unknown/missing input names, dtype mismatches, ORT failures.
  [[nodiscard]] Result<std::vector<Tensor>> run(std::span<const Tensor> inputs,
                                                std::span<const std::string> output_names = {});

 private:
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Opens `model` with `tensor_names` (intermediate values: node outputs, inputs or initializers)
// added as graph outputs after its own outputs, on a copy of the model (the file is not
// changed). External data is resolved in the model's folder. Unknown names are an error that
// lists close matches.
[[nodiscard]] Result<Session> open_with_extra_outputs(const std::filesystem::path& model,
                                                      std::span<const std::string> tensor_names,
                                                      const SessionOptions& options = {});

// --- latency measurement (modelkit perf, bench/) -----------------------------------------------

struct LatencyStats {
  std::size_t iterations = 0;
  double min_ms = 0, p50_ms = 0, p90_ms = 0, p99_ms = 0, mean_ms = 0, std_ms = 0;  // std: sample (n-1)
};

// Percentiles by linear interpolation between order statistics (numpy's default).
[[nodiscard]] LatencyStats latency_stats(std::vector<double> samples_ms);

// Runs `warmup` untimed then `iterations` timed inferences (all outputs fetched, as an
// application would) and returns each timed run's wall time in milliseconds.
[[nodiscard]] Result<std::vector<double>> time_runs(Session& session, std::span<const Tensor> inputs, int warmup,
                                                    int iterations);

// The process's resident memory now and at its peak (Linux /proc/self/status VmRSS / VmHWM); 0
// where unavailable.
[[nodiscard]] std::uint64_t current_rss_bytes();
[[nodiscard]] std::uint64_t peak_rss_bytes();

}  // namespace modelkit::runtime
