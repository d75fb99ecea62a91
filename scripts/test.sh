#!/usr/bin/env bash
# Quick-start command 2: installs what is missing, builds, runs every test.
# With clang on the machine (setup installs it), two more steps run before the suite:
#   - the libFuzzer targets, each for MODELKIT_FUZZ_SECONDS (default 30; 0 skips them), see scripts/fuzz.sh;
#   - the whole suite built with ASan + UBSan in build-asan/ (MODELKIT_SANITIZE=0 skips it),
#     see scripts/sanitize.sh.
# Then the mutation check (MODELKIT_MUTATION=0 skips it), see scripts/mutation_check.sh; then the
# plain Release suite (built with -Werror: a warning in our own code fails CI), and last the quick
# start (scripts/demo.sh: inspect, build, perf on the embedded default), so the README's first
# command is tested on every clean clone.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh" -DMODELKIT_BUILD_TESTS=ON -DMODELKIT_WERROR=ON
if command -v clang++ >/dev/null; then
  fuzz_seconds="${MODELKIT_FUZZ_SECONDS:-30}"
  if [ "$fuzz_seconds" != 0 ]; then
    bash "$root/scripts/fuzz.sh" "$fuzz_seconds"
  fi
  if [ "${MODELKIT_SANITIZE:-1}" != 0 ]; then
    bash "$root/scripts/sanitize.sh"
  fi
fi
# The mutation check: the quant tests must fail under each bug planted in the quantizer
# (scripts/mutation_check.sh; ~3 min on 2 cores with a cold ccache, ~2 min warm).
# MODELKIT_MUTATION=0 skips it.
if [ "${MODELKIT_MUTATION:-1}" != 0 ]; then
  bash "$root/scripts/mutation_check.sh"
fi
cd "$root/build"
ctest --output-on-failure --parallel "$(nproc)" --timeout 900
bash "$root/scripts/demo.sh"
