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
#include <condition_variable>
#include <mutex>
#include <system_error>
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

  // Where an external float32 tensor's values lie, checked against its shape (not yet opened).
  static Result<ExternalFloats> external_source(const ::onnx::TensorProto& t, const onnx::ExternalRef& ref,
                                                const fs::path& model_dir) {
    const std::string what = "tensor " + quoted(t.name());
    MODELKIT_TRY(auto want, onnx::tensor_dense_bytes(t));
    if (model_dir.empty()) return failure(what + " is stored externally and no model folder was given");
    MODELKIT_TRY(auto file, onnx::resolve_external_location(model_dir, ref.location));
    const std::uint64_t length = ref.length.value_or(want);
    if (length != want)
      return failure(what + ": external data length " + std::to_string(length) +
                     " does not match its shape and type (" + std::to_string(want) + " bytes)");
    return ExternalFloats{std::move(file), ref.location, ref.offset, length};
  }

  // Maps an external tensor's values (the range checked against the file as it is now).
  static Result<std::unique_ptr<FloatView>> open_external(const std::string& name, const ExternalFloats& source) {
    auto view = std::make_unique<FloatView>();
    const std::string what = "tensor " + quoted(name);
    const std::uint64_t length = source.length;
    view->count_ = length / sizeof(float);
    int fd = ::open(source.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return failure("cannot read " + quoted(source.location) + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return failure("cannot read " + quoted(source.location) + ": not a regular file");
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (source.offset > size || length > size - source.offset) {
      ::close(fd);
      return failure(what + ": external data range " + std::to_string(source.offset) + "+" + std::to_string(length) +
                     " lies past the end of " + quoted(source.location) + " (" + std::to_string(size) + " bytes)");
    }
    if (length == 0) {
      ::close(fd);
      return view;
    }
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    const std::uint64_t start = source.offset / page * page;
    view->map_bytes_ = static_cast<std::size_t>(source.offset + length - start);
    void* m = ::mmap(nullptr, view->map_bytes_, PROT_READ, MAP_PRIVATE, fd, static_cast<off_t>(start));
    ::close(fd);
    if (m == MAP_FAILED) {
      view->map_bytes_ = 0;
      return failure("cannot map " + quoted(source.location) + ": " + std::strerror(errno));
    }
    view->map_ = m;
    ::madvise(m, view->map_bytes_, MADV_SEQUENTIAL);
    view->bytes_ = static_cast<const unsigned char*>(m) + (source.offset - start);
    return view;
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
      MODELKIT_TRY(auto source, external_source(t, *ref, model_dir));
      return open_external(t.name(), source);
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
[[gnu::always_inline]] inline double quantize_element(float x, double scale, double zp, double qmin, double qmax) {
  constexpr double kMagic = 4503599627370496.0;  // 2^52
  const double v = static_cast<double>(x) / scale;
  const double magic = std::copysign(kMagic, v);
  double q = ((v + magic) - magic) + zp;
  q = q != q ? zp : q;
  q = q < qmin ? qmin : q;
  q = q > qmax ? qmax : q;
  return q;
}

// Quantizes the elements [first, last) of a tensor laid out as [outer, channels, inner] (per-tensor:
// one channel), `src` pointing at element `first`'s float and `dst` at its output. Runs of one
// channel share a scale, so the inner loop vectorizes; when the channel is the last axis (inner 1,
// as a MatMul weight [K, N] on axis 1) runs of consecutive channels read scales from arrays instead.
template <class Q>
[[gnu::always_inline]] inline void quantize_window(const unsigned char* src, unsigned char* dst, std::size_t first, std::size_t last,
                     std::size_t channels, std::size_t inner, const double* scales, const double* zero_points,
                     QuantLimits lim) {
  const double qmin = static_cast<double>(lim.qmin), qmax = static_cast<double>(lim.qmax);
  Q* out = reinterpret_cast<Q*>(dst);
  const bool channels_last = inner == 1 && channels > 1;
  std::size_t e = first;
  while (e < last) {
    const unsigned char* in = src + (e - first) * sizeof(float);
    Q* o = out + (e - first);
    if (channels_last) {
      const std::size_t ch = e % channels;
      const std::size_t n = std::min(channels - ch, last - e);
      const double* sc = scales + ch;
      const double* zs = zero_points + ch;
      for (std::size_t i = 0; i < n; ++i) {
        float x;
        std::memcpy(&x, in + i * sizeof(float), sizeof x);
        o[i] = static_cast<Q>(static_cast<std::int32_t>(quantize_element(x, sc[i], zs[i], qmin, qmax)));
      }
      e += n;
      continue;
    }
    const std::size_t row = e / inner;
    const std::size_t ch = row % channels;
    const std::size_t n = std::min((row + 1) * inner, last) - e;
    const double scale = scales[ch], zp = zero_points[ch];
    for (std::size_t i = 0; i < n; ++i) {
      float x;
      std::memcpy(&x, in + i * sizeof(float), sizeof x);
      o[i] = static_cast<Q>(static_cast<std::int32_t>(quantize_element(x, scale, zp, qmin, qmax)));
    }
    e += n;
  }
}

// The loops above compiled for each vector width the CPU may have, the widest chosen when the
// program loads (every operation is exactly rounded IEEE arithmetic lane by lane, and none is a
// multiply-add that could be fused, so every width gives the same bytes). The divisions bound
// the loop: wider vectors divide more values per cycle.
#if defined(__x86_64__) && defined(__gnu_linux__)
#define MODELKIT_VECTOR_CLONES [[gnu::target_clones("avx512f", "avx2", "default")]]
#else
#define MODELKIT_VECTOR_CLONES
#endif
#define MODELKIT_QUANTIZE_WINDOW(Q, suffix)                                                                        \
  MODELKIT_VECTOR_CLONES void quantize_window_##suffix(const unsigned char* src, unsigned char* dst,                \
                                                      std::size_t first, std::size_t last, std::size_t channels,   \
                                                      std::size_t inner, const double* scales,                     \
                                                      const double* zero_points, QuantLimits lim) {                \
    quantize_window<Q>(src, dst, first, last, channels, inner, scales, zero_points, lim);                          \
  }
MODELKIT_QUANTIZE_WINDOW(std::int8_t, i8)
MODELKIT_QUANTIZE_WINDOW(std::uint8_t, u8)
MODELKIT_QUANTIZE_WINDOW(std::int16_t, i16)
MODELKIT_QUANTIZE_WINDOW(std::uint16_t, u16)
#undef MODELKIT_QUANTIZE_WINDOW

// A tensor's quantization as the window loop needs it: layout around the axis and per-channel
// scales and zero points in double.
struct WindowPlan {
  std::size_t channels = 1, inner = 1, total = 0;
  std::vector<double> scales, zero_points;
  QuantLimits lim{};
  int bytes_per = 1;
  bool is_signed = true;

  void run(const unsigned char* src, unsigned char* dst, std::size_t first, std::size_t last) const {
    auto* window = bytes_per == 1 ? (is_signed ? quantize_window_i8 : quantize_window_u8)
                                  : (is_signed ? quantize_window_i16 : quantize_window_u16);
    window(src, dst, first, last, channels, inner, scales.data(), zero_points.data(), lim);
  }
};

// max(m, |v|) over the finite values of `n` floats at `p` (unaligned), in independent lanes so the
// compiler vectorizes it; a maximum is exact, so the lanes change nothing. NaN and infinities fail
// `a <= FLT_MAX` and count as 0, which leaves the maximum (never below 0) alone.
MODELKIT_VECTOR_CLONES float finite_absmax(const unsigned char* p, std::size_t n, float m) {
  constexpr int kLanes = 16;
  constexpr float kMaxFinite = std::numeric_limits<float>::max();
  float lane[kLanes];
  for (float& l : lane) l = m;
  const std::size_t blocks = n / kLanes * kLanes;
  for (std::size_t i = 0; i < blocks; i += kLanes) {
    float v[kLanes];
    std::memcpy(v, p + i * sizeof(float), sizeof v);
    for (int l = 0; l < kLanes; ++l) {
      // |v| spelled as a compare (GCC 12 leaves the loop scalar with std::fabs); -0 stays -0,
      // which no lane (>= +0) is below, so the maximum is fabs's.
      float a = v[l] < 0 ? -v[l] : v[l];
      a = a <= kMaxFinite ? a : 0.0f;
      lane[l] = a > lane[l] ? a : lane[l];
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

WindowPlan window_plan(std::size_t channels, std::size_t inner, std::size_t total, const std::vector<QuantParams>& params,
                       QuantType type) {
  WindowPlan plan;
  plan.channels = channels;
  plan.inner = inner;
  plan.total = total;
  for (const auto& p : params) {
    plan.scales.push_back(static_cast<double>(p.scale));
    plan.zero_points.push_back(static_cast<double>(p.zero_point));
  }
  plan.lim = quant_limits(type, false);
  plan.bytes_per = element_bits(element_type(type)) / 8;
  plan.is_signed = setting_info(type).is_signed;
  return plan;
}

// One pass over a weight's values for its symmetric parameters: per-channel absolute maxima of the
// finite values (a maximum: the same in any order and any split), chunks spread over `threads`.
// Fills the layout and parameters of `plan` and `params`.
Result<void> weight_params(const ::onnx::TensorProto& t, int axis, const FloatView& view, QuantType type, int threads,
                           WindowPlan& plan, std::vector<QuantParams>& params) {
  std::vector<std::int64_t> shape(t.dims().begin(), t.dims().end());
  if (axis >= 0 && static_cast<std::size_t>(axis) >= shape.size())
    return failure("tensor '" + t.name() + "' of shape [" + format_shape(shape) + "] has no axis " +
                   std::to_string(axis));
  // [outer, channels, inner] around the axis; rows are (outer, channel) pairs of `inner` values.
  std::size_t outer = 1, channels = 1, inner = 1;
  if (axis < 0) {
    inner = static_cast<std::size_t>(view.count());
  } else {
    const auto a = static_cast<std::size_t>(axis);
    channels = static_cast<std::size_t>(shape[a]);
    for (std::size_t d = a + 1; d < shape.size(); ++d) inner *= static_cast<std::size_t>(shape[d]);
    for (std::size_t d = 0; d < a; ++d) outer *= static_cast<std::size_t>(shape[d]);
  }
  const std::size_t rows = outer * channels;
  // Chunks of whole rows, or (one huge row, per-tensor) of element ranges within the row.
  const bool split_row = rows == 1;
  const std::size_t total = static_cast<std::size_t>(view.count());
  const std::size_t rows_per_chunk = inner == 0 ? rows : std::max<std::size_t>(1, kChunkElements / inner);
  const std::size_t chunks = total == 0 ? 0
                             : split_row ? (total + kChunkElements - 1) / kChunkElements
                                         : (rows + rows_per_chunk - 1) / rows_per_chunk;
  const int use_threads = total < 2 * kChunkElements ? 1 : threads;
  std::vector<std::vector<float>> partial(chunks, std::vector<float>(channels, 0.0f));
  parallel_chunks(chunks, use_threads, [&](std::size_t c) {
    auto& absmax = partial[c];
    if (split_row) {
      const std::size_t first = c * kChunkElements, end = std::min(total, first + kChunkElements);
      absmax[0] = finite_absmax(view.bytes() + first * sizeof(float), end - first, 0.0f);
      return;
    }
    const std::size_t end = std::min(rows, (c + 1) * rows_per_chunk);
    for (std::size_t row = c * rows_per_chunk; row < end; ++row) {
      absmax[row % channels] =
          finite_absmax(view.bytes() + row * inner * sizeof(float), inner, absmax[row % channels]);
    }
  });
  std::vector<float> absmax(channels, 0.0f);
  for (const auto& p : partial)
    for (std::size_t ch = 0; ch < channels; ++ch) absmax[ch] = std::max(absmax[ch], p[ch]);

  params.clear();
  for (float a : absmax) params.push_back(symmetric_params(a, type));
  plan = window_plan(channels, inner, total, params, type);
  return {};
}

Result<QuantizedTensor> quantize_one(const WeightJob& job, QuantType type, const fs::path& model_dir, int threads) {
  const auto& t = *job.proto;
  MODELKIT_TRY(auto view, FloatView::open(t, model_dir));
  QuantizedTensor out;
  WindowPlan plan;
  MODELKIT_TRY_VOID(weight_params(t, job.axis, *view, type, threads, plan, out.params));
  out.axis = job.axis;
  out.values.name = t.name();
  out.values.type = element_type(type);
  out.values.shape.assign(t.dims().begin(), t.dims().end());
  out.values.bytes.resize(element_storage_bytes(out.values.type, plan.total));
  auto* dst = reinterpret_cast<unsigned char*>(out.values.bytes.data());
  const std::size_t windows = (plan.total + kChunkElements - 1) / kChunkElements;
  const int use_threads = plan.total < 2 * kChunkElements ? 1 : threads;
  parallel_chunks(windows, use_threads, [&](std::size_t c) {
    const std::size_t first = c * kChunkElements, last = std::min(plan.total, first + kChunkElements);
    plan.run(view->bytes() + first * sizeof(float), dst + first * static_cast<std::size_t>(plan.bytes_per), first,
             last);
  });
  return out;
}

}  // namespace

int weight_quantization_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp<unsigned>(n, 1, 16));
}

static bool in_place_type(QuantType type) {
  const auto bits = setting_info(type).bits;
  return bits == 8 || bits == 16;
}

std::uint64_t StreamedWeight::quantized_bytes() const {
  return element_storage_bytes(element_type(type), source.length / sizeof(float));
}

Result<std::optional<StreamedWeight>> prepare_streamed_weight(const WeightJob& job, QuantType type,
                                                              const fs::path& model_dir, int threads) {
  const auto& t = *job.proto;
  if (!in_place_type(type) || t.data_type() != static_cast<int>(ElementType::float32))
    return std::optional<StreamedWeight>();
  MODELKIT_TRY(auto ref, onnx::external_ref(t));
  if (!ref) return std::optional<StreamedWeight>();
  MODELKIT_TRY(auto source, FloatView::external_source(t, *ref, model_dir));
  StreamedWeight w;
  w.name = t.name();
  w.source = std::move(source);
  w.type = type;
  w.axis = job.axis;
  w.shape.assign(t.dims().begin(), t.dims().end());
  MODELKIT_TRY(auto view, FloatView::open_external(w.name, w.source));
  WindowPlan plan;
  MODELKIT_TRY_VOID(weight_params(t, job.axis, *view, type, threads, plan, w.params));
  w.channels = plan.channels;
  w.inner = plan.inner;
  return std::optional<StreamedWeight>(std::move(w));
}

Result<void> write_streamed_weight(const StreamedWeight& w, int threads, const onnx::ByteSink& sink) {
  MODELKIT_TRY(auto view, FloatView::open_external(w.name, w.source));
  const WindowPlan plan = window_plan(w.channels, w.inner, static_cast<std::size_t>(view->count()), w.params, w.type);
  const std::size_t windows = (plan.total + kChunkElements - 1) / kChunkElements;
  const std::size_t window_bytes = kChunkElements * static_cast<std::size_t>(plan.bytes_per);
  auto quantize = [&](std::size_t c, unsigned char* dst) {
    const std::size_t first = c * kChunkElements, last = std::min(plan.total, first + kChunkElements);
    plan.run(view->bytes() + first * sizeof(float), dst, first, last);
    return (last - first) * static_cast<std::size_t>(plan.bytes_per);
  };
  // Workers quantize windows ahead into a ring of slots while this thread writes them in order.
  constexpr std::size_t kSlots = 4;
  const std::size_t slots = std::min(kSlots, std::max<std::size_t>(windows, 1));
  std::vector<std::vector<unsigned char>> buffer(slots, std::vector<unsigned char>(window_bytes));
  std::vector<std::size_t> filled(slots, 0);                       // bytes of the window in each slot
  std::vector<std::size_t> holds(slots, static_cast<std::size_t>(-1));  // window each slot holds, when ready
  std::mutex mutex;
  std::condition_variable changed;
  std::size_t next = 0, written = 0;
  bool stop = false;
  auto work = [&] {
    std::unique_lock lock(mutex);
    for (;;) {
      changed.wait(lock, [&] { return stop || next >= windows || next < written + slots; });
      if (stop || next >= windows) return;
      const std::size_t c = next++;
      lock.unlock();
      const std::size_t n = quantize(c, buffer[c % slots].data());
      lock.lock();
      filled[c % slots] = n;
      holds[c % slots] = c;
      changed.notify_all();
    }
  };
  std::vector<std::thread> pool;
  const std::size_t workers = windows < 2 ? 0 : static_cast<std::size_t>(std::max(threads, 1));
  for (std::size_t i = 0; i < workers; ++i) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no more threads to be had: the ones running (or this one) do the work
    }
  }
  Result<void> status;
  for (std::size_t c = 0; c < windows && status.ok(); ++c) {
    const std::size_t slot = c % slots;
    if (pool.empty()) {
      filled[slot] = quantize(c, buffer[slot].data());
    } else {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return holds[slot] == c; });
    }
    status = sink(std::span<const unsigned char>(buffer[slot].data(), filled[slot]));
    std::lock_guard lock(mutex);
    holds[slot] = static_cast<std::size_t>(-1);
    written = c + 1;
    stop = !status.ok();
    changed.notify_all();
  }
  {
    std::lock_guard lock(mutex);
    stop = true;
    changed.notify_all();
  }
  for (auto& t : pool) t.join();
  return status;
}

Result<std::vector<QuantizedTensor>> quantize_weights(std::span<const WeightJob> jobs, QuantType type,
                                                      const fs::path& model_dir, int threads) {
  // Types of other widths (packed) take the reference path: a float copy, one thread.
  const bool in_place = in_place_type(type);
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
