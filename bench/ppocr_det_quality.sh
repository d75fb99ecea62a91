#!/usr/bin/env bash
# What static quantization costs a real detector: PP-OCRv4 text detection (the suite's real
# third-party model, .deps/models/pp-ocr) quantized by `modelkit quantize` at int8 (the ops the
# planner picks, and Conv only) and w8a16, all per channel, calibrated on a folder of real photos and pages from .deps/images with the model's
# normalisation (ImageNet mean/std), then run by `modelkit run` on five images with text at
# 640x640. For each image: cosine of the probability maps to the float model's, and the IoU of the
# text masks at PP-OCR's DB threshold 0.3 (what the detector's post-processing boxes). The
# probability map of an image without text is ~0 everywhere, so its cosine is not informative:
# the mask pixel counts say whether both models agree that there is no text (one image here has
# none: a quantized model that finds text in it scores IoU 0).
# usage: bench/ppocr_det_quality.sh [BUILD_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
mk="$build/bin/modelkit"
model="$root/.deps/models/pp-ocr/ch_PP-OCRv4_det_infer.onnx"
images="$root/.deps/images"
work="$(mktemp -d "${TMPDIR:-/tmp}/modelkit-ppocr-XXXXXX")"
trap 'rm -rf "$work"' EXIT
[ -f "$model" ] || { echo "no $model: run scripts/setup.sh first" >&2; exit 1; }

mkdir -p "$work/calib"
for f in page text camera coffee chelsea astronaut motorcycle_left; do
  cp "$images/skimage/$f.png" "$work/calib/"
done
cp "$images/skimage/rocket.jpg" "$work/calib/"
eval_images=("$images/skimage/bw_text.png" "$images/skimage/text.png" "$images/skimage/page.png"
             "$images/matplotlib/Minduka_Present_Blue_Pack.png" "$images/matplotlib/logo2.png")

# The inputs, as PP-OCR feeds them: RGB scaled to 0..1, ImageNet mean/std, NCHW, 640x640.
/usr/bin/python3 - "$work" "${eval_images[@]}" <<'PY'
import sys
import numpy as np
from PIL import Image
work = sys.argv[1]
mean = np.array([0.485, 0.456, 0.406], np.float32)
std = np.array([0.229, 0.224, 0.225], np.float32)
for i, path in enumerate(sys.argv[2:]):
    a = np.asarray(Image.open(path).convert("RGB").resize((640, 640)), dtype=np.float32) / 255.0
    np.save(f"{work}/in{i}.npy", ((a - mean) / std).transpose(2, 0, 1)[None].astype(np.float32))
PY

run_all() {  # run_all MODEL TAG: the probability map of every image in $work/TAG<i>/
  local i
  for i in "${!eval_images[@]}"; do
    "$mk" run -m "$1" --input "x=$work/in$i.npy" --save-outputs "$work/$2$i" --threads 1 >/dev/null
  done
}
run_all "$model" float
# variant name, then its quantize flags
variants=("int8" "--precision int8" "int8-conv" "--precision int8 --op-types Conv" "w8a16" "--precision w8a16")
for ((v = 0; v < ${#variants[@]}; v += 2)); do
  tag="${variants[v]}"
  # shellcheck disable=SC2086  # the flags are words
  "$mk" quantize -m "$model" --input-shape x=1x3x640x640 --image-mean 0.485,0.456,0.406 \
    --image-std 0.229,0.224,0.225 --calibration-data "$work/calib" --per-channel \
    ${variants[v + 1]} -o "$work/$tag.onnx" --quiet >/dev/null 2>&1
  run_all "$work/$tag.onnx" "$tag"
done

/usr/bin/python3 - "$work" "${eval_images[@]}" <<'PY'
import glob, os, sys
import numpy as np
work, names = sys.argv[1], [os.path.basename(p) for p in sys.argv[2:]]
THRESHOLD = 0.3
TAGS = ("int8", "int8-conv", "w8a16")
def load(tag, i):
    return np.load(glob.glob(f"{work}/{tag}{i}/*.npy")[0]).ravel()
print(f"{'image':34} {'float text px':>13}  " + "  ".join(f"{p + ' cos':>10} {p + ' IoU':>9}" for p in TAGS))
for i, name in enumerate(names):
    f = load("float", i)
    row = f"{name:34} {int((f > THRESHOLD).sum()):13d}  "
    for p in TAGS:
        q = load(p, i)
        cos = float(f @ q / (np.linalg.norm(f) * np.linalg.norm(q) + 1e-30))
        union = ((f > THRESHOLD) | (q > THRESHOLD)).sum()
        iou = ((f > THRESHOLD) & (q > THRESHOLD)).sum() / union if union else float("nan")
        row += f"{cos:10.4f} {iou:9.3f}  "
    print(row)
PY
