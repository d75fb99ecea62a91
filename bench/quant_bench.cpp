// Quantized vs float latency (ONNX Runtime, one sample per run) for bert-tiny-like (sequence
// 128) and cnn-tiny (224x224), per-tensor and per-channel; plus the cost of quantize() itself.
#include <modelkit/calib_stats.hpp>
#include <modelkit/quantize.hpp>
#include <modelkit/runtime.hpp>

#include "../tests/support/random_source.hpp"

#include <benchmark/benchmark.h>

#include <unistd.h>

#include <filesystem>
#include <map>

namespace {
namespace fs = std::filesystem;
using namespace modelkit;

fs::path models_dir() { return fs::path(MODELKIT_TEST_DATA_DIR) / ".." / ".." / ".deps" / "models"; }

struct Prepared {
  fs::path float_model;
  fs::path quantized;  // per-tensor
  fs::path per_channel;
  calib::Sample sample;
  calib::TensorRanges ranges;
  std::string error;
};

const Prepared& prepared(int which) {
  static std::map<int, Prepared> cache;
  if (auto it = cache.find(which); it != cache.end()) return it->second;
  Prepared p;
  InputHints hints;
  std::string name = which == 0 ? "bert-tiny-like" : "cnn-tiny";
  if (which == 0) hints.sequence_length = 128;
  else hints.image_size = 224;
  p.float_model = models_dir() / name / "model.onnx";
  auto dir = fs::temp_directory_path() / ("modelkit-quant-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  p.quantized = dir / (name + "-qdq.onnx");
  p.per_channel = dir / (name + "-qdq-pc.onnx");
  auto source = testing::RandomSource::open(p.float_model, 32, hints);
  if (!source) {
    p.error = source.error().message;
    return cache[which] = p;
  }
  for (bool per_channel : {false, true}) {
    quant::QuantizeOptions options;
    options.per_channel = per_channel;
    auto plan = quant::plan_quantization(p.float_model, options);
    auto ranges = plan ? calib::collect_ranges(p.float_model, plan->tensors_to_calibrate, *source, {})
                       : Result<calib::TensorRanges>(plan.error());
    if (!ranges) {
      p.error = ranges.error().message;
      return cache[which] = p;
    }
    p.ranges = *ranges;
    auto report = quant::quantize(p.float_model, *ranges, options, per_channel ? p.per_channel : p.quantized);
    if (!report) {
      p.error = report.error().message;
      return cache[which] = p;
    }
  }
  (void)source->rewind();
  auto s = source->next();
  if (s && *s) p.sample = std::move(**s);
  return cache[which] = p;
}

// range(0): model (0 bert, 1 cnn); range(1): 0 float, 1 QDQ per-tensor, 2 QDQ per-channel.
void BM_Latency(benchmark::State& state) {
  const auto& p = prepared(static_cast<int>(state.range(0)));
  if (!p.error.empty()) return state.SkipWithError(p.error.c_str());
  const fs::path& path = state.range(1) == 0 ? p.float_model : state.range(1) == 1 ? p.quantized : p.per_channel;
  runtime::SessionOptions options;
  options.intra_op_threads = static_cast<int>(state.range(2));
  auto session = runtime::Session::open(path, options);
  if (!session) return state.SkipWithError(session.error().message.c_str());
  for (auto _ : state) {
    auto out = session->run(p.sample);
    if (!out) return state.SkipWithError(out.error().message.c_str());
    benchmark::DoNotOptimize(out->data());
  }
  static const char* kinds[] = {"float", "qdq per-tensor", "qdq per-channel"};
  state.SetLabel(p.float_model.parent_path().filename().string() + " " + kinds[state.range(1)] + ", " +
                 std::to_string(state.range(2)) + " thread(s)");
}

void BM_Quantize(benchmark::State& state) {
  const auto& p = prepared(static_cast<int>(state.range(0)));
  if (!p.error.empty()) return state.SkipWithError(p.error.c_str());
  auto out = p.quantized.parent_path() / "again.onnx";
  for (auto _ : state) {
    quant::QuantizeOptions per_channel;
    per_channel.per_channel = true;
    auto r = quant::quantize(p.float_model, p.ranges, per_channel, out);
    if (!r) return state.SkipWithError(r.error().message.c_str());
  }
  state.SetLabel(p.float_model.parent_path().filename().string() + " (includes the ORT load check)");
}

}  // namespace

BENCHMARK(BM_Latency)
    ->ArgsProduct({{0, 1}, {0, 1, 2}, {1, 2}})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Quantize)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
