#!/usr/bin/env bash
# Every precision on the MiniLM-size encoder and the ResNet-style CNN (.deps/models, from
# scripts/setup.sh): file size, one-thread latency (modelkit perf --compare against the float
# model, run alternately so both see the same machine load) and the validation's minimum cosine
# similarity to the float model on held-back samples. Prints a Markdown table (README.md,
# "Precisions").
# usage: bench/precisions.sh [BUILD_DIR] [ITERATIONS] [LABEL_REGEX] [MODELS]
#   LABEL_REGEX picks variants (default all), MODELS is a space-separated list of .deps/models names.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
iterations="${2:-50}"
only="${3:-.}"
model_names="${4:-minilm-like resnet-like}"
mk="$build/bin/modelkit"
models="$root/.deps/models"
work="$build/bench-precisions"
mkdir -p "$work"

# label | quantize flags ("" = the float model itself). "dynamic, other form" is the dynamic model
# rewritten by bench/dynamic_other_form.py into the form modelkit does not write by default (same
# weights): MatMuls as DequantizeLinear around a float MatMul, Convs as ConvInteger; timed here
# to show why the defaults are what they are (docs/precisions.md, "dynamic").
variants=(
  "fp32|"
  "fp16|--precision fp16"
  "int8|--precision int8"
  "int8 + optimize basic|--precision int8 --optimize basic"
  "int8 + optimize extended|--precision int8 --optimize extended"
  "dynamic|--precision dynamic"
  "dynamic, other form|--precision dynamic"
  "int4 (block 128)|--precision int4"
  "int4 (block 32)|--precision int4 --block-size 32"
  "int4 (block 32) + embeddings|--precision int4 --block-size 32 --int4-embeddings"
)

bytes_of() {  # the .onnx file plus its external data
  local total
  total=$(stat -c %s "$1")
  [ -f "$1.data" ] && total=$((total + $(stat -c %s "$1.data")))
  [ -f "${1}_data" ] && total=$((total + $(stat -c %s "${1}_data")))
  echo "$total"
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min), $(nproc) cores; ONNX Runtime $(cat "$root/.deps/onnxruntime/VERSION" 2>/dev/null | head -1)"
echo
echo "| model | precision | size (MB) | size vs fp32 | p50 latency (ms) | speed vs fp32 | min cosine |"
echo "|---|---|---|---|---|---|---|"
for name in $model_names; do
  float="$models/$name/model.onnx"
  float_bytes=$(bytes_of "$float")
  for v in "${variants[@]}"; do
    label="${v%%|*}"
    flags="${v#*|}"
    [[ "$label" =~ $only ]] || continue
    if [ -z "$flags" ]; then
      out="$float"
      cosine="1"
    else
      out="$work/$name-${label//[^a-z0-9]/_}.onnx"
      # shellcheck disable=SC2086
      if ! "$mk" quantize -m "$float" $flags --samples 50 --threads 1 -o "$out" --force --quiet \
          >"$work/log.txt" 2>&1; then
        echo "| $name | $label | n/a | | | | $(tail -1 "$work/log.txt" | cut -c1-100) |"
        continue
      fi
      cosine=$(/usr/bin/python3 -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["validation"]["min_cosine_similarity"])' \
        "${out%.onnx}.manifest.json")
      if [[ "$label" == *"other form"* ]]; then
        # Same quantized weights and run-time activation quantization, so the same numbers up to
        # float rounding: the cosine is the integer form's.
        /usr/bin/python3 "$root/bench/dynamic_other_form.py" "$out" "${out%.onnx}.other.onnx"
        out="${out%.onnx}.other.onnx"
      fi
    fi
    "$mk" perf -m "$out" --compare "$float" --threads 1 --iterations "$iterations" --warmup 5 --format json \
      >"$work/perf.json"
    /usr/bin/python3 - "$work/perf.json" "$name" "$label" "$(bytes_of "$out")" "$float_bytes" "$cosine" <<'PY'
import json, sys
perf = json.load(open(sys.argv[1]))
name, label, size, float_size, cosine = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
p50 = perf["models"][0]["latency_ms"]["p50"]
ratio = perf["comparison"]["p50_ratio"]  # the float model's p50 / this one's: > 1 is faster than float
print(f"| {name} | {label} | {size / 1e6:.1f} | {size / float_size:.2f}x | {p50:.2f} | {ratio:.2f}x | {cosine} |")
PY
  done
done
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
