#!/usr/bin/env bash
# agent.sh [OPTIONS] HOST COMMAND...
#
# The "remote shell" that MPI launchers use to start their daemons on the
# test bed, in place of ssh: Open MPI's `--mca plm_rsh_agent`, MPICH hydra's
# `-launcher rsh -launcher-exec`. Like ssh, it joins COMMAND into one line for
# a shell on HOST; unlike ssh, the daemon inherits this process's environment.
# Leading options (ssh's -x etc., added by some launchers) are ignored.
set -euo pipefail
while [ $# -gt 0 ] && [[ $1 == -* ]]; do shift; done
if [ $# -lt 2 ]; then
  echo "usage: agent.sh HOST COMMAND..." >&2
  exit 2
fi
host=$1
shift
exec "$(dirname "$(readlink -f "$0")")/enter.sh" "$host" /bin/sh -c "$*"
