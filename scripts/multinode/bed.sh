#!/usr/bin/env bash
# The multi-node test bed: test hosts as Linux namespaces on one machine.
#
#   bed.sh check        exit 0 if the bed can be built here, else print why, exit 1
#   bed.sh up [N]       build a hub and N hosts (default 2; tears down leftovers first)
#   bed.sh down         remove everything `up` made (safe to run any time)
#   bed.sh status       show the hosts, their addresses and processes
#
# Layout (see docs/multinode.md):
#   rma-hub   network, UTS and IPC namespaces, hostname rma-hub, bridge br0 10.77.0.254/24;
#             the MPI launcher runs here
#   rma-hN    network, UTS and IPC namespaces, hostname rma-hN, eth0 10.77.0.N/24, joined
#             to br0 by a veth pair (hub end: vhN)
# Names resolve through /etc/netns/<ns>/hosts, which `ip netns exec` mounts over
# /etc/hosts inside the namespace; the machine's own /etc/hosts is never touched.
# The root network namespace is not touched either: everything lives in the
# hub, so deleting the namespaces removes every link and address.
set -euo pipefail

PREFIX=rma
SUBNET=10.77.0
STATE=/run/rma-multinode        # UTS and IPC namespace files (bind mounts), the host count
NETNS_ETC=/etc/netns

ns_names() {
  # Every namespace of ours that exists, hub last (hosts hang off it).
  local n
  for n in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    [[ $n == "$PREFIX"-h[0-9]* ]] && echo "$n"
  done
  ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$PREFIX-hub" && echo "$PREFIX-hub"
  return 0
}

check() {
  if [ "$(id -u)" != 0 ]; then
    echo "not running as root (uid $(id -u))"
    return 1
  fi
  local tool
  for tool in ip unshare nsenter mount umount; do
    command -v "$tool" >/dev/null 2>&1 || { echo "'$tool' is not installed"; return 1; }
  done
  # Root in an unprivileged container may still lack CAP_SYS_ADMIN/CAP_NET_ADMIN:
  # try the real operations on a throwaway namespace.
  local probe=$PREFIX-probe$$ err
  if ! err=$(ip netns add "$probe" 2>&1); then
    echo "cannot create a network namespace: $err"
    return 1
  fi
  if ! err=$(ip -n "$probe" link add "${probe}a" type veth peer name "${probe}b" 2>&1); then
    ip netns del "$probe" 2>/dev/null || true
    echo "cannot create a veth pair: $err"
    return 1
  fi
  ip netns del "$probe"
  if ! err=$(unshare --uts true 2>&1); then
    echo "cannot create a UTS namespace: $err"
    return 1
  fi
  return 0
}

hosts_file() {
  local n=$1 i
  echo "127.0.0.1 localhost"
  echo "$SUBNET.254 $PREFIX-hub"
  for ((i = 1; i <= n; i++)); do
    echo "$SUBNET.$i $PREFIX-h$i"
  done
}

# Persistent UTS and IPC namespaces for host $2 (hostname $2), kept alive by
# bind mounts at $1-uts and $1-ipc. A host of its own IPC namespace keeps
# System V shared memory, and UCX's shared-memory transports (which check the
# IPC namespace), from reaching across hosts.
make_host_ns() {
  local base=$1 name=$2
  : >"$base-uts"
  : >"$base-ipc"
  unshare --uts="$base-uts" --ipc="$base-ipc" hostname "$name"
}

