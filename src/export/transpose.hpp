// The transpose every torch Linear weight goes through at export ([out, in] in the checkpoint,
// [in, out] for MatMul): most of a transformer's bytes. It is done in bands of output rows small
// enough to stay in cache until they are written, in 8 x 8 blocks where the CPU has AVX (4 x 4
// with SSE otherwise), and the bands are shared out between threads (graph.cpp).
#pragma once

#include <cstddef>

namespace modelkit::exporter {

// Which kernel transpose_band uses: the best the CPU has, or (for tests of the fallback) the
// baseline one (SSE on x86-64, plain loops elsewhere).
enum class TransposeKernel { best, baseline };

// Rows [c_begin, c_end) of the transpose of the row-major rows x cols `in`:
// out[(c - c_begin) * rows + r] = in[r * cols + c]. `out` holds (c_end - c_begin) * rows floats and
// does not overlap `in`.
void transpose_band(const float* in, std::size_t rows, std::size_t cols, std::size_t c_begin, std::size_t c_end,
                    float* out, TransposeKernel kernel = TransposeKernel::best);

// How many rows of the transpose of a matrix with `rows` rows one band holds: about 128 KiB of
// floats (an L2-sized piece), a multiple of 16 rows (whole cache lines of the input), at least 16.
[[nodiscard]] std::size_t transpose_band_rows(std::size_t rows);

// How many threads the exporter's transpose uses: the machine's cores, at most 4 (it is bound by
// memory bandwidth past that).
[[nodiscard]] unsigned transpose_threads();

}  // namespace modelkit::exporter
