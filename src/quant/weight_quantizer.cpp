#include "quant/weight_quantizer.hpp"

#include "onnx/model_proto.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <thread>

namespace modelkit::quant {
namespace fs = std::filesystem;
namespace {

// A read-only view of one tensor's float32 values, mapped from its external data file when it
// has one (unmapped on destruction).
class FloatView {
 public:
  FloatView() = default;
  FloatView(const FloatView&) = delete;
  FloatView& operator=(const FloatView&) = delete;
  ~FloatView() {
    if (map_) ::munmap(map_, map_bytes_);
  }

  static Result<std::unique_ptr<FloatView>> open(const ::onnx::TensorProto& t, const fs::path& model_dir) {
    auto view = std::make_unique<FloatView>();
    const std::string what = "tensor " + quoted(t.name());
    if (t.data_type() != static_cast<int>(ElementType::float32))
      return failure(what + " is " + element_type_name(static_cast<ElementType>(t.data_type())) +
                     ", only float32 is quantized");
    MODELKIT_TRY(auto want, onnx::tensor_dense_bytes(t));
    view->count_ = want / sizeof(float);
    MODELKIT_TRY(auto ref, onnx::external_ref(t));
    if (ref) {
      if (model_dir.empty()) return failure(what + " is stored externally and no model folder was given");
      MODELKIT_TRY(auto file, onnx::resolve_external_location(model_dir, ref->location));
      const std::uint64_t length = ref->length.value_or(want);
      if (length != want)
        return failure(what + ": external data length " + std::to_string(length) +
                       " does not match its shape and type (" + std::to_string(want) + " bytes)");
      int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return failure("cannot read " + quoted(ref->location) + ": " + std::strerror(errno));
      struct stat st {};
      if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return failure("cannot read " + quoted(ref->location) + ": not a regular file");
      }
      const auto size = static_cast<std::uint64_t>(st.st_size);
      if (ref->offset > size || length > size - ref->offset) {
        ::close(fd);
        return failure(what + ": external data range " + std::to_string(ref->offset) + "+" + std::to_string(length) +
                       " lies past the end of " + quoted(ref->location) + " (" + std::to_string(size) + " bytes)");
      }
      if (length == 0) {
        ::close(fd);
        return view;
      }
      const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
      const std::uint64_t start = ref->offset / page * page;
      view->map_bytes_ = static_cast<std::size_t>(ref->offset + length - start);
      void* m = ::mmap(nullptr, view->map_bytes_, PROT_READ, MAP_PRIVATE, fd, static_cast<off_t>(start));
      ::close(fd);
      if (m == MAP_FAILED) {
        view->map_bytes_ = 0;
        return failure("cannot map " + quoted(ref->location) + ": " + std::strerror(errno));
      }
      view->map_ = m;
      ::madvise(m, view->map_bytes_, MADV_SEQUENTIAL);
      view->bytes_ = static_cast<const unsigned char*>(m) + (ref->offset - start);
      return view;
    }
    if (t.has_raw_data()) {
      if (t.raw_data().size() != want)
        return failure(what + ": raw_data holds " + std::to_string(t.raw_data().size()) +
                       " bytes, its shape and type need " + std::to_string(want));
      view->bytes_ = reinterpret_cast<const unsigned char*>(t.raw_data().data());
      return view;
    }
    if (static_cast<std::uint64_t>(t.float_data_size()) * sizeof(float) != want)
      return failure(what + ": holds " + std::to_string(t.float_data_size() * sizeof(float)) +
                     " bytes of typed data, its shape and type need " + std::to_string(want));
    view->bytes_ = reinterpret_cast<const unsigned char*>(t.float_data().data());
    return view;
  }

  [[nodiscard]] std::uint64_t count() const { return count_; }
  // Unaligned: raw_data and mapped offsets need not be 4-byte aligned (read with memcpy).
  [[nodiscard]] const unsigned char* bytes() const { return bytes_; }

