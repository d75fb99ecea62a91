#!/usr/bin/env bash
# Quick-start command 1: installs what is missing, builds, and runs modelkit's main
# job on the embedded default checkpoints shipped in tests/data/checkpoints.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
cd "$root"
for ckpt in tests/data/checkpoints/*/; do
  echo "== modelkit inspect -m $ckpt"
  build/bin/modelkit inspect -m "$ckpt"
  echo
done
