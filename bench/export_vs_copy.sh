#!/usr/bin/env bash
# Native export of a BERT-base-size checkpoint (110M float32 parameters in model.safetensors)
# against `cp` of the same safetensors file, in one run: wall time and peak RSS of each.
# The checkpoint is made once by bench/make_bert_checkpoint.py (numpy) in BUILD_DIR/bench-models.
# The file is read once before timing, so every run starts from a warm page cache. The export
# fsyncs what it writes (atomic, durable output) and cp does not, so cp is also timed followed by
# `sync FILE` (its data on disk too), and `dd conv=fsync` is timed as a copy through user space
# (cp may copy inside the kernel); CPU time (user + system) is printed beside wall time, and the
# load average before and after (wall times on a shared machine are only comparable at low load).
# KIND vit does the same with a ViT-base-size image classifier (bench/make_vit_checkpoint.py, 86M).
# usage: bench/export_vs_copy.sh [BUILD_DIR] [REPEATS] [bert|vit]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
repeats="${2:-3}"
mk="$build/bin/modelkit"
kind="${3:-bert}"
case "$kind" in bert|vit) ;; *) echo "usage: $0 [BUILD_DIR] [REPEATS] [bert|vit]" >&2; exit 2 ;; esac
ckpt="$build/bench-models/$kind-base-random"
mkdir -p "$build/bench-models"
work="$(mktemp -d "$build/bench-models/export-XXXXXX")"
trap 'rm -rf "$work"' EXIT
if [ ! -f "$ckpt/model.safetensors" ]; then
  /usr/bin/python3 "$root/bench/make_${kind}_checkpoint.py" "$ckpt"
fi
weights_bytes=$(stat -c %s "$ckpt/model.safetensors")
cat "$ckpt/model.safetensors" >/dev/null

# measure NAME CMD...: prints "NAME wall_s max_rss_kb"
measure() {
  local name="$1"; shift
  /usr/bin/time -f "%e %M %U %S" -o "$work/time" "$@" >/dev/null
  read -r wall rss user sys <"$work/time"
  echo "$name $wall $rss $(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')"
}
echo "weights: $weights_bytes bytes ($ckpt/model.safetensors)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
for i in $(seq "$repeats"); do
  rm -rf "$work/copy.safetensors" "$work/model.onnx"
  measure cp cp "$ckpt/model.safetensors" "$work/copy.safetensors"
  rm -f "$work/copy.safetensors"
  measure cp+sync sh -c 'cp "$1" "$2" && sync "$2"' sh "$ckpt/model.safetensors" "$work/copy.safetensors"
  rm -f "$work/copy.safetensors"
  measure dd+fsync dd if="$ckpt/model.safetensors" of="$work/copy.safetensors" bs=4M conv=fsync status=none
  measure export "$mk" export -m "$ckpt" -o "$work/model.onnx"
done | awk -v wb="$weights_bytes" '
  { wall[$1] += $2; cpu[$1] += $4; n[$1]++; if ($3 > rss[$1]) rss[$1] = $3 }
  END {
    split("cp cp+sync dd+fsync export", order, " ")
    for (i = 1; i <= 4; i++) {
      k = order[i]
      printf "%-8s mean wall %.2f s, cpu %.2f s over %d runs, peak RSS %.0f MiB (%.2fx the weights)\n", k, wall[k] / n[k], cpu[k] / n[k], n[k], rss[k] / 1024, rss[k] * 1024 / wb
    }
    printf "export / cp wall: %.2fx; export / (cp + sync): %.2fx; export / dd+fsync: %.2fx\n", wall["export"] / wall["cp"], wall["export"] / wall["cp+sync"], wall["export"] / wall["dd+fsync"]
    printf "export / cp CPU: %.2fx; export / (cp + sync) CPU: %.2fx\n", cpu["export"] / cpu["cp"], cpu["export"] / cpu["cp+sync"]
  }'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
