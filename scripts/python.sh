#!/usr/bin/env bash
# The Python package (python/) on one MPI build of scripts/mpi.sh.
#
# usage: scripts/python.sh MPI setup          venv + mpi4py + the package
#        scripts/python.sh MPI test           our pytest suite, 1, 2 and 4 ranks
#        scripts/python.sh MPI pshmem         pshmem 1.3.5's own test.py against us
#        scripts/python.sh MPI run CMD [ARG..] CMD with the venv's python first in PATH
#
# MPI is a name of scripts/mpi.sh (openmpi, mpich, ...). Everything lives in
# target/py/MPI: a virtualenv with numpy, pytest, maturin and mpi4py built
# from source against MPI's mpicc (a binary wheel of mpi4py would bring
# another MPI), and the package built by maturin with the same mpicc, so the
# two load one MPI library (the package checks it at import).
# PY_PROFILE=release builds the extension optimised (for benchmarks); the
# default, debug, reuses the test build's dependencies and builds faster.
# PY_MPI4PY_CFLAGS are the C flags of the mpi4py build (make test-python
# passes -O0).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
[ $# -ge 2 ] || { sed -n '3,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
MPI=$1; shift
ACTION=$1; shift
DIR=$ROOT/target/py/$MPI
VENV=$DIR/venv
PY=$VENV/bin/python
PROFILE=${PY_PROFILE:-debug}
PSHMEM=pshmem==1.3.5
eval "$(scripts/mpi.sh env "$MPI")"
# mpi.sh's target directory is relative to the root.
export CARGO_TARGET_DIR=$ROOT/$CARGO_TARGET_DIR
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
read -r -a LAUNCH <<<"$MPIRUN"

setup() {
  mkdir -p "$DIR"
  if [ ! -x "$PY" ]; then
    echo "python.sh: creating $VENV"
    python3 -m venv "$VENV"
  fi
  if ! "$PY" -c 'import numpy, pytest, maturin, mpi4py' 2>/dev/null; then
    echo "python.sh: pip install numpy pytest maturin, and mpi4py built with MPICC=$MPICC"
    "$PY" -m pip install --quiet --upgrade pip
    "$PY" -m pip install --quiet numpy pytest "maturin>=1.7,<2"
    # --no-cache-dir: pip caches the wheel it builds from the sdist under the
    # sdist's name, whatever MPICC was; another venv would get that MPI's.
    # PY_MPI4PY_CFLAGS=-O0 (make test-python) compiles mpi4py's large generated
    # MPI.c in a fraction of the time; its speed does not matter to tests.
    CFLAGS="${PY_MPI4PY_CFLAGS:-}" "$PY" -m pip install --quiet --no-cache-dir --no-binary mpi4py "mpi4py>=4"
  fi
  local flags=()
  [ "$PROFILE" = release ] && flags+=(--release)
  echo "python.sh: maturin build ($PROFILE) with MPICC=$MPICC into $DIR/wheels"
  rm -rf "$DIR/wheels"
  "$VENV/bin/maturin" build --quiet --auditwheel skip "${flags[@]}" -m python/Cargo.toml -i "$PY" --out "$DIR/wheels"
  "$PY" -m pip install --quiet --force-reinstall --no-deps "$DIR"/wheels/*.whl
  "$PY" -c 'import rma_toolkit, mpi4py; print("python.sh: rma_toolkit with", mpi4py.MPI.Get_library_version().splitlines()[0])'
}

# Runs CMD on N ranks with a deadline: a hang fails instead of blocking CI.
launch() {
  local n=$1; shift
  timeout --kill-after=10 "${PY_TIMEOUT:-600}" "${LAUNCH[@]}" -np "$n" "$@"
}

run_tests() {
  for n in 1 2 4; do
    echo "=== python tests on $MPI, $n ranks ==="
    launch "$n" "$PY" -m pytest -q --color=no -p no:cacheprovider -x python/tests
  done
}

# pshmem's own tests, with `pshmem` resolved to a shim package that
# re-exports ours (target/py/MPI/shim/pshmem) and pshmem's test.py, unchanged,
# from its sdist.
pshmem_tests() {
  local src=$ROOT/target/py/pshmem-src
  if [ ! -f "$src/test.py" ]; then
    mkdir -p "$src"
    "$PY" -m pip download --quiet --no-deps --no-binary :all: "$PSHMEM" -d "$src"
    tar -xzf "$src"/pshmem-*.tar.gz -C "$src"
    cp "$src"/pshmem-*/src/pshmem/test.py "$src/test.py"
  fi
  local shim=$DIR/shim/pshmem
  rm -rf "$shim"; mkdir -p "$shim"
  cp python/tests/pshmem_shim/*.py "$shim/"
  cp "$src/test.py" "$shim/test.py"
  cp "$src"/pshmem-*/test_scripts/readme_test.py "$DIR/readme_test.py"
  for n in 1 2 4; do
    echo "=== pshmem $PSHMEM test.py on $MPI, $n ranks (against rma_toolkit) ==="
    PYTHONPATH=$DIR/shim launch "$n" "$PY" -c 'import pshmem.test; pshmem.test.run()'
  done
  # pshmem's README example prints the same with pshmem itself and with us
  # (lines sorted: the ranks' output interleaves differently run to run).
  "$PY" -m pip install --quiet --no-deps "$PSHMEM"
  echo "=== pshmem's README example on $MPI, 4 ranks: pshmem and rma_toolkit print the same ==="
  launch 4 "$PY" "$DIR/readme_test.py" | sort >"$DIR/readme.pshmem"
  PYTHONPATH=$DIR/shim launch 4 "$PY" "$DIR/readme_test.py" | sort >"$DIR/readme.ours"
  diff "$DIR/readme.pshmem" "$DIR/readme.ours"
  echo "same output ($(wc -l <"$DIR/readme.ours") lines)"
}

case $ACTION in
  setup) setup ;;
  test) run_tests ;;
  pshmem) pshmem_tests ;;
  run) PATH=$VENV/bin:$PATH "$@" ;;
  *) echo "python.sh: unknown action $ACTION" >&2; exit 2 ;;
esac
