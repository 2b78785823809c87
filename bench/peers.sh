#!/usr/bin/env bash
# make bench-peers: pshmem, mpi4py and our Python package (impl python)
# measured under the rma-bench rules at 4 ranks, appended to
# target/bench/results.csv (impl pshmem / mpi4py / python).
#
# Everything Python lives in a virtualenv under target/bench/venv; nothing is
# installed globally. mpi4py is built from source against Open MPI (MPICC), so
# it must run under Open MPI's mpirun.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-target/bench}
CSV=${BENCH_CSV:-$BENCH_DIR/results.csv}
VENV=$BENCH_DIR/venv
NP=${BENCH_PEERS_NP:-4}
export MPICC=${MPICC:-mpicc.openmpi}
RUN=(${MPIRUN:-mpirun.openmpi --oversubscribe})
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

mkdir -p "$BENCH_DIR"
if [ ! -x "$VENV/bin/python" ]; then
  echo "bench-peers: creating $VENV"
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import mpi4py.util.sync, pshmem' 2>/dev/null; then
  echo "bench-peers: pip install mpi4py pshmem (mpi4py built with MPICC=$MPICC)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  # --no-binary: a wheel would bring its own MPI (or another one); we want the
  # system Open MPI that the Rust benchmarks use.
  "$VENV/bin/python" -m pip install --quiet --no-binary mpi4py "mpi4py>=4" pshmem
fi
"$VENV/bin/python" -c 'import mpi4py; print("bench-peers: mpi4py", mpi4py.__version__, mpi4py.get_config().get("mpicc", ""))'
# Our Python package (python/), built optimised against the same MPI, so
# that its rows sit next to pshmem's in the same run.
if [ -z "${BENCH_PEERS_NO_PYTHON:-}" ]; then
  echo "bench-peers: building rma_toolkit (python/, release) into $VENV"
  "$VENV/bin/python" -m pip install --quiet "maturin>=1.7,<2"
  rm -rf "$BENCH_DIR/wheels"
  MPICC=$MPICC CARGO_TARGET_DIR=${BENCH_TARGET:-target/openmpi} "$VENV/bin/maturin" build --quiet \
    --release --auditwheel skip -m python/Cargo.toml -i "$VENV/bin/python" --out "$BENCH_DIR/wheels"
  "$VENV/bin/python" -m pip install --quiet --force-reinstall --no-deps "$BENCH_DIR"/wheels/*.whl
fi

echo "bench-peers: ${RUN[*]} -np $NP $VENV/bin/python bench/peers.py --out $CSV $*"
"${RUN[@]}" -np "$NP" "$VENV/bin/python" bench/peers.py --out "$CSV" "$@"

# pympipool's pool (issue 15, bench/peers_pool.py): a serial Python program
# that starts its own workers (workers = NP - 1, as ours at NP ranks). If
# pympipool does not install or start, say why and go on: no pympipool rows.
if ! "$VENV/bin/python" -c 'from pympipool import Executor' 2>/dev/null; then
  echo "bench-peers: pip install pympipool==0.9.1 executorlib==0.0.1 (0.9.1 is executorlib's Executor; later executorlib has none)"
  "$VENV/bin/python" -m pip install --quiet --no-binary mpi4py "pympipool==0.9.1" "executorlib==0.0.1" \
    || echo "bench-peers: pympipool did not install (above); no pympipool rows"
fi
POOL_ARGS=(--out "$CSV" --workers $((NP - 1)))
for arg in "$@"; do [ "$arg" = --quick ] && POOL_ARGS+=(--quick); done
echo "bench-peers: $VENV/bin/python bench/peers_pool.py ${POOL_ARGS[*]}"
"$VENV/bin/python" bench/peers_pool.py "${POOL_ARGS[@]}" \
  || echo "bench-peers: pympipool's pool did not run (above); no pympipool rows"
