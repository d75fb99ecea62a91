#!/usr/bin/env bash
# usage: scripts/sanitize.sh [ctest args...]
# Builds library, CLI and tests with AddressSanitizer + UndefinedBehaviorSanitizer (CMake preset
# "asan": clang, -O1, into build-asan/) and runs the whole test suite there. The sanitizer
# options (halt on the first error, stack traces, leak checking with scripts/lsan.supp for
# leaks inside ONNX Runtime/protobuf/ICU only) come from the "asan" test preset.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cmake --preset asan >/dev/null
mkdir -p build-asan
if ! cmake --build --preset asan --parallel "$(nproc)" >build-asan/build.log 2>&1; then
  grep -E -A20 'error|FAILED' build-asan/build.log | head -80
  echo "sanitize: build failed (full log: build-asan/build.log)" >&2
  exit 1
fi
ctest --preset asan --parallel "$(nproc)" "$@"
