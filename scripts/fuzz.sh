#!/usr/bin/env bash
# usage: scripts/fuzz.sh [SECONDS [TARGET...]]
# Builds the libFuzzer targets (CMake preset "fuzz": clang, ASan + UBSan) into build-fuzz/,
# builds each target's seed corpus from the test data (fuzz/make_seeds.py -> build-fuzz/seeds/),
# and runs each target for SECONDS (default 60), MODELKIT_FUZZ_JOBS (default: the core count)
# at a time. What a target finds is kept in build-fuzz/corpus/<target>/ across runs; crashes,
# timeouts and out-of-memory inputs go to build-fuzz/crashes/<target>/ and fail the script.
# Prints one line per target: executions, coverage (cov) and features (ft) as libFuzzer counts.
# MODELKIT_FUZZ_SEED fixes libFuzzer's random seed (CI=true uses 1 and a fresh corpus), so a CI
# run explores a prefix of what the same seed explores locally for longer: a crash CI could
# find is found first by a longer local run, and CI does not fail on chance.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
shift || true
all_targets=(config_fuzz model_card_fuzz safetensors_fuzz sharded_index_fuzz onnx_model_fuzz tokenizer_fuzz
             image_config_fuzz image_decode_fuzz build_config_fuzz calib_ranges_fuzz)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
jobs="${MODELKIT_FUZZ_JOBS:-$(nproc)}"
seed="${MODELKIT_FUZZ_SEED:-}"
[ -n "$seed" ] || { [ "${CI:-}" = true ] && seed=1; } || true
seed_args=()
[ -z "$seed" ] || seed_args=(-seed="$seed")
cd "$root"

cmake --preset fuzz >/dev/null
if ! cmake --build build-fuzz --parallel "$(nproc)" --target "${targets[@]}" >build-fuzz/build.log 2>&1; then
  grep -E -A20 'error|FAILED' build-fuzz/build.log | head -80
  echo "fuzz: build failed (full log: build-fuzz/build.log)" >&2
  exit 1
fi
rm -rf build-fuzz/seeds
/usr/bin/python3 fuzz/make_seeds.py "$root" build-fuzz/seeds >/dev/null

# The fuzzers run uninstrumented ORT/ICU/protobuf too; their process-lifetime allocations are
# not modelkit's leaks (same suppressions as the sanitizer test suite).
export LSAN_OPTIONS="suppressions=$root/scripts/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

run_target() {
  local target="$1" name="${1%_fuzz}"
  local corpus="build-fuzz/corpus/$name" seeds="build-fuzz/seeds/$name" crashes="build-fuzz/crashes/$target"
  mkdir -p "$corpus" "$seeds" "$crashes"
  local dict=()
  case "$name" in model_card|image_decode|onnx_model) ;; *) dict=(-dict=fuzz/json.dict) ;; esac
  local status=ok
  if [ -n "$seed" ]; then rm -rf "$corpus"; mkdir -p "$corpus"; fi  # a fixed seed starts from the seeds alone
  if ! "build-fuzz/fuzz/$target" "$corpus" "$seeds" "${dict[@]}" "${seed_args[@]}" -max_total_time="$seconds" -max_len=65536 \
      -timeout=20 -rss_limit_mb=2048 -artifact_prefix="$crashes/" -print_final_stats=1 \
      >"build-fuzz/$target.log" 2>&1; then
    status="FAILED (see build-fuzz/$target.log and $crashes/)"
  fi
  local execs cov ft
  execs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "build-fuzz/$target.log" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -aoE 'cov: [0-9]+ ft: [0-9]+' "build-fuzz/$target.log" | tail -1 || echo '?')
  printf 'fuzz: %-20s %4ss  execs %-10s %-24s corpus %-5s %s\n' "$target" "$seconds" "$execs" "$cov" \
    "$(ls "$corpus" | wc -l)" "$status"
  [ "$status" = ok ]
}

failed=0
running=0
for target in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
  run_target "$target" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
if [ "$failed" != 0 ]; then
  echo "fuzz: a target failed; each crashing input is in build-fuzz/crashes/<target>/" >&2
  exit 1
fi
