#include "runtime/extremes_op.hpp"

#include <modelkit/runtime.hpp>

#include "util/extremes.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace modelkit::runtime {
namespace {

// Above this many elements (1 MiB of float32) the tensor is split across ONNX Runtime's intra-op
// threads (with one thread the chunks run in turn on the caller).
constexpr std::size_t kParallelElements = std::size_t{1} << 18;
constexpr std::size_t kChunkElements = std::size_t{1} << 16;

std::pair<float, float> merge(std::pair<float, float> a, std::pair<float, float> b) {
  return {std::min(a.first, b.first), std::max(a.second, b.second)};
}

float widen(double v) { return static_cast<float>(v); }
float widen(Ort::Float16_t v) { return v.ToFloat(); }
float widen(Ort::BFloat16_t v) { return v.ToFloat(); }

// Other floating types, read as float32 (the range is float32): one scalar pass, no copy.
template <typename T>
std::pair<float, float> converted_extremes(const T* v, std::size_t n) {
  std::pair<float, float> out{std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  for (std::size_t i = 0; i < n; ++i) {
    const float x = widen(v[i]);
    if (!std::isfinite(x)) continue;
    out = merge(out, {x, x});
  }
  return out;
}

struct Chunks {
  const float* data = nullptr;
  std::size_t count = 0;
  std::vector<std::pair<float, float>> results;
};

void reduce_chunk(void* user, std::size_t index) {
  auto& c = *static_cast<Chunks*>(user);
  const std::size_t begin = index * kChunkElements;
  const std::size_t n = std::min(kChunkElements, c.count - begin);
  c.results[index] = util::finite_extremes(std::span<const float>(c.data + begin, n));
}

struct ExtremesKernel {
  OrtStatusPtr ComputeV2(OrtKernelContext* raw) noexcept {
    try {
      Ort::KernelContext context(raw);
      auto input = context.GetInput(0);
      auto info = input.GetTensorTypeAndShapeInfo();
      const std::size_t n = info.GetElementCount();
      std::pair<float, float> result{std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
      switch (info.GetElementType()) {
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: {
          const float* data = input.GetTensorData<float>();
          if (n < kParallelElements) {
            result = util::finite_extremes(std::span<const float>(data, n));
          } else {
            Chunks chunks{data, n, {}};
            chunks.results.resize((n + kChunkElements - 1) / kChunkElements);
            context.ParallelFor(reduce_chunk, chunks.results.size(), 0, &chunks);
            for (const auto& r : chunks.results) result = merge(result, r);
          }
          break;
        }
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE:
          result = converted_extremes(input.GetTensorData<double>(), n);
          break;
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16:
          result = converted_extremes(input.GetTensorData<Ort::Float16_t>(), n);
          break;
        case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16:
          result = converted_extremes(input.GetTensorData<Ort::BFloat16_t>(), n);
          break;
        default:
          return Ort::GetApi().CreateStatus(ORT_INVALID_ARGUMENT,
                                            "FiniteMinMax: calibration takes floating-point tensors only");
      }
      const std::int64_t two = 2;
      auto output = context.GetOutput(0, &two, 1);
      float* out = output.GetTensorMutableData<float>();
      out[0] = result.first;
      out[1] = result.second;
      return nullptr;
    } catch (const std::exception& e) {
      return Ort::GetApi().CreateStatus(ORT_RUNTIME_EXCEPTION, e.what());
    }
  }
};

struct ExtremesOp : Ort::CustomOpBase<ExtremesOp, ExtremesKernel, true> {
  OrtStatusPtr CreateKernelV2(const OrtApi&, const OrtKernelInfo*, void** kernel) const noexcept {
    *kernel = new (std::nothrow) ExtremesKernel();
    return *kernel ? nullptr : Ort::GetApi().CreateStatus(ORT_FAIL, "FiniteMinMax: out of memory");
  }
  const char* GetName() const { return kCalibrationExtremesOp; }
  std::size_t GetInputTypeCount() const { return 1; }
  // Any element type: the kernel checks it, so no type inference of the graph is needed.
  ONNXTensorElementDataType GetInputType(std::size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED; }
  std::size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(std::size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
};

}  // namespace

void add_calibration_ops(Ort::SessionOptions& options) {
  // Made once, after ONNX Runtime is loaded (callers open sessions, which load it first), and
  // never freed: sessions refer to the domain for their whole life.
  static ExtremesOp* op = nullptr;
  static Ort::CustomOpDomain* domain = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    op = new ExtremesOp();
    domain = new Ort::CustomOpDomain(kCalibrationDomain);
    domain->Add(op);
  });
  options.Add(*domain);
}

}  // namespace modelkit::runtime
