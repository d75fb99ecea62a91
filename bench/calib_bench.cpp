// Calibration benchmarks:
//   - throughput of collect_ranges (minmax, percentile) against plain ONNX Runtime inference
//     over the same in-memory samples (target: minmax >= 0.8x of plain inference);
//   - peak RSS of a 1,000-sample calibration against a 10-sample one, each in a forked child
//     (target <= 1.2x): statistics are fixed-size, so memory must not grow with samples.
#include <modelkit/calib_stats.hpp>
#include <modelkit/quantize.hpp>
#include <modelkit/runtime.hpp>

#include "../tests/support/random_source.hpp"
#include "calib_bench_support.hpp"

#include <benchmark/benchmark.h>

#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <filesystem>

extern char** environ;

namespace {
namespace fs = std::filesystem;
using namespace modelkit;

using bench::models_dir;
using bench::VectorSource;

struct Case {
  fs::path path;
  InputHints hints;
};

Case model_case(int which) {
  Case c;
  if (which == 0) {
    c.path = models_dir() / "bert-tiny-like" / "model.onnx";
    c.hints.sequence_length = 128;
  } else {
    c.path = models_dir() / "cnn-tiny" / "model.onnx";
    c.hints.image_size = 224;
  }
  return c;
}

std::vector<calib::Sample> make_samples(const Case& c, int count) {
  auto source = testing::RandomSource::open(c.path, static_cast<std::uint64_t>(count), c.hints);
  std::vector<calib::Sample> out;
  if (!source) return out;
  while (true) {
    auto s = source->next();
    if (!s || !*s) break;
    out.push_back(std::move(**s));
  }
  return out;
}

constexpr int kSamples = 64;

void BM_PlainInference(benchmark::State& state) {
  auto c = model_case(static_cast<int>(state.range(0)));
  auto samples = make_samples(c, kSamples);
  auto session = runtime::Session::open(c.path);
  if (!session) return state.SkipWithError(session.error().message.c_str());
  for (auto _ : state)
    for (const auto& s : samples) {
      auto out = session->run(s);
      if (!out) return state.SkipWithError(out.error().message.c_str());
      benchmark::DoNotOptimize(out->data());
    }
  state.SetItemsProcessed(state.iterations() * kSamples);
  state.SetLabel(c.path.parent_path().filename().string());
}

// The same run with the calibration tensors exposed as outputs, no statistics: separates ORT's
// cost of materializing intermediate tensors from the statistics' cost.
void BM_ExposedInference(benchmark::State& state) {
  auto c = model_case(static_cast<int>(state.range(0)));
  auto samples = make_samples(c, kSamples);
  auto plan = quant::plan_quantization(c.path, {});
  if (!plan) return state.SkipWithError(plan.error().message.c_str());
  auto session = runtime::open_with_extra_outputs(c.path, plan->tensors_to_calibrate);
  if (!session) return state.SkipWithError(session.error().message.c_str());
  std::vector<std::string> outputs;
  for (const auto& n : plan->tensors_to_calibrate) {
    bool is_input = false;
    for (const auto& i : session->inputs()) is_input = is_input || i.name == n;
    if (!is_input) outputs.push_back(n);
  }
  for (auto _ : state)
    for (const auto& s : samples) {
      auto out = session->run(s, outputs);
      if (!out) return state.SkipWithError(out.error().message.c_str());
      benchmark::DoNotOptimize(out->data());
    }
  state.SetItemsProcessed(state.iterations() * kSamples);
  state.SetLabel(c.path.parent_path().filename().string() + ", " + std::to_string(outputs.size()) + " outputs");
}

void BM_CollectRanges(benchmark::State& state) {
  auto c = model_case(static_cast<int>(state.range(0)));
  auto method = static_cast<calib::CalibrationMethod>(state.range(1));
  const int samples = state.range(2) ? static_cast<int>(state.range(2)) : kSamples;
  VectorSource source(make_samples(c, samples));
  auto plan = quant::plan_quantization(c.path, {});
  if (!plan) return state.SkipWithError(plan.error().message.c_str());
  calib::CollectOptions options;
  options.method = method;
  options.max_samples = 0;
  for (auto _ : state) {
    auto r = calib::collect_ranges(c.path, plan->tensors_to_calibrate, source, options);
    if (!r) return state.SkipWithError(r.error().message.c_str());
    benchmark::DoNotOptimize(r->tensors.size());
  }
  state.SetItemsProcessed(state.iterations() * samples);
  state.SetLabel(c.path.parent_path().filename().string() + " " + std::string(calib::method_name(method)) + ", " +
                 std::to_string(samples) + " samples, " +
                 std::to_string(plan->tensors_to_calibrate.size()) + " tensors");
}

// Runs one calibration and exits: the child side of BM_CalibrationPeakRss, started as a fresh
// process (exec, not just fork) so its peak RSS is its own, not the benchmark parent's.
int rss_child(int which, int samples, int method) {
  auto c = model_case(which);
  auto source = testing::RandomSource::open(c.path, static_cast<std::uint64_t>(samples), c.hints);
  auto plan = quant::plan_quantization(c.path, {});
  if (!source || !plan) return 2;
  calib::CollectOptions options;
  options.method = static_cast<calib::CalibrationMethod>(method);
  options.max_samples = 0;
  auto r = calib::collect_ranges(c.path, plan->tensors_to_calibrate, *source, options);
  return r.ok() ? 0 : 1;
}

// Peak RSS (KiB) of a fresh process that calibrates over `samples` generated on the fly.
long child_peak_rss_kib(int which, int samples, int method) {
  std::string a = std::to_string(which), b = std::to_string(samples), m = std::to_string(method);
  char flag[] = "--rss-child";
  char* argv[] = {const_cast<char*>("calib_bench"), flag, a.data(), b.data(), m.data(), nullptr};
  pid_t pid = 0;
  if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, environ) != 0) return -1;
  int status = 0;
  rusage usage{};
  if (wait4(pid, &status, 0, &usage) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return usage.ru_maxrss;
}

