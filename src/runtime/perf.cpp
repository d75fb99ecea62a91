#include <modelkit/runtime.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <numeric>
#include <string>

namespace modelkit::runtime {
namespace {

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  double pos = p / 100.0 * static_cast<double>(sorted.size() - 1);
  auto lo = static_cast<std::size_t>(std::floor(pos));
  auto hi = std::min(lo + 1, sorted.size() - 1);
  double frac = pos - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

std::uint64_t status_kib(std::string_view key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) != 0 || line.size() <= key.size() || line[key.size()] != ':') continue;
    return std::strtoull(line.c_str() + key.size() + 1, nullptr, 10);
  }
  return 0;
}

}  // namespace

LatencyStats latency_stats(std::vector<double> samples) {
  LatencyStats s;
  s.iterations = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.min_ms = samples.front();
  s.p50_ms = percentile(samples, 50);
  s.p90_ms = percentile(samples, 90);
  s.p99_ms = percentile(samples, 99);
  s.mean_ms = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
  if (samples.size() > 1) {
    double ss = 0;
    for (double v : samples) ss += (v - s.mean_ms) * (v - s.mean_ms);
    s.std_ms = std::sqrt(ss / static_cast<double>(samples.size() - 1));
  }
  return s;
}

Result<std::vector<double>> time_runs(Session& session, std::span<const Tensor> inputs, int warmup, int iterations) {
  for (int i = 0; i < warmup; ++i) {
    auto r = session.run(inputs);
    if (!r) return r.take_error();
  }
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(std::max(iterations, 0)));
  for (int i = 0; i < iterations; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto r = session.run(inputs);
    auto end = std::chrono::steady_clock::now();
    if (!r) return r.take_error();
    samples.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  return samples;
}

std::uint64_t current_rss_bytes() { return status_kib("VmRSS") * 1024; }
std::uint64_t peak_rss_bytes() { return status_kib("VmHWM") * 1024; }

}  // namespace modelkit::runtime
