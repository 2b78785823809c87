#!/usr/bin/env bash
# Builds and runs a program of a user's own, outside the workspace, that
# depends on the three library crates exactly as the README's "Use it in
# your own project" says, on the MPI of the environment (run it through
# scripts/mpi.sh). Its target directory is target/scratch-$RMA_MPI_NAME.
set -euo pipefail
: "${RMA_MPI_NAME:?run me through scripts/mpi.sh run NAME}"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/rma-user-XXXXXX")
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/src"
# The README's Cargo.toml lines, with the checkout's path.
cat >"$dir/Cargo.toml" <<TOML
[package]
name = "my-hpc-code"
version = "0.1.0"
edition = "2021"

[dependencies]
mpi = { version = "0.8", default-features = false }
ndarray = "0.17"
shm-core = { path = "$ROOT/crates/shm-core" }
mpi-lock = { path = "$ROOT/crates/mpi-lock" }
dsm-kv = { path = "$ROOT/crates/dsm-kv" }
TOML
cat >"$dir/src/main.rs" <<'RUST'
use mpi::traits::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    shm_core::check_mpi_library()?;
    let universe = mpi::initialize().expect("MPI initialises once");
    let world = universe.world();
    let mut shm = shm_core::MpiShared::<f64>::new(&[2, 3], &world)?;
    let data = (world.rank() == 0).then(|| ndarray::array![[1.0, 2.0, 3.0]]);
    shm.set(data.as_ref(), &[1, 0], 0)?;
    let lock = mpi_lock::MpiLock::new(&world)?;
    drop(lock.lock()?);
    lock.close()?;
    let memory = dsm_kv::init_memory(&world, 4)?;
    memory.quit()?;
    assert_eq!(shm.view()[[1, 2]], 3.0);
    shm.close()?;
    if world.rank() == 0 {
        println!("my-hpc-code: ok on {} ranks", world.size());
    }
    Ok(())
}
RUST
# The workspace's lock file: the same versions it is tested with.
cp "$ROOT/Cargo.lock" "$dir/Cargo.lock"
export CARGO_TARGET_DIR="$ROOT/target/scratch-$RMA_MPI_NAME"
(cd "$dir" && cargo build --quiet)
read -r -a launcher <<<"$MPIRUN"
"${launcher[@]}" -np 2 "$CARGO_TARGET_DIR/debug/my-hpc-code"