 private:
  const unsigned char* bytes_ = nullptr;
  std::uint64_t count_ = 0;
  void* map_ = nullptr;
  std::size_t map_bytes_ = 0;
};

// Runs fn(chunk) for chunk in [0, chunks) over up to `threads` threads (the caller is one of them).
void parallel_chunks(std::size_t chunks, int threads, const std::function<void(std::size_t)>& fn) {
  const std::size_t workers = std::min<std::size_t>(chunks, static_cast<std::size_t>(std::max(threads, 1)));
  if (workers <= 1) {
    for (std::size_t c = 0; c < chunks; ++c) fn(c);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  auto work = [&](std::size_t w) {
    for (std::size_t c = w; c < chunks; c += workers) fn(c);
  };
  for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& t : pool) t.join();
}

// quantize_value (params.cpp) element for element, written branch-free so the compiler
// vectorizes it: round-half-even(x / scale) + zero_point in double, NaN -> zero_point, saturated.
// Rounding: adding and removing 2^52 with v's sign rounds |v| < 2^52 to the nearest integer, ties
// to even, as std::nearbyint in the default mode; larger |v| (and infinities) may move by a
// little but stay far past the limits, so they saturate the same; NaN stays NaN.
template <class Q>
void quantize_rows(const unsigned char* src, unsigned char* dst, std::size_t first_row, std::size_t last_row,
                   std::size_t channels, std::size_t inner, const std::vector<QuantParams>& params, QuantLimits lim) {
  constexpr double kMagic = 4503599627370496.0;  // 2^52
  const double qmin = static_cast<double>(lim.qmin), qmax = static_cast<double>(lim.qmax);
  Q* out = reinterpret_cast<Q*>(dst);
  for (std::size_t row = first_row; row < last_row; ++row) {
    const QuantParams& p = params[row % channels];
    const double scale = static_cast<double>(p.scale), zp = static_cast<double>(p.zero_point);
    const std::size_t base = row * inner;
    const unsigned char* in = src + base * sizeof(float);
    Q* o = out + base;
    for (std::size_t i = 0; i < inner; ++i) {
      float x;
      std::memcpy(&x, in + i * sizeof(float), sizeof x);
      const double v = static_cast<double>(x) / scale;
      const double magic = std::copysign(kMagic, v);
      double q = ((v + magic) - magic) + zp;
      q = q != q ? zp : q;
      q = q < qmin ? qmin : q;
      q = q > qmax ? qmax : q;
      o[i] = static_cast<Q>(static_cast<std::int32_t>(q));
    }
  }
}

// quantize_rows for the channels-last case (a per-channel axis that is the last one, as a MatMul
// weight [K, N] on axis 1): rows of one element would cost a division and a modulo each, so the
// elements [first, last) are walked in runs of consecutive channels with the scales and zero points
// read from arrays. The same formula per element, so the same bytes.
template <class Q>
void quantize_channels_last(const unsigned char* src, unsigned char* dst, std::size_t first, std::size_t last,
                            std::size_t channels, const double* scales, const double* zero_points, QuantLimits lim) {
  constexpr double kMagic = 4503599627370496.0;  // 2^52
  const double qmin = static_cast<double>(lim.qmin), qmax = static_cast<double>(lim.qmax);
  Q* out = reinterpret_cast<Q*>(dst);
  std::size_t e = first;
  while (e < last) {
    const std::size_t ch = e % channels;
    const std::size_t n = std::min(channels - ch, last - e);
    const unsigned char* in = src + e * sizeof(float);
    Q* o = out + e;
    const double* sc = scales + ch;
    const double* zs = zero_points + ch;
    for (std::size_t i = 0; i < n; ++i) {
      float x;
      std::memcpy(&x, in + i * sizeof(float), sizeof x);
      const double zp = zs[i];
      const double v = static_cast<double>(x) / sc[i];
      const double magic = std::copysign(kMagic, v);
      double q = ((v + magic) - magic) + zp;
      q = q != q ? zp : q;
      q = q < qmin ? qmin : q;
      q = q > qmax ? qmax : q;
      o[i] = static_cast<Q>(static_cast<std::int32_t>(q));
    }
    e += n;
  }
}

// max(m, |v|) over the finite values of `n` floats at `p` (unaligned), in independent lanes so the
// compiler vectorizes it; a maximum is exact, so the lanes change nothing. NaN and infinities fail
// `a <= FLT_MAX` and count as 0, which leaves the maximum (never below 0) alone.
float finite_absmax(const unsigned char* p, std::size_t n, float m) {
  constexpr int kLanes = 16;
  constexpr float kMaxFinite = std::numeric_limits<float>::max();
  float lane[kLanes];
  for (float& l : lane) l = m;
  const std::size_t blocks = n / kLanes * kLanes;
  for (std::size_t i = 0; i < blocks; i += kLanes) {
    float v[kLanes];
    std::memcpy(v, p + i * sizeof(float), sizeof v);
    for (int l = 0; l < kLanes; ++l) {
      float a = std::fabs(v[l]);
      a = a <= kMaxFinite ? a : 0.0f;
      lane[l] = lane[l] < a ? a : lane[l];
    }
  }
  for (std::size_t i = blocks; i < n; ++i) {
    float v;
    std::memcpy(&v, p + i * sizeof(float), sizeof v);
    float a = std::fabs(v);
    a = a <= kMaxFinite ? a : 0.0f;
    lane[0] = lane[0] < a ? a : lane[0];
  }
  for (int l = 1; l < kLanes; ++l) lane[0] = lane[0] < lane[l] ? lane[l] : lane[0];
  return lane[0];
}

constexpr std::size_t kChunkElements = std::size_t{1} << 20;  // ~4 MB of floats per chunk

Result<QuantizedTensor> quantize_one(const WeightJob& job, QuantType type, const fs::path& model_dir, int threads) {
  const auto& t = *job.proto;
  MODELKIT_TRY(auto view, FloatView::open(t, model_dir));
  std::vector<std::int64_t> shape(t.dims().begin(), t.dims().end());
  if (job.axis >= 0 && static_cast<std::size_t>(job.axis) >= shape.size())
    return failure("tensor '" + t.name() + "' of shape [" + format_shape(shape) + "] has no axis " +
                   std::to_string(job.axis));
  // [outer, channels, inner] around the axis; rows are (outer, channel) pairs of `inner` values.
  std::size_t outer = 1, channels = 1, inner = 1;
  if (job.axis < 0) {
    inner = static_cast<std::size_t>(view->count());
  } else {
    const auto axis = static_cast<std::size_t>(job.axis);
    channels = static_cast<std::size_t>(shape[axis]);
    for (std::size_t d = axis + 1; d < shape.size(); ++d) inner *= static_cast<std::size_t>(shape[d]);
    for (std::size_t d = 0; d < axis; ++d) outer *= static_cast<std::size_t>(shape[d]);
  }
  const std::size_t rows = outer * channels;
  // Chunks of whole rows, or (one huge row, per-tensor) of element ranges within the row.
  const bool split_row = rows == 1;
  const std::size_t total = static_cast<std::size_t>(view->count());
  const std::size_t rows_per_chunk = inner == 0 ? rows : std::max<std::size_t>(1, kChunkElements / inner);
  const std::size_t chunks = total == 0 ? 0
                             : split_row ? (total + kChunkElements - 1) / kChunkElements
                                         : (rows + rows_per_chunk - 1) / rows_per_chunk;
  const int use_threads = total < 2 * kChunkElements ? 1 : threads;

  // Per-channel absolute maxima of the finite values (a maximum: the same in any order).
  std::vector<std::vector<float>> partial(chunks, std::vector<float>(channels, 0.0f));
  parallel_chunks(chunks, use_threads, [&](std::size_t c) {
    auto& absmax = partial[c];
    if (split_row) {
      const std::size_t first = c * kChunkElements, end = std::min(total, first + kChunkElements);
      absmax[0] = finite_absmax(view->bytes() + first * sizeof(float), end - first, 0.0f);
      return;
    }
    const std::size_t end = std::min(rows, (c + 1) * rows_per_chunk);
    for (std::size_t row = c * rows_per_chunk; row < end; ++row) {
      absmax[row % channels] =
          finite_absmax(view->bytes() + row * inner * sizeof(float), inner, absmax[row % channels]);
    }
  });
  std::vector<float> absmax(channels, 0.0f);
  for (const auto& p : partial)
    for (std::size_t ch = 0; ch < channels; ++ch) absmax[ch] = std::max(absmax[ch], p[ch]);
  partial.clear();

  QuantizedTensor out;
  out.axis = job.axis;
  for (float a : absmax) out.params.push_back(symmetric_params(a, type));
  out.values.name = t.name();
  out.values.type = element_type(type);
  out.values.shape = shape;
  out.values.bytes.resize(element_storage_bytes(out.values.type, total));
  auto* dst = reinterpret_cast<unsigned char*>(out.values.bytes.data());
  const auto lim = quant_limits(type, false);
  const int bytes_per = element_bits(out.values.type) / 8;
  const bool is_signed = setting_info(type).is_signed;
  std::vector<double> scales, zero_points;  // per channel, for quantize_channels_last
  for (const auto& p : out.params) {
    scales.push_back(static_cast<double>(p.scale));
    zero_points.push_back(static_cast<double>(p.zero_point));
  }
  parallel_chunks(chunks, use_threads, [&](std::size_t c) {
    // A chunk of rows, or within the single row an element range: the same loop over a window.
    std::size_t first = 0, last = 0, row_inner = inner;
    if (split_row) {
      first = c * kChunkElements;
      last = std::min(total, first + kChunkElements);
    } else {
      first = c * rows_per_chunk;
      last = std::min(rows, first + rows_per_chunk);
    }
    // Within the single row, the element range [first, last) is one row of its own (on channel 0), so
    // the inner loop runs over the whole range and vectorizes, as it does over the rows of a tensor.
    const unsigned char* src = view->bytes();
    unsigned char* out_bytes = dst;
    std::size_t rows_first = first, rows_last = last, row_channels = channels;
    if (split_row) {
      src += first * sizeof(float);
      out_bytes += first * static_cast<std::size_t>(bytes_per);
      rows_first = 0;
      rows_last = 1;
      row_channels = 1;
      row_inner = last - first;
    }
    const bool channels_last = !split_row && inner == 1 && channels > 1;
    auto run = [&](auto tag) {
      using Q = decltype(tag);
      if (channels_last)
        quantize_channels_last<Q>(src, out_bytes, rows_first, rows_last, channels, scales.data(), zero_points.data(), lim);
      else
        quantize_rows<Q>(src, out_bytes, rows_first, rows_last, row_channels, row_inner, out.params, lim);
    };
    if (bytes_per == 1) {
      if (is_signed) run(std::int8_t{});
      else run(std::uint8_t{});
    } else {
      if (is_signed) run(std::int16_t{});
      else run(std::uint16_t{});
    }
  });
  return out;
}

}  // namespace

int weight_quantization_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp<unsigned>(n, 1, 16));
}

Result<std::vector<QuantizedTensor>> quantize_weights(std::span<const WeightJob> jobs, QuantType type,
                                                      const fs::path& model_dir, int threads) {
  const auto& info = setting_info(type);
  // Types of other widths (packed) take the reference path: a float copy, one thread.
  const bool in_place = info.bits == 8 || info.bits == 16;
  std::vector<QuantizedTensor> out;
  out.reserve(jobs.size());
  for (const auto& job : jobs) {
    if (!in_place) {
      MODELKIT_TRY(auto t, onnx::tensor_from_proto(*job.proto, model_dir));
      MODELKIT_TRY(auto q, quantize_weight(t, type, job.axis));
      out.push_back(std::move(q));
      continue;
    }
    auto q = quantize_one(job, type, model_dir, threads);
    if (!q) return q.take_error();
    out.push_back(std::move(*q));
  }
  return out;
}

}  // namespace modelkit::quant
