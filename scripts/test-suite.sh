#!/usr/bin/env bash
# Every test of the workspace on one MPI build: run by `make test-mpi` through
# scripts/mpi.sh, which sets MPICC, MPIRUN, the target directory and the
# build's own settings.
set -euo pipefail
: "${RMA_MPI_NAME:?run me through scripts/mpi.sh run NAME}"
started=$SECONDS
echo "=== tests on $RMA_MPI_NAME (MPICC=$MPICC, MPIRUN=$MPIRUN, CARGO_TARGET_DIR=$CARGO_TARGET_DIR) ==="
cargo test --workspace --all-targets
cargo test --workspace --doc
echo "=== tests on $RMA_MPI_NAME: passed in $((SECONDS - started)) s ==="
