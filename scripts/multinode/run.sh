#!/usr/bin/env bash
# make test-multinode: the MPI tests across three test hosts on one machine,
# for one MPI build. Run it through scripts/mpi.sh, which names the build:
#
#   scripts/mpi.sh run NAME scripts/multinode/run.sh
#                       build, bring the bed up, run, tear down
#   scripts/mpi.sh run NAME scripts/multinode/run.sh launcher HOSTS
#                       print the launcher line for a host list (e.g.
#                       rma-h1:2,rma-h2:2), for runs by hand
#
# NAME is openmpi (Debian's 4.1: the default when run without mpi.sh),
# openmpi5 or mpich5 (docs/multinode.md says why not mpich or impi).
# Environment: RMA_MULTINODE_SUITES (default "multinode shared_array lock
# kv kv_model kv_races", the sync toolkit's sync_* suites and pool), RMA_MULTINODE_REQUIRED=1 (a
# skip is a failure).
#
# Needs root (network, UTS and IPC namespaces); without it, says SKIPPED and
# exits 0. The bed is torn down on every exit, failure and Ctrl-C included.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BED=$HERE/bed.sh
HOSTS=3
SUBNET=10.77.0.0/24

MPI=${RMA_MPI_NAME:-openmpi}
# The launcher of the build: the first word of $MPIRUN (scripts/mpi.sh).
LAUNCHER=${MPIRUN:-mpirun.openmpi}
LAUNCHER=${LAUNCHER%% *}

# Open MPI 4.1 settings for the bed (docs/multinode.md explains each one):
#   plm_rsh_agent     start the daemons through agent.sh (enters a host's
#                     namespaces) instead of ssh
#   pml ob1, btl      point-to-point through Open MPI's own transports:
#                     shared memory (vader) within a host, TCP between hosts
#   *_tcp_if_include  only the bed's subnet, never the machine's other links
#   osc sm,pt2pt      one-sided: sm for windows within a host, pt2pt (over the
#                     btls, so over TCP) across hosts. osc/rdma cannot work
#                     over TCP; osc/ucx hangs in the dsm-kv tests.
#   mpi_yield_when_idle   every host shares this machine's cores: a rank that
#                     waits gives its core to the rank it waits for
#   mpi_preconnect_mpi    open all TCP connections in MPI_Init, before the
#                     tests' bursts of simultaneous first contacts
OMPI4_SETTINGS=(
  --mca plm_rsh_agent "$HERE/agent.sh"
  --mca pml ob1
  --mca btl self,vader,tcp
  --mca btl_tcp_if_include "$SUBNET"
  --mca oob_tcp_if_include "$SUBNET"
  --mca osc sm,pt2pt
  --mca mpi_yield_when_idle 1
  --mca mpi_preconnect_mpi 1
)
# Open MPI 5: its runtime (PRRTE) takes the agent and the out-of-band
# network as --prtemca settings; ob1 over btl/sm and btl/tcp as in 4.1; its
# osc/rdma runs over btl/tcp (5.0 has no osc/pt2pt) at any thread level.
OMPI5_SETTINGS=(
  --prtemca plm_ssh_agent "$HERE/agent.sh"
  --prtemca oob_tcp_if_include "$SUBNET"
  --bind-to none
  --mca pml ob1
  --mca btl self,sm,tcp
  --mca btl_tcp_if_include "$SUBNET"
  --mca mpi_yield_when_idle 1
)
# MPICH 5's Hydra starts its proxies through the agent; its UCX netmod
# carries the traffic between hosts over TCP on the hosts' eth0.
HYDRA_SETTINGS=(-launcher ssh -launcher-exec "$HERE/agent.sh")