void BM_CalibrationPeakRss(benchmark::State& state) {
  auto c = model_case(static_cast<int>(state.range(0)));
  auto method = static_cast<calib::CalibrationMethod>(state.range(1));
  long few = 0, many = 0;
  for (auto _ : state) {
    few = child_peak_rss_kib(static_cast<int>(state.range(0)), 10, static_cast<int>(state.range(1)));
    many = child_peak_rss_kib(static_cast<int>(state.range(0)), 1000, static_cast<int>(state.range(1)));
  }
  if (few <= 0 || many <= 0) return state.SkipWithError("calibration child failed");
  state.counters["rss_10_MiB"] = static_cast<double>(few) / 1024;
  state.counters["rss_1000_MiB"] = static_cast<double>(many) / 1024;
  state.counters["ratio"] = static_cast<double>(many) / static_cast<double>(few);
  state.SetLabel(c.path.parent_path().filename().string() + " " + std::string(calib::method_name(method)));
}

}  // namespace

// range(0): 0 = bert-tiny-like (seq 128), 1 = cnn-tiny (224x224); range(1): method.
BENCHMARK(BM_PlainInference)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ExposedInference)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);
// range(2): sample count (0 = 64); the 1-sample runs give the fixed setup cost (augmented
// session creation), so the steady per-sample rate is (64 - 1) / (t64 - t1).
BENCHMARK(BM_CollectRanges)->Args({0, 0, 0})->Args({1, 0, 0})->Args({0, 0, 1})->Args({1, 0, 1})
    ->Args({0, 1, 0})->Args({1, 1, 0})->Args({0, 2, 0})->Args({1, 2, 0})
    ->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CalibrationPeakRss)->Args({0, 0})->Args({0, 1})->Args({1, 2})->Iterations(1)->Unit(benchmark::kSecond);

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--rss-child") return rss_child(std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]));
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
