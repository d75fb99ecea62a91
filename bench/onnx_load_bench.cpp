// Loading and saving an ONNX model over protobuf's 2 GiB limit. The model is generated here (a
// chain of 9 MatMuls with 8192x8192 float weights, 2.25 GiB, all in one external-data file),
// measured, and deleted at the end. Counters: time, and peak resident memory added by the step
// relative to the model's size (the peak is reset before each step through /proc/self/clear_refs).
#include <modelkit/onnx.hpp>
#include <modelkit/runtime.hpp>

#include "onnx/model_proto.hpp"

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

namespace {

namespace fs = std::filesystem;
using namespace modelkit;

constexpr int kLayers = 9;
constexpr std::int64_t kDim = 8192;
constexpr std::uint64_t kTensorBytes = std::uint64_t{kDim} * kDim * sizeof(float);
constexpr std::uint64_t kModelBytes = kLayers * kTensorBytes;

struct BigModel {
  fs::path dir;          // generated model
  fs::path resaved_dir;  // save_model_proto's output
  std::optional<::onnx::ModelProto> loaded;
};
BigModel& big() {
  static BigModel instance;
  return instance;
}

void reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
}

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

// Writes model.onnx + model.onnx_data into a fresh temporary folder, streaming the weights.
Result<fs::path> generate() {
  std::string tmpl = (fs::temp_directory_path() / "modelkit-big-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return failure("cannot create a temporary folder");
  fs::path dir = tmpl;
  auto space = fs::space(dir);
  if (space.available < 3 * kModelBytes) return failure("needs " + std::to_string(3 * kModelBytes >> 30) + " GiB free");

  std::vector<float> weights(static_cast<std::size_t>(kDim) * kDim);
  for (std::size_t i = 0; i < weights.size(); ++i)
    weights[i] = static_cast<float>(static_cast<int>((i * 2654435761u) % 2001) - 1000) * 1e-5f;
  ::onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("modelkit-bench");
  model.add_opset_import()->set_version(17);
  auto* g = model.mutable_graph();
  g->set_name("matmul_chain");
  auto add_value = [](::onnx::ValueInfoProto* v, const std::string& name) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(1);
    t->mutable_shape()->add_dim()->set_dim_value(1);
    t->mutable_shape()->add_dim()->set_dim_value(kDim);
  };
  add_value(g->add_input(), "x");
  std::ofstream data(dir / "model.onnx_data", std::ios::binary);
  std::string prev = "x";
  for (int i = 0; i < kLayers; ++i) {
    std::string w = "w" + std::to_string(i), y = i + 1 == kLayers ? "y" : "h" + std::to_string(i);
    data.write(reinterpret_cast<const char*>(weights.data()), static_cast<std::streamsize>(kTensorBytes));
    auto* t = g->add_initializer();
    t->set_name(w);
    t->set_data_type(1);
    t->add_dims(kDim);
    t->add_dims(kDim);
    t->set_data_location(::onnx::TensorProto_DataLocation_EXTERNAL);
    for (auto [k, v] : {std::pair<const char*, std::string>{"location", "model.onnx_data"},
                        {"offset", std::to_string(i * kTensorBytes)},
                        {"length", std::to_string(kTensorBytes)}}) {
      auto* e = t->add_external_data();
      e->set_key(k);
      e->set_value(v);
    }
    auto* n = g->add_node();
    n->set_op_type("MatMul");
    n->add_input(prev);
    n->add_input(w);
    n->add_output(y);
    prev = y;
  }
  add_value(g->add_output(), "y");
  data.close();
  if (!data) return failure("cannot write the external data file");
  std::ofstream out(dir / "model.onnx", std::ios::binary);
  model.SerializeToOstream(&out);
  return dir;
}

void BM_Generate(benchmark::State& state) {
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    auto dir = generate();
    if (!dir) {
      state.SkipWithError(dir.error().message.c_str());
      return;
    }
    big().dir = *dir;
    state.counters["write_ms"] = ms_since(start);
  }
  state.counters["model_gib"] = static_cast<double>(kModelBytes) / (1 << 30);
}

void BM_ReadModelInfo(benchmark::State& state) {
  if (big().dir.empty()) return state.SkipWithError("no model");
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    auto info = modelkit::onnx::read_model_info(big().dir / "model.onnx");
    state.counters["ms"] = ms_since(start);
    if (!info || info->external_data_bytes != kModelBytes) return state.SkipWithError("read_model_info failed");
  }
}

void BM_LoadWithExternalData(benchmark::State& state) {
  if (big().dir.empty()) return state.SkipWithError("no model");
  for (auto _ : state) {
    big().loaded.reset();
    reset_peak_rss();
    auto base = runtime::current_rss_bytes();
    auto start = std::chrono::steady_clock::now();
    auto model = modelkit::onnx::read_model_proto(big().dir / "model.onnx");
    if (!model) return state.SkipWithError(model.error().message.c_str());
    auto loaded = modelkit::onnx::load_external_data(*model, big().dir);
    if (!loaded) return state.SkipWithError(loaded.error().message.c_str());
    state.counters["ms"] = ms_since(start);
    state.counters["gib_per_s"] = static_cast<double>(kModelBytes) / (1 << 30) / (state.counters["ms"] / 1000.0);
    state.counters["peak_rss_over_model"] =
        static_cast<double>(runtime::peak_rss_bytes() - base) / static_cast<double>(kModelBytes);
    big().loaded = std::move(*model);
  }
}

void BM_SaveOver2GiB(benchmark::State& state) {
  if (!big().loaded) return state.SkipWithError("no loaded model");
  for (auto _ : state) {
    std::string tmpl = (fs::temp_directory_path() / "modelkit-big-saved-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return state.SkipWithError("cannot create a temporary folder");
    big().resaved_dir = tmpl;
    reset_peak_rss();
    auto base = runtime::current_rss_bytes();
    auto start = std::chrono::steady_clock::now();
    auto saved = modelkit::onnx::save_model_proto(*big().loaded, big().resaved_dir / "model.onnx");  // automatic policy
    if (!saved) return state.SkipWithError(saved.error().message.c_str());
    state.counters["ms"] = ms_since(start);
    state.counters["peak_rss_over_model"] =
        static_cast<double>(runtime::peak_rss_bytes() - base) / static_cast<double>(kModelBytes);
    auto info = modelkit::onnx::read_model_info(big().resaved_dir / "model.onnx");
    if (!info || info->external_data_bytes != kModelBytes) return state.SkipWithError("saved model does not read back");
  }
  big().loaded.reset();
}

void BM_OrtSessionLoad(benchmark::State& state) {
  if (big().dir.empty()) return state.SkipWithError("no model");
  for (auto _ : state) {
    reset_peak_rss();
    auto base = runtime::current_rss_bytes();
    auto start = std::chrono::steady_clock::now();
    runtime::SessionOptions options;
    options.intra_op_threads = 1;
    auto session = runtime::Session::open(big().dir / "model.onnx", options);
    if (!session) return state.SkipWithError(session.error().message.c_str());
    state.counters["ms"] = ms_since(start);
    state.counters["peak_rss_over_model"] =
        static_cast<double>(runtime::peak_rss_bytes() - base) / static_cast<double>(kModelBytes);
  }
}

BENCHMARK(BM_Generate)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReadModelInfo)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LoadWithExternalData)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SaveOver2GiB)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_OrtSessionLoad)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::error_code ec;
  big().loaded.reset();
  if (!big().dir.empty()) fs::remove_all(big().dir, ec);
  if (!big().resaved_dir.empty()) fs::remove_all(big().resaved_dir, ec);
  return 0;
}
