#include "export/transpose.hpp"

#include <algorithm>
#include <thread>

#if defined(__SSE__) || defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#define MODELKIT_TRANSPOSE_SSE 1
#endif

namespace modelkit::exporter {

void transpose_band(const float* in, std::size_t rows, std::size_t cols, std::size_t c_begin, std::size_t c_end,
                    float* out) {
  std::size_t r = 0;
#ifdef MODELKIT_TRANSPOSE_SSE
  // 4 x 4 blocks in registers: four 16-byte loads and four 16-byte stores per 16 floats. The band is
  // narrow (a few cache lines of each input row) and its output fits in cache, so no further tiling.
  for (; r + 4 <= rows; r += 4) {
    std::size_t c = c_begin;
    for (; c + 4 <= c_end; c += 4) {
      const float* src = in + r * cols + c;
      __m128 a = _mm_loadu_ps(src), b = _mm_loadu_ps(src + cols), d = _mm_loadu_ps(src + 2 * cols),
             e = _mm_loadu_ps(src + 3 * cols);
      _MM_TRANSPOSE4_PS(a, b, d, e);
      float* dst = out + (c - c_begin) * rows + r;
      _mm_storeu_ps(dst, a);
      _mm_storeu_ps(dst + rows, b);
      _mm_storeu_ps(dst + 2 * rows, d);
      _mm_storeu_ps(dst + 3 * rows, e);
    }
    for (; c < c_end; ++c)
      for (std::size_t k = r; k < r + 4; ++k) out[(c - c_begin) * rows + k] = in[k * cols + c];
  }
#endif
  for (; r < rows; ++r)
    for (std::size_t c = c_begin; c < c_end; ++c) out[(c - c_begin) * rows + r] = in[r * cols + c];
}

std::size_t transpose_band_rows(std::size_t rows) {
  constexpr std::size_t kBandBytes = std::size_t{128} << 10;
  constexpr std::size_t kLineFloats = 16;
  const std::size_t fit = kBandBytes / (std::max<std::size_t>(rows, 1) * sizeof(float));
  return std::max(kLineFloats, fit / kLineFloats * kLineFloats);
}

unsigned transpose_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return std::clamp(n, 1u, 4u);
}

}  // namespace modelkit::exporter