up() {
  local n=${1:-2}
  if ! [[ $n =~ ^[0-9]+$ ]] || ((n < 2 || n > 8)); then
    echo "bed.sh up: the number of hosts must be 2..8, not '$n'" >&2
    exit 2
  fi
  down >/dev/null
  mkdir -p "$STATE"
  # A private mount at the state directory: UTS namespace files cannot be
  # bind-mounted under a shared mount (the same trick as /run/netns).
  mount --bind "$STATE" "$STATE"
  mount --make-private "$STATE"
  echo "$n" >"$STATE/hosts"

  local hub=$PREFIX-hub i host
  ip netns add "$hub"
  ip -n "$hub" link set lo up
  ip -n "$hub" link add br0 type bridge
  ip -n "$hub" addr add "$SUBNET.254/24" dev br0
  ip -n "$hub" link set br0 up
  make_host_ns "$STATE/hub" "$hub"
  mkdir -p "$NETNS_ETC/$hub"
  hosts_file "$n" >"$NETNS_ETC/$hub/hosts"

  for ((i = 1; i <= n; i++)); do
    host=$PREFIX-h$i
    ip netns add "$host"
    ip -n "$host" link set lo up
    ip -n "$hub" link add "vh$i" type veth peer name eth0 netns "$host"
    ip -n "$hub" link set "vh$i" master br0 up
    ip -n "$host" addr add "$SUBNET.$i/24" dev eth0
    ip -n "$host" link set eth0 up
    make_host_ns "$STATE/h$i" "$host"
    mkdir -p "$NETNS_ETC/$host"
    hosts_file "$n" >"$NETNS_ETC/$host/hosts"
  done

  # The bridge needs a moment to forward; wait until every host answers. No
  # ping needed: a TCP connect to a closed port is refused only by a host
  # that is reachable.
  for ((i = 1; i <= n; i++)); do
    local tries=0
    until [[ $(ip netns exec "$hub" timeout 1 bash -c "exec 3<>/dev/tcp/$SUBNET.$i/9" 2>&1) == *refused* ]]; do
      if ((++tries > 20)); then
        echo "bed.sh: host $PREFIX-h$i ($SUBNET.$i) does not answer from the hub" >&2
        exit 1
      fi
      sleep 0.2
    done
  done
  echo "bed.sh: up: $PREFIX-hub ($SUBNET.254) and $n hosts $(seq -f "$PREFIX-h%g" -s ' ' 1 "$n")"
}

kill_in() {
  # Processes still inside namespace $1 (ranks or daemons of a failed job).
  local ns=$1 pids sig
  for sig in TERM KILL; do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -z "$pids" ] && return 0
    # shellcheck disable=SC2086
    kill -s "$sig" $pids 2>/dev/null || true
    [ "$sig" = TERM ] && sleep 1
  done
}

down() {
  local ns f
  for ns in $(ns_names); do
    kill_in "$ns"
  done
  for ns in $(ns_names); do
    ip netns del "$ns" 2>/dev/null || echo "bed.sh: could not delete namespace $ns" >&2
    rm -rf "${NETNS_ETC:?}/$ns"
  done
  rmdir "$NETNS_ETC" 2>/dev/null || true
  if [ -d "$STATE" ]; then
    # The namespace files are mounts under the state directory's own mount.
    while mountpoint -q "$STATE"; do umount --recursive "$STATE" || break; done
    for f in "$STATE"/*; do
      [ -e "$f" ] || continue
      umount "$f" 2>/dev/null || true
      rm -f "$f"
    done
    rmdir "$STATE" 2>/dev/null || echo "bed.sh: could not remove $STATE" >&2
  fi
  echo "bed.sh: down"
}

status() {
  local ns
  if [ -z "$(ns_names)" ]; then
    echo "bed.sh: no test bed"
    return 0
  fi
  for ns in $(ns_names); do
    printf '%-8s %s  processes: %s\n' "$ns" \
      "$(ip -n "$ns" -4 -o addr show | awk '$2 != "lo" {print $2, $4}' | tr '\n' ' ')" \
      "$(ip netns pids "$ns" | tr '\n' ' ')"
  done
}

case "${1:-}" in
  check)
    if reason=$(check); then exit 0; else echo "$reason"; exit 1; fi ;;
  up) up "${2:-2}" ;;
  down) down ;;
  status) status ;;
  *)
    echo "usage: bed.sh check | up [HOSTS] | down | status" >&2
    exit 2 ;;
esac
