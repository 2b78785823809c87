# Build, test and demo the toolkit on both MPI implementations.
#
#   make test   every test (unit tests and 4/5-rank MPI tests) on Open MPI and
#               MPICH, plus fmt, clippy and doc checks, then the MPI tests
#               across test hosts (make test-multinode; skipped without root)
#   make demo   the main examples under mpirun
#
# Debian installs both implementations side by side and switches the plain
# `mpicc`/`mpirun` names between them, so each build names its implementation
# explicitly and keeps its own target directory (rsmpi's mpi-sys does not
# rebuild by itself when the MPI library changes).

SHELL := /bin/bash
# Open MPI 4.1's default one-sided component (osc/rdma over btl/vader) crashes
# the target of a 64-bit MPI_Compare_and_swap; osc/sm is correct (and faster)
# on one node. See docs/architecture.md, "Open MPI notes".
OMPI_OSC := OMPI_MCA_osc=sm,pt2pt
OPENMPI := MPICC=mpicc.openmpi CARGO_TARGET_DIR=target/openmpi MPIRUN="mpirun.openmpi --oversubscribe" \
           OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 $(OMPI_OSC)
MPICH   := MPICC=mpicc.mpich CARGO_TARGET_DIR=target/mpich MPIRUN="mpiexec.mpich"
RUN_OPENMPI := OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 $(OMPI_OSC) mpirun.openmpi --oversubscribe

.PHONY: deps test test-openmpi test-mpich test-large lint demo build clean

deps:
	@scripts/install-deps.sh

test: deps lint test-openmpi test-mpich test-multinode
	@echo "make test: all tests passed on Open MPI and MPICH (and across test hosts, unless skipped above)"

test-openmpi: deps
	@echo "=== tests on Open MPI ==="
	$(OPENMPI) cargo test --workspace --all-targets
	$(OPENMPI) cargo test --workspace --doc

test-mpich: deps
	@echo "=== tests on MPICH ==="
	$(MPICH) cargo test --workspace --all-targets
	$(MPICH) cargo test --workspace --doc

# The tests too slow for every run (a 2 GiB shared array, 10,000 arrays
# alive on 4 ranks), on both implementations.
test-large: deps
	$(OPENMPI) cargo test --release --workspace --all-targets -- --ignored
	$(MPICH) cargo test --release --workspace --all-targets -- --ignored

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

# Benchmarks (not part of `make test`; see docs/benchmarks.md).
#
#   make bench        builds rma-bench in release mode and runs every suite at 2
#                     and 4 ranks, plus MpiLock's remote-operation count at 8 and
#                     16 ranks (oversubscribed: it counts operations, not time),
#                     then writes target/bench/results.{csv,md} and PNG plots
#   make bench-peers  pshmem and mpi4py at 4 ranks in a virtualenv under
#                     target/bench, appended to the same CSV, then the report
#
# Rows of an earlier `make bench` are dropped; peer rows are kept, so the
# two targets can be run in either order.
BENCH_DIR := target/bench
BENCH_CSV := $(BENCH_DIR)/results.csv
BENCH_TARGET ?= target/openmpi
BENCH_BIN := $(BENCH_TARGET)/release/rma-bench

.PHONY: bench bench-peers bench-font

bench-font:
	@f=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf; \
	if [ ! -f $$f ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "bench: installing fonts-dejavu-core for the plot labels"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-dejavu-core >/dev/null; fi; \
	[ -f $$f ] || echo "bench: no $$f (apt-get install fonts-dejavu-core, or set RMA_BENCH_FONT): no plots"

bench: deps bench-font
	$(OPENMPI) CARGO_TARGET_DIR=$(BENCH_TARGET) cargo build --release --bin rma-bench
	@mkdir -p $(BENCH_DIR)
	@if [ -f $(BENCH_CSV) ]; then \
	  grep -E '^suite,|^[^,]*,[^,]*,(pshmem|mpi4py),' $(BENCH_CSV) > $(BENCH_CSV).keep || true; \
	  mv $(BENCH_CSV).keep $(BENCH_CSV); fi
	$(RUN_OPENMPI) -np 2 $(BENCH_BIN) --suite all --out $(BENCH_CSV)
	$(RUN_OPENMPI) -np 4 $(BENCH_BIN) --suite all --out $(BENCH_CSV)
	$(RUN_OPENMPI) -np 8 $(BENCH_BIN) --suite mpi-lock --op remote-ops-per-acquire --out $(BENCH_CSV)
	$(RUN_OPENMPI) -np 16 $(BENCH_BIN) --suite mpi-lock --op remote-ops-per-acquire --out $(BENCH_CSV)
	$(BENCH_BIN) report $(BENCH_CSV)

bench-peers: deps
	MPICC=mpicc.openmpi MPIRUN="mpirun.openmpi --oversubscribe" BENCH_CSV=$(BENCH_CSV) bench/peers.sh
	@if [ -x $(BENCH_BIN) ]; then $(BENCH_BIN) report $(BENCH_CSV); \
	else echo "bench-peers: run 'make bench' for our rows and the report"; fi

# Soak and scale (tests/soak.rs). `make test` runs the short versions; these
# targets run the full counts (RMA_SOAK=long) in release mode: 10^5 MpiLock
# acquisitions on an exact counter, 10^6 dsm-kv modifies with nothing lost,
# 10,000 MpiShared arrays created and closed on one topology, and more
# topologies, locks and memories created and freed than the library has
# communicators, each with a leak check (resident memory, descriptors,
# mappings). Rank 0's `soak:` lines give the counts, times and memory.
#
#   make soak         Open MPI, 4 ranks (18 s of tests on 2 quiet cores, 3.5
#                     minutes on 2 busy ones)
#   make soak-mpich   MPICH, 4 ranks: far slower when oversubscribed, since
#                     MPICH busy-polls (well over an hour on 2 busy cores;
#                     the 10^6 modifies alone took 40 minutes)
SOAK_ENV := RMA_SOAK=long RMA_MPI_TIMEOUT=7200

.PHONY: soak soak-mpich

soak: deps
	@echo "=== soak (RMA_SOAK=long) on Open MPI ==="
	time $(OPENMPI) $(SOAK_ENV) cargo test --release --test soak -- --test-threads=1

soak-mpich: deps
	@echo "=== soak (RMA_SOAK=long) on MPICH ==="
	time $(MPICH) $(SOAK_ENV) cargo test --release --test soak -- --test-threads=1

# After a job was killed whole (launcher included), MPI's shared-memory files
# can stay in /dev/shm; this removes those no running process uses. See
# docs/reliability.md, "Faults". `make clean-shm ARGS=--dry-run` only lists.
.PHONY: clean-shm
clean-shm:
	scripts/clean-shm.sh $(ARGS)

# The multi-node test bed (docs/multinode.md): three test hosts as Linux
# network, UTS and IPC namespaces joined by a bridge; Open MPI starts the ranks
# in them through scripts/multinode/agent.sh instead of ssh, and the MPI tests
# of MpiShared, MpiLock and dsm-kv run across them over TCP. Needs root:
# without it, says SKIPPED and passes (RMA_MULTINODE_REQUIRED=1 makes that a
# failure). The Open MPI settings are at the top of scripts/multinode/run.sh;
# `scripts/multinode/run.sh launcher rma-h1:2,rma-h2:2` prints the launcher
# line for runs by hand.
.PHONY: test-multinode

test-multinode: deps
	@echo "=== tests across test hosts (namespaces) on Open MPI ==="
	$(OPENMPI) scripts/multinode/run.sh
