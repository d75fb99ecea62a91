#!/usr/bin/env bash
# Quick-start command 2: installs what is missing, builds, runs every test.
# With clang on the machine, the libFuzzer targets also run for a bounded time first
# (MODELKIT_FUZZ_SECONDS, default 15 per target; 0 skips them).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh" -DMODELKIT_BUILD_TESTS=ON
fuzz_seconds="${MODELKIT_FUZZ_SECONDS:-15}"
if [ "$fuzz_seconds" != 0 ] && command -v clang++ >/dev/null; then
  bash "$root/scripts/fuzz.sh" "$fuzz_seconds"
fi
cd "$root/build"
ctest --output-on-failure --parallel "$(nproc)" --timeout 900
