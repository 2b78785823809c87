#!/usr/bin/env bash
# Makes sure the system packages the toolkit builds and tests with are present.
#
# On Debian/Ubuntu as root, missing packages are installed with apt-get.
# Anywhere else, it names what to install and fails, rather than guessing.
set -euo pipefail

packages=(openmpi-bin libopenmpi-dev mpich libmpich-dev libclang-dev pkg-config build-essential)
commands=(mpicc.openmpi mpirun.openmpi mpicc.mpich mpiexec.mpich)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
else
  for c in "${commands[@]}"; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c")
  done
fi

if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  else
    cat >&2 <<MSG
install-deps: missing: ${missing[*]}
  On Debian/Ubuntu, as root:  apt-get install ${packages[*]}
  Elsewhere, install Open MPI and MPICH with their development headers, so that
  'mpicc.openmpi', 'mpirun.openmpi', 'mpicc.mpich' and 'mpiexec.mpich' exist
  (or set MPICC/MPIRUN yourself and run 'make test-openmpi' or 'make test-mpich'),
  plus libclang (for bindgen) and a C compiler.
MSG
    exit 1
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "install-deps: cargo is missing: install Rust with rustup (https://rustup.rs)" >&2
  exit 1
fi
