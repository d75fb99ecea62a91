// `modelkit perf`'s measuring path (runtime::Session::run on Tensors, outputs copied out) vs a
// bare ONNX Runtime loop (Ort::Session::Run on Ort::Values made once), on the same model,
// inputs and thread count. The two alternate every iteration so both see the same machine
// state; counters report both p50s and the overhead (target: within 3%).
#include <modelkit/onnx.hpp>
#include <modelkit/random_inputs.hpp>
#include <modelkit/runtime.hpp>

#include <benchmark/benchmark.h>
// modelkit runs the C++ API on the OrtApi it loads on first use; this benchmark links ORT and
// hands it the same table before using the C++ API itself.
#define ORT_API_MANUAL_INIT
#include <onnxruntime_cxx_api.h>

#include <chrono>
#include <filesystem>

namespace {

namespace fs = std::filesystem;
using namespace modelkit;

fs::path deps_models() { return fs::path(MODELKIT_TEST_DATA_DIR).parent_path().parent_path() / ".deps" / "models"; }

void BM_PerfOverhead(benchmark::State& state, const char* relative, std::int64_t sequence_length) {
  auto path = deps_models() / relative;
  auto info = onnx::read_model_info(path);
  if (!info) {
    state.SkipWithError(info.error().message.c_str());
    return;
  }
  InputHints hints;
  hints.sequence_length = sequence_length;
  hints.image_size = 224;
  auto inputs = make_random_inputs(info->inputs, hints, {}, 0);
  if (!inputs) {
    state.SkipWithError(inputs.error().message.c_str());
    return;
  }
  runtime::SessionOptions options;
  options.intra_op_threads = 1;
  auto session = runtime::Session::open(path, options);
  if (!session) {
    state.SkipWithError(session.error().message.c_str());
    return;
  }

  // The bare loop: its own Ort::Env and session with the same settings.
  Ort::InitApi(OrtGetApiBase()->GetApi(ORT_API_VERSION));
  Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "bench");
  Ort::SessionOptions bare_options;
  bare_options.SetIntraOpNumThreads(1);
  bare_options.SetExecutionMode(ORT_SEQUENTIAL);
  bare_options.SetGraphOptimizationLevel(ORT_ENABLE_ALL);
  Ort::Session bare(env, path.c_str(), bare_options);
  auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  std::vector<Ort::Value> values;
  std::vector<const char*> in_names, out_names;
  for (auto& t : inputs->tensors) {
    values.push_back(Ort::Value::CreateTensor(memory, t.bytes.data(), t.bytes.size(), t.shape.data(), t.shape.size(),
                                              static_cast<ONNXTensorElementDataType>(t.type)));
    in_names.push_back(t.name.c_str());
  }
  for (const auto& o : session->outputs()) out_names.push_back(o.name.c_str());

  for (int i = 0; i < 10; ++i) {  // warmup, both
    (void)session->run(inputs->tensors);
    bare.Run(Ort::RunOptions{nullptr}, in_names.data(), values.data(), values.size(), out_names.data(),
             out_names.size());
  }
  std::vector<double> modelkit_ms, bare_ms;
  for (auto _ : state) {
    auto a = std::chrono::steady_clock::now();
    auto r = session->run(inputs->tensors);
    auto b = std::chrono::steady_clock::now();
    auto outs = bare.Run(Ort::RunOptions{nullptr}, in_names.data(), values.data(), values.size(), out_names.data(),
                         out_names.size());
    auto c = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(outs);
    modelkit_ms.push_back(std::chrono::duration<double, std::milli>(b - a).count());
    bare_ms.push_back(std::chrono::duration<double, std::milli>(c - b).count());
  }
  auto mk = runtime::latency_stats(modelkit_ms);
  auto bare_stats = runtime::latency_stats(bare_ms);
  state.counters["modelkit_p50_ms"] = mk.p50_ms;
  state.counters["bare_ort_p50_ms"] = bare_stats.p50_ms;
  state.counters["overhead_pct"] = 100.0 * (mk.p50_ms / bare_stats.p50_ms - 1.0);
}

BENCHMARK_CAPTURE(BM_PerfOverhead, bert_tiny_seq128, "bert-tiny-like/model.onnx", 128)
    ->Iterations(2000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PerfOverhead, cnn_tiny_224, "cnn-tiny/model.onnx", 128)->Iterations(300)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PerfOverhead, silero_legacy, "silero-vad/silero_vad_legacy.onnx", 512)
    ->Iterations(2000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PerfOverhead, ppocr_det_224, "pp-ocr/ch_PP-OCRv4_det_infer.onnx", 128)
    ->Iterations(100)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
