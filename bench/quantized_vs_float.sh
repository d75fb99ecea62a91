#!/usr/bin/env bash
# Quantized vs float latency (modelkit perf --compare) and calibration time per sample vs
# plain inference, on the realistic-size models setup exports (scripts/test_models/
# export_bench_models.py) and on the test suite's tiny ones.
# usage: bench/quantized_vs_float.sh [BUILD_DIR] [THREADS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
threads="${2:-1}"
mk="$build/bin/modelkit"
models="$root/.deps/models"
work="$build/bench-models"
mkdir -p "$work"
for name in minilm-like resnet-like bert-tiny-like cnn-tiny; do
  ckpt="$models/$name"
  out="$work/$name-int8"
  echo "== $name"
  "$mk" build -m "$ckpt" -o "$out" --force --samples 50 --threads "$threads" --quiet >/dev/null
  /usr/bin/python3 - "$out/build_manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
c = m["calibration"]
t = m["timings"]
print(f"  calibration: {c['kind']} ({c['samples']} samples) {t['calibrate']:.2f}s = {1000 * t['calibrate'] / c['samples']:.2f} ms/sample;"
      f" min cosine {m['validation']['min_cosine_similarity']:.4f}")
PY
  "$mk" perf -m "$out/model.onnx" --compare "$ckpt/model.onnx" --iterations 100 --warmup 10 --threads "$threads" | grep -E "^(model|latency|ratio)"
done
