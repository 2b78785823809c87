# Build, test and demo the toolkit on both MPI implementations.
#
#   make test   every test (unit tests and 4/5-rank MPI tests) on Open MPI and
#               MPICH, plus fmt, clippy and doc checks
#   make demo   the main examples under mpirun
#
# Debian installs both implementations side by side and switches the plain
# `mpicc`/`mpirun` names between them, so each build names its implementation
# explicitly and keeps its own target directory (rsmpi's mpi-sys does not
# rebuild by itself when the MPI library changes).

SHELL := /bin/bash
OPENMPI := MPICC=mpicc.openmpi CARGO_TARGET_DIR=target/openmpi MPIRUN="mpirun.openmpi --oversubscribe" \
           OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPICH   := MPICC=mpicc.mpich CARGO_TARGET_DIR=target/mpich MPIRUN="mpiexec.mpich"
RUN_OPENMPI := OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun.openmpi --oversubscribe

.PHONY: deps test test-openmpi test-mpich test-large lint demo build clean

deps:
	@scripts/install-deps.sh

test: deps lint test-openmpi test-mpich
	@echo "make test: all tests passed on Open MPI and MPICH"

test-openmpi: deps
	@echo "=== tests on Open MPI ==="
	$(OPENMPI) cargo test --workspace --all-targets
	$(OPENMPI) cargo test --workspace --doc

test-mpich: deps
	@echo "=== tests on MPICH ==="
	$(MPICH) cargo test --workspace --all-targets
	$(MPICH) cargo test --workspace --doc

# The tests too slow for every run (a 2 GiB shared array, long soaks).
test-large: deps
	$(OPENMPI) cargo test --release --workspace --all-targets -- --ignored

lint: deps
	$(OPENMPI) cargo fmt --all -- --check
	$(OPENMPI) cargo clippy --workspace --all-targets -- -D warnings
	$(OPENMPI) RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

build: deps
	$(OPENMPI) cargo build --release --workspace --all-targets

demo: deps build
	@echo "=== MpiShared (pshmem's README example), 4 ranks ==="
	$(RUN_OPENMPI) -np 4 target/openmpi/release/examples/shared_array
	@if [ -f examples/lock_serialize.rs ]; then \
	  echo "=== MpiLock: a section serialized across 4 ranks ==="; \
	  $(RUN_OPENMPI) -np 4 target/openmpi/release/examples/lock_serialize; fi
	@if [ -f src/bin/dsm-demo.rs ]; then \
	  echo "=== dsm-kv demo, 5 ranks ==="; \
	  $(RUN_OPENMPI) -np 5 target/openmpi/release/dsm-demo --size 20 --verbose; fi

clean:
	cargo clean --target-dir target/openmpi
	cargo clean --target-dir target/mpich