# Suites an MPI cannot pass on the bed, with the reason (docs/multinode.md).
declare -A NOT_HERE=()
case $MPI in
  # osc/pt2pt refuses MPI_THREAD_MULTIPLE: the ranks ask for SERIALIZED.
  openmpi) THREADING=serialized ;;
  openmpi5)
    THREADING=multiple
    NOT_HERE[kv]="Open MPI 5.0's osc/rdma over btl/tcp (active-message atomics) gives dsm-kv wrong state words across hosts"
    NOT_HERE[kv_model]=${NOT_HERE[kv]}
    NOT_HERE[kv_races]=${NOT_HERE[kv]}
    ;;
  mpich5) THREADING=multiple ;;
  *)
    echo "test-multinode: $MPI does not run on the bed (docs/multinode.md says why)" >&2
    exit 2
    ;;
esac

# The launcher line (for $MPIRUN) that runs ranks on the hosts of $1. The
# launcher itself runs in the hub, which holds no ranks.
launcher() {
  case $MPI in
    openmpi) echo "$HERE/enter.sh rma-hub $LAUNCHER ${OMPI4_SETTINGS[*]} --host $1" ;;
    openmpi5) echo "$HERE/enter.sh rma-hub $LAUNCHER ${OMPI5_SETTINGS[*]} --host $1" ;;
    mpich5) echo "$HERE/enter.sh rma-hub $LAUNCHER ${HYDRA_SETTINGS[*]} -hosts $1" ;;
  esac
}

if [ "${1:-}" = launcher ]; then
  [ $# -eq 2 ] || { echo "usage: run.sh launcher HOST:SLOTS,HOST:SLOTS,..." >&2; exit 2; }
  launcher "$2"
  exit 0
elif [ $# -gt 0 ]; then
  echo "usage: run.sh [launcher HOST:SLOTS,...]" >&2
  exit 2
fi

skip() {
  echo "test-multinode: SKIPPED: needs root and network namespaces ($1)"
  if [ "${RMA_MULTINODE_REQUIRED:-0}" = 1 ]; then
    echo "test-multinode: FAILED: RMA_MULTINODE_REQUIRED=1 and the bed cannot run" >&2
    exit 1
  fi
  exit 0
}

# Fresh Debian images lack iproute2 (util-linux, with unshare and nsenter, is
# always there).
if ! command -v ip >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test-multinode: installing iproute2"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iproute2 >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iproute2 >/dev/null; } ||
    true
fi
if ! reason=$("$BED" check); then
  skip "$reason"
fi
command -v "$LAUNCHER" >/dev/null 2>&1 || skip "$LAUNCHER is not installed"

export MPICC=${MPICC:-mpicc.openmpi}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/openmpi}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export RMA_MPI_THREADING=$THREADING
export RMA_MPI_TIMEOUT=${RMA_MPI_TIMEOUT:-120}
# The command line decides the one-sided component, not a caller's environment.
unset OMPI_MCA_osc
SYNC_SUITES="sync_counter sync_semaphore sync_sequential sync_condition sync_rwlock sync_mutex"
read -r -a suites <<<"${RMA_MULTINODE_SUITES:-multinode shared_array lock kv kv_model kv_races $SYNC_SUITES pool}"
cd "$ROOT"

started=$SECONDS
test_args=()
for s in "${suites[@]}"; do test_args+=(--test "$s"); done
echo "=== test-multinode: $MPI: building (${CARGO_TARGET_DIR}) ==="
cargo test --no-run "${test_args[@]}"

# The tests run in a session of their own, in the background: `wait` returns
# at once on Ctrl-C (a foreground command would delay the trap until it
# ends), and the trap ends them by their process group.
tests_pid=
run_tests() {
  setsid cargo test "$@" &
  tests_pid=$!
  local status=0
  wait "$tests_pid" || status=$?
  tests_pid=
  return "$status"
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$tests_pid" ]; then
    echo "=== test-multinode: interrupted: ending the tests ==="
    kill -TERM -- "-$tests_pid" 2>/dev/null || true
  fi
  echo "=== test-multinode: tearing down the bed ==="
  "$BED" down || true
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$BED" up "$HOSTS"

# Host lists: two ranks per host. shared_array, lock and the sync suites
# run 4 ranks: two hosts. The kv suites run 4 and 5 ranks (5 spread as
# 2+2+1): three hosts, so that a memory has hosts that share a node with a
# rank and hosts that do not (on MPICH 5 a rank maps the former's data,
# tests/kv.rs checks which). The uneven layouts of MpiShared run after the
# suites.
two=rma-h1:2,rma-h2:2
three=rma-h1:2,rma-h2:2,rma-h3:2
failed=()
for s in "${suites[@]}"; do
  if [[ -n ${NOT_HERE[$s]:-} ]]; then
    echo "=== tests/$s.rs: not run on $MPI: ${NOT_HERE[$s]} ==="
    continue
  fi
  skips=()
  case "$s" in
    multinode) hosts=$three; export RMA_MULTINODE_HOSTS=3 ;;
    shared_array | lock | sync_*) hosts=$two; unset RMA_MULTINODE_HOSTS ;;
    kv | kv_*) hosts=$three; unset RMA_MULTINODE_HOSTS ;;
    *) hosts=$three; unset RMA_MULTINODE_HOSTS ;;
  esac
  MPIRUN=$(launcher "$hosts")
  export MPIRUN
  echo "=== test-multinode: tests/$s.rs on $hosts ==="
  echo "MPIRUN=\"$MPIRUN\" RMA_MPI_THREADING=$THREADING"
  t0=$SECONDS
  if run_tests --test "$s" -- "${skips[@]}"; then
    echo "=== tests/$s.rs: ok in $((SECONDS - t0)) s ==="
  else
    echo "=== tests/$s.rs: FAILED after $((SECONDS - t0)) s ==="
    failed+=("$s")
  fi
