#!/usr/bin/env bash
# int8 vs float on one thread for a ViT-base-size and a ConvNeXt-tiny-size image classifier built
# from safetensors (`modelkit build -m`): calibration and validation on real photos (.deps/images),
# then `perf --compare` of the int8 model against the float export. Prints per model the build's
# validation (min cosine per output on the held-back photos) and the latency ratio.
# The checkpoints are random-weight (bench/make_vit_checkpoint.py, bench/make_convnext_checkpoint.py,
# made once in BUILD_DIR/bench-models): no trained weights are reachable offline, so the cosine says
# how well int8 follows the float graph on real pixel statistics, not how a trained model's accuracy moves.
# usage: bench/vision_int8.sh [BUILD_DIR] [ITERATIONS] [vit|convnext|all]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
iterations="${2:-20}"
which="${3:-all}"
mk="$build/bin/modelkit"
work="$build/bench-models"
mkdir -p "$work"
photos="$(mktemp -d "$work/photos-XXXXXX")"
trap 'rm -rf "$photos"' EXIT
for f in "$root"/.deps/images/skimage/* "$root"/.deps/images/matplotlib/*; do
  case "$f" in *truncated*) ;; *.png|*.jpg|*.jpeg) ln -s "$f" "$photos/$(basename "$(dirname "$f")")-$(basename "$f")" ;; esac
done
echo "photos: $(ls "$photos" | wc -l) ($root/.deps/images); load: $(cut -d' ' -f1-3 /proc/loadavg)"
for kind in vit convnext; do
  [ "$which" = all ] || [ "$which" = "$kind" ] || continue
  ckpt="$work/$kind-bench-random"
  [ -f "$ckpt/model.safetensors" ] || /usr/bin/python3 "$root/bench/make_${kind}_checkpoint.py" "$ckpt"
  out="$work/$kind-bench-int8"
  echo "== $kind ($(du -m "$ckpt/model.safetensors" | cut -f1) MiB of float32 weights)"
  "$mk" export -m "$ckpt" -o "$work/$kind-bench-float.onnx" --force >/dev/null
  "$mk" build -m "$ckpt" -o "$out" --force --calibration-data "$photos" --samples 30 --threads 1 --quiet >/dev/null
  /usr/bin/python3 - "$out/build_manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
v = m["validation"]
print(f"  calibration: {m['calibration']['samples']} photos; validation min cosine {v['min_cosine_similarity']:.4f}")
for o in v["report"]["outputs"]:
    print(f"  {o['name']}: cosine {o['cosine_similarity']:.4f} (min per photo {o['min_cosine']:.4f}), "
          f"SQNR {o['sqnr_db']:.1f} dB on {v['report']['samples']} held-back photos")
t = m["timings"]
print("  build seconds: " + ", ".join(f"{k} {t[k]:.1f}" for k in ("export", "calibrate", "quantize", "validate")))
PY
  "$mk" perf -m "$out/model.onnx" --compare "$work/$kind-bench-float.onnx" --iterations "$iterations" --warmup 3 \
    --threads 1 | grep -E "^(model|latency|ratio)" || true
done
