// Calibration at the cost of inference (issue 18): per-sample time of collect_ranges against a
// plain ONNX Runtime inference of the same model on the same samples, one intra-op thread, in
// one run. Plain: p50 of per-run wall times over the samples (as `modelkit perf` reports it).
// Calibration: p50 of the time between consecutive samples (the progress callback), i.e. the
// steady per-sample cost without session creation. Rounds alternate plain / calibration and the
// minimum of each over the rounds is kept (8 agents share 2 cores here: noisy). The calling
// thread's CPU time per sample is reported beside, as the load-independent figure.
// Calibration runs up to CALIB_BENCH_BATCH samples per run (default 0: the library decides;
// 1 = one at a time); its per-sample figures divide each run's time by its samples.
// The calibrated tensors are those the build plans with its default op types (MatMul/Gemm only on
// transformer-style graphs); CALIB_BENCH_ALL_OPS=1 plans every supported op type instead.
// usage: [CALIB_BENCH_BATCH=N] [CALIB_BENCH_ALL_OPS=1] calib_cost_bench [ROUNDS=3] [SAMPLES=40] [METHOD=minmax] [MODEL_NAME...]
#include <modelkit/calib_stats.hpp>
#include <modelkit/onnx.hpp>
#include <modelkit/quantize.hpp>
#include <modelkit/runtime.hpp>

#include "../tests/support/random_source.hpp"
#include "build/stages.hpp"
#include "calib_bench_support.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {
namespace fs = std::filesystem;
using namespace modelkit;

