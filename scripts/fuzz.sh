#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for SECONDS (default 30),
# seeded from the test data. Crashes are kept in build-fuzz/crashes/<target>/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-30}"
cd "$root"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMODELKIT_BUILD_FUZZERS=ON -DMODELKIT_BUILD_TESTS=OFF -DMODELKIT_BUILD_BENCHMARKS=OFF -DMODELKIT_BUILD_TOOLS=OFF \
  -DMODELKIT_INSTALL=OFF >/dev/null
cmake --build build-fuzz --target config_fuzz safetensors_fuzz
work="build-fuzz/work"
rm -rf "$work"
mkdir -p "$work/config" "$work/safetensors" build-fuzz/crashes/config_fuzz build-fuzz/crashes/safetensors_fuzz
cp tests/data/configs/*.json "$work/config/"
# safetensors seeds: 8 bytes of data size, then a header.
/usr/bin/python3 - "$work/safetensors" <<'PY'
import struct, sys, os
seeds = [
  (24, b'{"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}'),
  (40, b'{"__metadata__": {"format": "pt"}, "a": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]}, "b": {"dtype": "I64", "shape": [4], "data_offsets": [8, 40]}}'),
]
for i, (n, h) in enumerate(seeds):
    open(os.path.join(sys.argv[1], f"seed{i}"), "wb").write(struct.pack("<Q", n) + h)
PY
status=0
for target in config_fuzz safetensors_fuzz; do
  corpus="$work/${target%_fuzz}"
  echo "fuzz: $target for ${seconds}s"
  if ! build-fuzz/fuzz/$target "$corpus" -max_total_time="$seconds" -max_len=65536 \
      -artifact_prefix="build-fuzz/crashes/$target/" -print_final_stats=1 2>"build-fuzz/$target.log"; then
    echo "fuzz: $target FOUND A CRASH (see build-fuzz/crashes/$target/ and build-fuzz/$target.log)"
    status=1
  fi
  grep -E "stat::number_of_executed_units|cov:" "build-fuzz/$target.log" | tail -2
done
exit $status
