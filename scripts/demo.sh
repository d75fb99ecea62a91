#!/usr/bin/env bash
# Quick-start command 1: installs what is missing, builds modelkit, and runs its main job on
# the embedded default: a BERT-style encoder checkpoint (exported by setup into
# .deps/models/bert-tiny-like, with its tokenizer.json) is inspected, built into a statically
# quantized model calibrated on modelkit's embedded default text, and timed against the float
# model.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
cd "$root"
ckpt=.deps/models/bert-tiny-like
out=build/demo/bert-tiny-like-int8
echo "== modelkit inspect -m $ckpt"
build/bin/modelkit inspect -m "$ckpt"
echo
echo "== modelkit build -m $ckpt -o $out"
build/bin/modelkit build -m "$ckpt" -o "$out" --force
echo
echo "== modelkit perf -m $out/model.onnx --compare $ckpt/model.onnx"
build/bin/modelkit perf -m "$out/model.onnx" --compare "$ckpt/model.onnx" --iterations 200
