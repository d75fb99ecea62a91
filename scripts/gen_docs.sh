#!/usr/bin/env bash
# Regenerates the files modelkit writes about itself from its own tables:
#   docs/cli.md, docs/tasks.md, docs/model-types.md   ('modelkit help --doc NAME')
#   completions/modelkit.bash                         ('modelkit help --bash-completion')
# usage: scripts/gen_docs.sh [--check] [MODELKIT_BINARY]
#   --check   write nothing; exit 1 naming the files that differ from what the binary generates
#             (ctest runs this: test 'docs_fresh').
# MODELKIT_BINARY defaults to build/bin/modelkit (scripts/build.sh builds it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
check=0
if [ "${1:-}" = "--check" ]; then
  check=1
  shift
fi
bin="${1:-$root/build/bin/modelkit}"
if [ ! -x "$bin" ]; then
  echo "gen_docs.sh: no modelkit binary at '$bin' (build it first: scripts/build.sh)" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# generated file (relative to the repository) -> the command that prints it
outputs=(docs/cli.md docs/tasks.md docs/model-types.md completions/modelkit.bash)
"$bin" help --doc cli >"$tmp/0"
"$bin" help --doc tasks >"$tmp/1"
"$bin" help --doc model-types >"$tmp/2"
"$bin" help --bash-completion >"$tmp/3"

stale=()
for i in "${!outputs[@]}"; do
  target="$root/${outputs[$i]}"
  if cmp -s "$tmp/$i" "$target"; then continue; fi
  if [ "$check" = 1 ]; then
    stale+=("${outputs[$i]}")
    diff -u "$target" "$tmp/$i" 2>&1 | head -20 >&2 || true
  else
    mkdir -p "$(dirname "$target")"
    cp "$tmp/$i" "$target"
    echo "wrote ${outputs[$i]}"
  fi
done
if [ "${#stale[@]}" -gt 0 ]; then
  echo "gen_docs.sh: ${stale[*]} differ from what '$bin' generates; run scripts/gen_docs.sh and commit the result" >&2
  exit 1
fi