done

# MpiShared on hosts of different sizes: 3+2, 2+2+1 and 1+3 ranks.
unset RMA_MULTINODE_HOSTS
for layout in 3,2 2,2,1 1,3; do
  IFS=, read -r -a per_host <<<"$layout"
  hosts=
  for ((i = 0; i < ${#per_host[@]}; i++)); do
    hosts+="${hosts:+,}rma-h$((i + 1)):${per_host[i]}"
  done
  MPIRUN=$(launcher "$hosts")
  export MPIRUN RMA_MULTINODE_LAYOUT=$layout
  echo "=== test-multinode: uneven hosts $hosts ==="
  t0=$SECONDS
  if run_tests --test multinode uneven_hosts_every_source; then
    echo "=== uneven hosts $layout: ok in $((SECONDS - t0)) s ==="
  else
    echo "=== uneven hosts $layout: FAILED after $((SECONDS - t0)) s ==="
    failed+=("uneven:$layout")
  fi
done
unset RMA_MULTINODE_LAYOUT

# Evidence that the traffic between hosts went over TCP on the veths: every
# host's eth0 counters (they start at zero with the bed).
echo "=== test-multinode: traffic on the hosts' links ==="
quiet=()
for ((i = 1; i <= HOSTS; i++)); do
  stats=/sys/class/net/eth0/statistics
  rx=$("$HERE/enter.sh" "rma-h$i" cat "$stats/rx_bytes")
  tx=$("$HERE/enter.sh" "rma-h$i" cat "$stats/tx_bytes")
  printf 'rma-h%d eth0: received %d KiB, sent %d KiB\n' "$i" $((rx / 1024)) $((tx / 1024))
  ((rx > 0 && tx > 0)) || quiet+=("rma-h$i")
done

elapsed=$((SECONDS - started))
if [ ${#failed[@]} -gt 0 ]; then
  echo "test-multinode: $MPI: FAILED: ${failed[*]} (${elapsed} s)"
  exit 1
fi
if [ ${#quiet[@]} -gt 0 ]; then
  echo "test-multinode: FAILED: no traffic on ${quiet[*]}"
  exit 1
fi
echo "test-multinode: $MPI: all passed across $HOSTS hosts in ${elapsed} s"
