#!/usr/bin/env bash
# Copies the real config.json files of public checkpoints (and their INDEX.tsv with the
# required resolutions) from ../shared/configs into tests/data/configs, so the suite
# runs without ../shared. Re-run when ../shared/configs changes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="${1:-$root/../shared/configs}"
dst="$root/tests/data/configs"
[ -d "$src" ] || { echo "sync_test_configs: no folder '$src'" >&2; exit 2; }
rm -rf "$dst"
mkdir -p "$dst"
cp "$src"/*.json "$src"/INDEX.tsv "$dst"/
[ -f "$src/README.md" ] && cp "$src/README.md" "$dst/README.md"
echo "sync_test_configs: $(ls "$dst"/*.json | wc -l) configs in $dst"
