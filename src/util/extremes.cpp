#include "util/extremes.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace modelkit::util {
namespace {

// The first pass is branch-free over independent lanes (a NaN compares false and drops out),
// which compiles to packed min/max; 32 lanes keep enough accumulators in flight to hide their
// latency. Built twice (AVX2 and baseline x86-64), picked at load time by the CPU.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx2", "default")))
#endif
std::pair<float, float> packed_extremes(const float* v, std::size_t n) {
  constexpr int kLanes = 32;
  float lo[kLanes], hi[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    lo[l] = std::numeric_limits<float>::infinity();
    hi[l] = -std::numeric_limits<float>::infinity();
  }
  const std::size_t blocks = n / kLanes * kLanes;
  for (std::size_t i = 0; i < blocks; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      lo[l] = v[i + l] < lo[l] ? v[i + l] : lo[l];
      hi[l] = v[i + l] > hi[l] ? v[i + l] : hi[l];
    }
  for (std::size_t i = blocks; i < n; ++i) {
    lo[0] = v[i] < lo[0] ? v[i] : lo[0];
    hi[0] = v[i] > hi[0] ? v[i] : hi[0];
  }
  float mn = lo[0], mx = hi[0];
  for (int l = 1; l < kLanes; ++l) {
    mn = std::min(mn, lo[l]);
    mx = std::max(mx, hi[l]);
  }
  return {mn, mx};
}

}  // namespace

std::pair<float, float> finite_extremes(std::span<const float> values) {
  auto [mn, mx] = packed_extremes(values.data(), values.size());
  if (std::isfinite(mn) && std::isfinite(mx)) return {mn, mx};  // no infinity among the values
  // Only data holding infinities (or nothing finite) takes the checked pass.
  mn = std::numeric_limits<float>::infinity();
  mx = -std::numeric_limits<float>::infinity();
  for (float x : values) {
    if (!std::isfinite(x)) continue;
    mn = std::min(mn, x);
    mx = std::max(mx, x);
  }
  return {mn, mx};
}

}  // namespace modelkit::util
