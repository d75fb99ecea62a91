// `modelkit run` end to end (fork, exec, load, tokenize, session, answer, exit) vs a bare ONNX
// Runtime session's first inference in this process (Ort::Session creation + one Run on the
// same token ids), on the MiniLM-size encoder. The two alternate every iteration so both see the
// same machine state. Target: run < 2x the bare first inference. The CLI is build/bin/modelkit
// unless MODELKIT_CLI names another.
#include <benchmark/benchmark.h>
// modelkit's runtime initialises ORT's C++ API itself (ORT_API_MANUAL_INIT); this file does the same.
#define ORT_API_MANUAL_INIT
#include <onnxruntime_cxx_api.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const fs::path kRoot = fs::path(MODELKIT_TEST_DATA_DIR).parent_path().parent_path();

double run_cli_ms(const fs::path& cli, const fs::path& model) {
  const auto start = Clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    if (!std::freopen("/dev/null", "w", stdout)) std::_Exit(126);
    ::execl(cli.c_str(), "modelkit", "run", "-m", model.c_str(), "--text",
            "The quick brown fox jumps over the lazy dog near the river bank.", "--threads", "1",
            static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double bare_first_inference_ms(Ort::Env& env, const fs::path& model, std::size_t tokens) {
  const auto start = Clock::now();
  Ort::SessionOptions options;
  options.SetIntraOpNumThreads(1);
  Ort::Session session(env, model.c_str(), options);
  std::vector<std::int64_t> ids(tokens, 100), mask(tokens, 1), types(tokens, 0);
  ids.front() = 101;
  ids.back() = 102;
  std::array<std::int64_t, 2> shape{1, static_cast<std::int64_t>(tokens)};
  auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  std::vector<Ort::Value> inputs;
  for (auto* v : {&ids, &mask, &types})
    inputs.push_back(Ort::Value::CreateTensor<std::int64_t>(mem, v->data(), v->size(), shape.data(), shape.size()));
  const char* in_names[] = {"input_ids", "attention_mask", "token_type_ids"};
  const char* out_names[] = {"last_hidden_state"};
  auto out = session.Run(Ort::RunOptions{nullptr}, in_names, inputs.data(), inputs.size(), out_names, 1);
  benchmark::DoNotOptimize(out);
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void BM_RunVsSession(benchmark::State& state) {
  const fs::path cli = std::getenv("MODELKIT_CLI") ? fs::path(std::getenv("MODELKIT_CLI")) : kRoot / "build" / "bin" / "modelkit";
  const fs::path folder = kRoot / ".deps" / "models" / "minilm-like";
  Ort::InitApi(OrtGetApiBase()->GetApi(ORT_API_VERSION));
  Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "bench");
  std::vector<double> run_ms, bare_ms;
  for (auto _ : state) {
    const double r = run_cli_ms(cli, folder);
    if (r < 0) {
      state.SkipWithError("modelkit run failed (is build/bin/modelkit built? MODELKIT_CLI)");
      return;
    }
    run_ms.push_back(r);
    bare_ms.push_back(bare_first_inference_ms(env, folder / "model.onnx", 16));
    state.SetIterationTime((r + bare_ms.back()) / 1000.0);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  state.counters["run_p50_ms"] = median(run_ms);
  state.counters["bare_first_inference_p50_ms"] = median(bare_ms);
  state.counters["ratio"] = median(run_ms) / median(bare_ms);
}
BENCHMARK(BM_RunVsSession)->UseManualTime()->Iterations(10)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
