#!/usr/bin/env bash
# Quick-start command 1: installs what is missing, builds modelkit, and runs its main job on
# the embedded default: a MiniLM-size BERT encoder checkpoint (random weights, exported by
# setup into .deps/models/minilm-like with a WordPiece tokenizer.json) is inspected, built
# into a statically quantized model calibrated on modelkit's embedded default text, and timed
# against the float model.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
cd "$root"
ckpt=.deps/models/minilm-like
out=build/demo/minilm-like-int8
echo "== modelkit inspect -m $ckpt"
build/bin/modelkit inspect -m "$ckpt"
echo
echo "== modelkit build -m $ckpt -o $out"
build/bin/modelkit build -m "$ckpt" -o "$out" --force
echo
echo "== modelkit perf -m $out/model.onnx --compare $ckpt/model.onnx"
build/bin/modelkit perf -m "$out/model.onnx" --compare "$ckpt/model.onnx" --iterations 100
