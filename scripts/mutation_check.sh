#!/usr/bin/env bash
# usage: scripts/mutation_check.sh [mutation...]
# Proves the quant tests can fail: for each planted bug (MODELKIT_TEST_MUTATION, see
# src/quant/CMakeLists.txt and the top of src/quant/quantize.cpp) builds the quant area and its
# tests into build-mutation/<mutation>/ and runs modelkit_quant_tests there. Exits 1 unless every
# mutation makes at least one test fail ("caught"); a mutation that builds but passes the suite
# "survived" and is named.
# Cost: the build dirs differ only in quantize.cpp's compile definition, so with ccache
# (CCACHE_BASEDIR = the source tree) every other object is compiled once and shared; each
# further mutation is one compile, two links and one test run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ $# -gt 0 ]; then
  mutations=("$@")
else
  mutations=(act_scale_x2 weight_scale_x2 skip_qdq identity_model)
fi
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$root"
fi
mkdir -p build-mutation
start=$SECONDS
survived=()
for m in "${mutations[@]}"; do
  dir="build-mutation/$m"
  t0=$SECONDS
  if ! { cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMODELKIT_BUILD_TESTS=ON \
           -DMODELKIT_BUILD_TOOLS=OFF -DMODELKIT_BUILD_BENCHMARKS=OFF -DMODELKIT_INSTALL=OFF \
           -DMODELKIT_TEST_MUTATION="$m" "${launcher[@]}" &&
         cmake --build "$dir" --target modelkit_quant_tests --parallel "$(nproc)"; } >"$dir.build.log" 2>&1; then
    grep -E -A10 'error|FAILED|CMake Error' "$dir.build.log" | head -40 >&2
    echo "mutation_check: $m does not build (full log: $dir.build.log)" >&2
    exit 1
  fi
  built=$((SECONDS - t0))
  if "$dir/tests/modelkit_quant_tests" --gtest_brief=1 >"$dir.tests.log" 2>&1; then
    echo "mutation_check: $m SURVIVED: every quant test passed with it (${built}s build; log $dir.tests.log)"
    survived+=("$m")
  else
    failed=$(grep -c '^\[  FAILED  \] [A-Za-z]' "$dir.tests.log" || true)
    echo "mutation_check: $m caught by $failed failing test(s) (${built}s build, $((SECONDS - t0))s in all)"
    grep '^\[  FAILED  \] [A-Za-z]' "$dir.tests.log" | sed 's/^/    /' | head -12
  fi
done
echo "mutation_check: ${#mutations[@]} mutation(s) in $((SECONDS - start))s"
if [ ${#survived[@]} -gt 0 ]; then
  echo "mutation_check: the quant tests miss ${survived[*]}" >&2
  exit 1
fi
