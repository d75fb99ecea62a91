#!/usr/bin/env bash
# Quick-start command 2: installs what is missing, builds, runs every test.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh" -DMODELKIT_BUILD_TESTS=ON
cd "$root/build"
ctest --output-on-failure --parallel "$(nproc)" --timeout 900