using bench::models_dir;
using bench::VectorSource;

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// This thread's CPU time (ms): with one intra-op thread ORT runs every node on the calling thread,
// so per-sample CPU time stays meaningful when other processes crowd the cores and wall time does not.
double thread_cpu_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 3;
  const int count = argc > 2 ? std::atoi(argv[2]) : 40;
  const char* batch_env = std::getenv("CALIB_BENCH_BATCH");
  const std::size_t batch = batch_env ? static_cast<std::size_t>(std::atoi(batch_env)) : 0;
  auto method = calib::parse_method(argc > 3 ? argv[3] : "minmax");
  if (!method) {
    std::fprintf(stderr, "%s\n", method.error().message.c_str());
    return 2;
  }
  std::vector<std::string> names;
  for (int i = 4; i < argc; ++i) names.emplace_back(argv[i]);
  if (names.empty()) names = {"minilm-like", "resnet-like", "bert-tiny-like", "cnn-tiny"};
  std::printf("load before: %s; %d rounds x %d samples, one thread, %s, calibration batch up to %zu\n",
              loadavg().c_str(), rounds, count, std::string(calib::method_name(*method)).c_str(), batch);
  for (const auto& name : names) {
    const fs::path path = models_dir() / name / "model.onnx";
    InputHints hints;
    hints.sequence_length = 128;
    hints.image_size = 224;
    auto source = testing::RandomSource::open(path, static_cast<std::uint64_t>(count), hints);
    if (!source) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), source.error().message.c_str());
      return 1;
    }
    std::vector<calib::Sample> samples;
    for (;;) {
      auto s = source->next();
      if (!s || !*s) break;
      samples.push_back(std::move(**s));
    }
    // The tensors the build calibrates: its default op types for this graph.
    auto info = onnx::read_model_info(path);
    if (!info) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), info.error().message.c_str());
      return 1;
    }
    quant::QuantizeOptions qopts;
    if (!std::getenv("CALIB_BENCH_ALL_OPS")) (void)build::default_op_types(*info, qopts);
    auto plan = quant::plan_quantization(path, qopts);
    if (!plan) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), plan.error().message.c_str());
      return 1;
    }
    runtime::SessionOptions so;
    so.intra_op_threads = 1;
    auto session = runtime::Session::open(path, so);
    if (!session) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), session.error().message.c_str());
      return 1;
    }
    // Diagnostics: the same model with the calibrated tensors fetched as outputs (copied, no
    // statistics), and the plain model without ORT's graph fusions.
    auto exposed = runtime::open_with_extra_outputs(path, plan->tensors_to_calibrate, so);
    runtime::SessionOptions unfused_options = so;
    unfused_options.optimization = runtime::GraphOptimization::basic;
    auto unfused = runtime::Session::open(path, unfused_options);
    if (!exposed || !unfused) {
      std::fprintf(stderr, "%s: diagnostic sessions failed\n", name.c_str());
      return 1;
    }
    auto time_p50 = [&](runtime::Session& s, std::span<const std::string> outputs) {
      for (int w = 0; w < 2; ++w) (void)s.run(samples[0], outputs);
      std::vector<double> times;
      for (const auto& sample : samples) {
        auto t0 = std::chrono::steady_clock::now();
        (void)s.run(sample, outputs);
        times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      return median(times);
    };
    std::vector<std::string> exposed_outputs;
    for (const auto& o : exposed->outputs()) exposed_outputs.push_back(o.name);
    double best_exposed = 1e30, best_unfused = 1e30;
    double best_plain = 1e30, best_calib = 1e30, best_calib_mean = 1e30;
    double best_plain_cpu = 1e30, best_calib_cpu = 1e30;
    for (int r = 0; r < rounds; ++r) {
      for (int w = 0; w < 2; ++w) (void)session->run(samples[0]);
      std::vector<double> plain, plain_cpu;
      for (const auto& s : samples) {
        auto t0 = std::chrono::steady_clock::now();
        const double c0 = thread_cpu_ms();
        auto out = session->run(s);
        plain_cpu.push_back(thread_cpu_ms() - c0);
        plain.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        if (!out) {
          std::fprintf(stderr, "%s: %s\n", name.c_str(), out.error().message.c_str());
          return 1;
        }
      }
      best_plain = std::min(best_plain, median(plain));
      best_plain_cpu = std::min(best_plain_cpu, median(plain_cpu));
      best_exposed = std::min(best_exposed, time_p50(*exposed, exposed_outputs));
      best_unfused = std::min(best_unfused, time_p50(*unfused, {}));

      VectorSource vs(samples);
      calib::CollectOptions options;
      options.method = *method;
      options.max_samples = 0;
      options.intra_op_threads = 1;
      options.max_batch = batch;
      std::vector<double> at, cpu_at, done_at;
      options.progress = [&](const calib::CollectProgress& p) {
        at.push_back(p.elapsed_seconds * 1000);
        cpu_at.push_back(thread_cpu_ms());
        done_at.push_back(static_cast<double>(p.samples_done));
      };
      auto ranges = calib::collect_ranges(path, plan->tensors_to_calibrate, vs, options);
      if (!ranges) {
        std::fprintf(stderr, "%s: %s\n", name.c_str(), ranges.error().message.c_str());
        return 1;
      }
      std::vector<double> per_sample;
      for (std::size_t i = 1; i < at.size(); ++i) per_sample.push_back((at[i] - at[i - 1]) / (done_at[i] - done_at[i - 1]));
      best_calib = std::min(best_calib, median(per_sample));
      std::vector<double> per_sample_cpu;
      for (std::size_t i = 1; i < cpu_at.size(); ++i)
        per_sample_cpu.push_back((cpu_at[i] - cpu_at[i - 1]) / (done_at[i] - done_at[i - 1]));
      best_calib_cpu = std::min(best_calib_cpu, median(per_sample_cpu));
      if (at.size() > 1)
        best_calib_mean = std::min(best_calib_mean, (at.back() - at.front()) / (done_at.back() - done_at.front()));
    }
    std::printf("%-15s %4zu tensors  plain p50 %8.2f ms  calibration p50 %8.2f ms/sample (mean %8.2f)  "
                "plain/calibration %.2fx  [fetched-outputs p50 %.2f ms, unfused p50 %.2f ms]  "
                "thread CPU: plain %.2f ms, calibration %.2f ms/sample, %.2fx\n",
                name.c_str(), plan->tensors_to_calibrate.size(), best_plain, best_calib, best_calib_mean,
                best_plain / best_calib, best_exposed, best_unfused, best_plain_cpu, best_calib_cpu,
                best_plain_cpu / best_calib_cpu);
  }
  std::printf("load after: %s\n", loadavg().c_str());
  return 0;
}
