#!/usr/bin/env bash
# enter.sh NAME COMMAND [ARGS...]
#
# Runs COMMAND on test host NAME of the bed (rma-hub, rma-h1, rma-h2, ...):
# inside its network, UTS (so `hostname` is NAME) and IPC namespaces, with
# NAME's /etc/hosts. Uses exec all the way, so COMMAND keeps this
# process's id: a signal to it (a test timeout) reaches COMMAND itself.
set -euo pipefail
STATE=/run/rma-multinode

if [ $# -lt 2 ]; then
  echo "usage: enter.sh HOST COMMAND [ARGS...]" >&2
  exit 2
fi
name=$1
shift
case "$name" in
  rma-hub | rma-h[0-9]*) ns=$STATE/${name#rma-} ;;
  *) echo "enter.sh: '$name' is not a host of the test bed (rma-hub, rma-h1, ...)" >&2; exit 2 ;;
esac
if [ ! -e "/run/netns/$name" ] || [ ! -e "$ns-uts" ]; then
  echo "enter.sh: no test host '$name': run 'scripts/multinode/bed.sh up' first" >&2
  exit 2
fi
# `ip netns exec` enters the network namespace and mounts /etc/netns/NAME/hosts
# over /etc/hosts (in a private mount namespace); nsenter adds the hostname
# and the host's own System V IPC.
exec nsenter --uts="$ns-uts" --ipc="$ns-ipc" -- ip netns exec "$name" "$@"
