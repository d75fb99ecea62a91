#!/usr/bin/env bash
# Before/after check for refactors: runs the same commands with two modelkit binaries on the test
# models and diffs their JSON outputs (inspect, config, build --dry-run, quantize and build
# manifests), with the fields that vary from run to run masked (timings, seconds, latencies,
# paths of temporary folders). Prints the differences; exits 1 when there are any.
# usage: tests/tools/compare_outputs.sh OLD_MODELKIT NEW_MODELKIT [--ignore KEY]...
#   --ignore KEY   drop KEY wherever it appears before comparing (a field the change adds on purpose)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
old="$(realpath "$1")"; new="$(realpath "$2")"; shift 2
ignore=()
while [ $# -gt 0 ]; do
  case "$1" in --ignore) ignore+=("$2"); shift 2 ;; *) echo "unknown argument $1" >&2; exit 2 ;; esac
done
models="$root/.deps/models"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

run_both() {  # name, then the command's arguments; {OUT} is replaced by a per-binary folder
  local name="$1"; shift
  for side in old new; do
    local bin; [ $side = old ] && bin="$old" || bin="$new"
    local out="$work/$side/$name"; mkdir -p "$out"
    local args=("${@//\{OUT\}/$work/out}")
    rm -rf "$work/out"; mkdir -p "$work/out"
    (cd "$work" && "$bin" "${args[@]}" >"$out/stdout" 2>"$out/stderr") || echo "exit $?" >"$out/exit"
    for f in "$work/out"/*.json "$work/out"/*/*.json; do
      if [ -e "$f" ]; then cp "$f" "$out/$(basename "$f")"; fi
    done
  done
}

run_both inspect-bert inspect -m "$models/bert-tiny-like" --format json
run_both inspect-cnn inspect -m "$models/cnn-tiny/model.onnx" --format json
run_both config-bert config -m "$models/bert-tiny-like"
run_both dry-run build -m "$models/bert-tiny-like" --dry-run --format json
run_both quantize-cnn quantize -m "$models/cnn-tiny/model.onnx" -o "{OUT}/q.onnx" --samples 8 --quiet
run_both build-bert build -m "$models/bert-tiny-like" -o "{OUT}/b" --samples 8 --quiet

/usr/bin/python3 - "$work" "${ignore[@]}" <<'PY'
import json, os, sys
work, ignore = sys.argv[1], set(sys.argv[2:])
volatile = {"timings", "seconds", "load_ms", "latency_ms", "throughput_per_second", "rss_after_load_bytes",
            "peak_rss_bytes", "modelkit_version"}
def norm(v):
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items() if k not in volatile and k not in ignore}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, str):
        return v.replace(work + "/old", "W").replace(work + "/new", "W").replace(work, "W")
    return v
def load(path):
    text = open(path).read()
    try:
        return norm(json.loads(text))
    except ValueError:
        return norm(text)
def diff(a, b, where):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            yield from diff(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            yield from diff(x, y, f"{where}[{i}]")
    elif a != b:
        yield where, a, b
differences = 0
for name in sorted(os.listdir(os.path.join(work, "old"))):
    for f in sorted(set(os.listdir(os.path.join(work, "old", name))) | set(os.listdir(os.path.join(work, "new", name)))):
        a, b = (os.path.join(work, side, name, f) for side in ("old", "new"))
        if f == "stderr":
            continue
        if not (os.path.exists(a) and os.path.exists(b)):
            print(f"{name}/{f}: only in {'old' if os.path.exists(a) else 'new'}"); differences += 1; continue
        for where, x, y in diff(load(a), load(b), f"{name}/{f}"):
            differences += 1
            print(f"{where}: old {json.dumps(x)[:200]} new {json.dumps(y)[:200]}")
print(f"compare_outputs: {differences} difference(s)")
sys.exit(1 if differences else 0)
PY
