#!/usr/bin/env bash
# A large external-data model (LAYERS MatMuls of SIZE x SIZE float weights, made by
# bench/make_big_matmul_model.py in a temporary folder under TMPDIR, deleted after): `cp` of its
# weights against the whole `modelkit build` (20 random samples), in one run. Prints each stage's
# time from the manifest, the quantize stage against cp, and the build's peak RSS against the float
# model plus the quantized model. The weights are read once first, so every run starts warm.
# usage: bench/scale_build.sh [BUILD_DIR] [REPEATS=2] [LAYERS=9] [SIZE=8192] [THREADS=0]
# (9 x 8192^2 = 2.25 GiB; 4 layers = 1 GiB when disk or time is short)
# The model is generated under TMPDIR and deleted after, unless SCALE_MODEL_DIR names where to keep it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
repeats="${2:-2}"
layers="${3:-9}"
size="${4:-8192}"
threads="${5:-0}"
mk="$build/bin/modelkit"
work="$(mktemp -d "${TMPDIR:-/tmp}/modelkit-scale-XXXXXX")"
trap 'rm -rf "$work"' EXIT
# SCALE_MODEL_DIR=DIR keeps the generated model in DIR between runs (made when absent; not deleted).
model_dir="${SCALE_MODEL_DIR:-$work/float}"
[ -f "$model_dir/model.onnx" ] || /usr/bin/python3 "$root/bench/make_big_matmul_model.py" "$model_dir" "$layers" "$size"
weights="$model_dir/model.onnx_data"
weights_bytes=$(stat -c %s "$weights")
cat "$weights" >/dev/null
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
for i in $(seq "$repeats"); do
  rm -rf "$work/copy" "$work/out"
  /usr/bin/time -f "%e %M" -o "$work/time" cp "$weights" "$work/copy"
  read -r cp_wall cp_rss <"$work/time"
  rm -f "$work/copy"
  /usr/bin/time -f "%e %M" -o "$work/time" "$mk" build -m "$model_dir/model.onnx" --task feature-extraction -o "$work/out" -q \
    --samples 20 --input-shape "x=1x$size" --threads "$threads" >/dev/null
  read -r build_wall build_rss <"$work/time"
  out_bytes=$(du -cb "$work/out"/model.onnx* | tail -1 | cut -f1)
  /usr/bin/python3 - "$work/out/build_manifest.json" "$weights_bytes" "$out_bytes" "$cp_wall" "$build_wall" "$build_rss" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
wb, ob, cp, wall, rss_kib = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
t = m["timings"]
stages = ", ".join(f"{k} {v:.2f}" for k, v in t.items())
q = t.get("quantize", 0)
peak = m.get("resources", {}).get("peak_rss_bytes")
print(f"weights {wb / 2**30:.2f} GiB, quantized {ob / 2**30:.2f} GiB; cp {cp:.2f} s; build {wall:.2f} s ({stages})")
print(f"  quantize stage / cp: {q / cp:.2f}x ({wb / q / 1e6:.0f} MB/s of float weights)")
print(f"  peak RSS {rss_kib / 2**20:.2f} GiB = {rss_kib * 1024 / wb:.2f}x the float model, "
      f"{rss_kib * 1024 / (wb + ob):.2f}x float + quantized" + (f"; manifest peak_rss_bytes {peak}" if peak else ""))
PY
done
