// Resolving a typical config, already parsed and from bytes (target: parse+resolve
// under 5 us per config on one core).
#include <benchmark/benchmark.h>

#include <modelkit/config.hpp>
#include <modelkit/task.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const std::filesystem::path kConfigs = std::filesystem::path(MODELKIT_TEST_DATA_DIR) / "configs";

// A typical checkpoint config: bert-base-NER (token classification, ~1 KB).
const std::string& typical_config() {
  static const std::string text = read(kConfigs / "dslim__bert-base-NER-uncased.json");
  return text;
}

void BM_ResolveParsed(benchmark::State& state) {
  modelkit::ModelFacts facts;
  facts.config = modelkit::parse_model_config(typical_config()).value();
  modelkit::TaskRequest request;
  for (auto _ : state) {
    auto r = modelkit::resolve_task(facts, request);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_ResolveParsed);

void BM_ParseAndResolve(benchmark::State& state) {
  const std::string& bytes = typical_config();
  modelkit::TaskRequest request;
  for (auto _ : state) {
    modelkit::ModelFacts facts;
    facts.config = modelkit::parse_model_config(bytes).value();
    auto r = modelkit::resolve_task(facts, request);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes.size()));
}
BENCHMARK(BM_ParseAndResolve);

// Every real config of the suite, parse+resolve, per config.
void BM_ParseAndResolveAllConfigs(benchmark::State& state) {
  std::vector<std::string> configs;
  for (const auto& e : std::filesystem::directory_iterator(kConfigs))
    if (e.path().extension() == ".json") configs.push_back(read(e.path()));
  modelkit::TaskRequest request;
  for (auto _ : state) {
    for (const auto& bytes : configs) {
      modelkit::ModelFacts facts;
      auto parsed = modelkit::parse_model_config(bytes);
      if (parsed.ok()) facts.config = std::move(*parsed);
      auto r = modelkit::resolve_task(facts, request);
      benchmark::DoNotOptimize(r);
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * configs.size()));
}
BENCHMARK(BM_ParseAndResolveAllConfigs);

}  // namespace

BENCHMARK_MAIN();
