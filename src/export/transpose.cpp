#include "export/transpose.hpp"

#include <algorithm>
#include <thread>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define MODELKIT_TRANSPOSE_SSE 1
#if defined(__GNUC__)
// 8 x 8 blocks with AVX where the CPU has it (chosen at run time; the build targets baseline x86-64).
#define MODELKIT_TRANSPOSE_AVX 1
#endif
#endif

namespace modelkit::exporter {
namespace {

// The block r in [r0, r1), c in [c0, c1) of `in` into the band of the transpose starting at row
// c_band: out[(c - c_band) * rows + r] = in[r * cols + c].
void block_sse(const float* in, std::size_t rows, std::size_t cols, std::size_t r0, std::size_t r1, std::size_t c0,
               std::size_t c1, std::size_t c_band, float* out) {
  std::size_t r = r0;
#ifdef MODELKIT_TRANSPOSE_SSE
  // 4 x 4 blocks in registers: four 16-byte loads and four 16-byte stores per 16 floats. The band is
  // narrow (a few cache lines of each input row) and its output fits in cache, so no further tiling.
  for (; r + 4 <= r1; r += 4) {
    std::size_t c = c0;
    for (; c + 4 <= c1; c += 4) {
      const float* src = in + r * cols + c;
      __m128 a = _mm_loadu_ps(src), b = _mm_loadu_ps(src + cols), d = _mm_loadu_ps(src + 2 * cols),
             e = _mm_loadu_ps(src + 3 * cols);
      _MM_TRANSPOSE4_PS(a, b, d, e);
      float* dst = out + (c - c_band) * rows + r;
      _mm_storeu_ps(dst, a);
      _mm_storeu_ps(dst + rows, b);
      _mm_storeu_ps(dst + 2 * rows, d);
      _mm_storeu_ps(dst + 3 * rows, e);
    }
    for (; c < c1; ++c)
      for (std::size_t k = r; k < r + 4; ++k) out[(c - c_band) * rows + k] = in[k * cols + c];
  }
#endif
  for (; r < r1; ++r)
    for (std::size_t c = c0; c < c1; ++c) out[(c - c_band) * rows + r] = in[r * cols + c];
}

#ifdef MODELKIT_TRANSPOSE_AVX
__attribute__((target("avx"))) void block_avx(const float* in, std::size_t rows, std::size_t cols, std::size_t r0,
                                                std::size_t r1, std::size_t c0, std::size_t c1, std::size_t c_band,
                                                float* out) {
  const std::size_t r8 = r0 + (r1 - r0) / 8 * 8, c8 = c0 + (c1 - c0) / 8 * 8;
  for (std::size_t r = r0; r < r8; r += 8)
    for (std::size_t c = c0; c < c8; c += 8) {
      const float* s = in + r * cols + c;
      __m256 x0 = _mm256_loadu_ps(s), x1 = _mm256_loadu_ps(s + cols), x2 = _mm256_loadu_ps(s + 2 * cols),
             x3 = _mm256_loadu_ps(s + 3 * cols), x4 = _mm256_loadu_ps(s + 4 * cols), x5 = _mm256_loadu_ps(s + 5 * cols),
             x6 = _mm256_loadu_ps(s + 6 * cols), x7 = _mm256_loadu_ps(s + 7 * cols);
      // Pairs of rows interleaved, then pairs of pairs, then the 128-bit halves swapped across.
      __m256 t0 = _mm256_unpacklo_ps(x0, x1), t1 = _mm256_unpackhi_ps(x0, x1), t2 = _mm256_unpacklo_ps(x2, x3),
             t3 = _mm256_unpackhi_ps(x2, x3), t4 = _mm256_unpacklo_ps(x4, x5), t5 = _mm256_unpackhi_ps(x4, x5),
             t6 = _mm256_unpacklo_ps(x6, x7), t7 = _mm256_unpackhi_ps(x6, x7);
      __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
             u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
             u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
             u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      float* d = out + (c - c_band) * rows + r;
      _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
      _mm256_storeu_ps(d + rows, _mm256_permute2f128_ps(u1, u5, 0x20));
      _mm256_storeu_ps(d + 2 * rows, _mm256_permute2f128_ps(u2, u6, 0x20));
      _mm256_storeu_ps(d + 3 * rows, _mm256_permute2f128_ps(u3, u7, 0x20));
      _mm256_storeu_ps(d + 4 * rows, _mm256_permute2f128_ps(u0, u4, 0x31));
      _mm256_storeu_ps(d + 5 * rows, _mm256_permute2f128_ps(u1, u5, 0x31));
      _mm256_storeu_ps(d + 6 * rows, _mm256_permute2f128_ps(u2, u6, 0x31));
      _mm256_storeu_ps(d + 7 * rows, _mm256_permute2f128_ps(u3, u7, 0x31));
    }
  block_sse(in, rows, cols, r0, r8, c8, c1, c_band, out);  // the columns right of the 8 x 8 blocks
  block_sse(in, rows, cols, r8, r1, c0, c1, c_band, out);  // the rows below them
}

bool has_avx() {
  static const bool avx = __builtin_cpu_supports("avx");
  return avx;
}
#endif

}  // namespace

void transpose_band(const float* in, std::size_t rows, std::size_t cols, std::size_t c_begin, std::size_t c_end,
                    float* out, TransposeKernel kernel) {
#ifdef MODELKIT_TRANSPOSE_AVX
  if (kernel == TransposeKernel::best && has_avx()) return block_avx(in, rows, cols, 0, rows, c_begin, c_end, c_begin, out);
#endif
  (void)kernel;
  block_sse(in, rows, cols, 0, rows, c_begin, c_end, c_begin, out);
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
