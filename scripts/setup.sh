#!/usr/bin/env bash
# Installs everything modelkit needs on a fresh Debian 12 machine (run as root).
# Idempotent: packages already present are not reinstalled, so a second run is quick.
# `setup.sh --demo` installs only what scripts/demo.sh needs: no python3-torch / python3-onnx (the
# tests' references, listed in setup.d/test-only.list) and only the setup steps setup.d/demo.steps names.
set -euo pipefail
demo=0
[ "${1:-}" = "--demo" ] && demo=1
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

apt_packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libsimdjson-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
# Further areas append their packages here (see scripts/setup.d/*.sh).
for extra in "$here"/setup.d/*.packages; do
  [ -e "$extra" ] || continue
  while read -r pkg; do
    case "$pkg" in ''|'#'*) continue ;; esac
    if [ "$demo" = 1 ] && grep -qx "$pkg" "$here/setup.d/test-only.list"; then continue; fi
    apt_packages+=("$pkg")
  done <"$extra"
done

missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: packages missing and not root: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Steps that are not plain apt packages (ONNX Runtime from npm, test models, ...).
for step in "$here"/setup.d/*.sh; do
  [ -e "$step" ] || continue
  if [ "$demo" = 1 ] && ! grep -qx "$(basename "$step")" "$here/setup.d/demo.steps"; then continue; fi
  MODELKIT_ROOT="$root" bash "$step"
done
echo "setup: ok"
