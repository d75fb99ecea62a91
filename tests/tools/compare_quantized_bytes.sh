#!/usr/bin/env bash
# Byte-for-byte check of quantized models between two modelkit binaries (for changes to how the
# quantizer computes or writes, which must not change what it writes): ranges are collected once
# with OLD, then both binaries quantize with those ranges and the output files (model and any
# external data) are compared with cmp. Models: the test models and a small external-data model
# (bench/make_big_matmul_model.py; its 512x512 weights are streamed), also with one weight left in
# float so the output keeps an external data file; per-tensor, per-channel and int16 weights.
# usage: tests/tools/compare_quantized_bytes.sh OLD_MODELKIT NEW_MODELKIT
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
old="$(realpath "$1")"; new="$(realpath "$2")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$root/bench/make_big_matmul_model.py" "$work/external" 3 512 >/dev/null
failures=0; compared=0
check() {  # name model task extra-args...
  local name="$1" model="$2" task="$3"; shift 3
  "$old" quantize -m "$model" --task "$task" -q --samples 8 --seed 3 --save-ranges "$work/$name.ranges.json" \
    -o "$work/$name.ranges-run.onnx" "$@" >/dev/null 2>&1 || { echo "FAIL $name: ranges run failed"; failures=$((failures + 1)); return; }
  for side in old new; do
    local bin; [ $side = old ] && bin="$old" || bin="$new"
    mkdir -p "$work/$side/$name"
    "$bin" quantize -m "$model" --task "$task" -q --ranges "$work/$name.ranges.json" -o "$work/$side/$name/model.onnx" "$@" \
      >/dev/null 2>"$work/$side/$name.stderr" || echo "exit $?" >>"$work/$side/$name.stderr"
  done
  local same=1
  for f in "$work/old/$name"/model.onnx*; do
    cmp -s "$f" "$work/new/$name/$(basename "$f")" || same=0
  done
  [ "$(ls "$work/old/$name")" = "$(ls "$work/new/$name")" ] || same=0
  compared=$((compared + 1))
  if [ $same = 1 ]; then echo "same  $name ($(du -cb "$work/old/$name"/model.onnx* | tail -1 | cut -f1) bytes)"
  else echo "DIFF  $name"; failures=$((failures + 1)); fi
}
m="$root/.deps/models"
for variant in default per-channel int16; do
  case $variant in default) args=() ;; per-channel) args=(--per-channel) ;; int16) args=(--weight-type int16 --activation-type uint16) ;; esac
  check "bert-tiny-like-$variant" "$m/bert-tiny-like/model.onnx" feature-extraction "${args[@]}"
  check "minilm-like-$variant" "$m/minilm-like/model.onnx" feature-extraction "${args[@]}"
  check "cnn-tiny-$variant" "$m/cnn-tiny/model.onnx" image-classification "${args[@]}"
  check "resnet-like-$variant" "$m/resnet-like/model.onnx" image-classification "${args[@]}"
  check "external-matmuls-$variant" "$work/external/model.onnx" feature-extraction "${args[@]}"
  # One weight left in float (still external): the output keeps an external data file.
  check "external-matmuls-exclude-$variant" "$work/external/model.onnx" feature-extraction --exclude-nodes matmul0 "${args[@]}"
done
echo "$compared compared, $failures different"
[ $failures = 0 ]
