#!/usr/bin/env bash
# Removes the shared-memory files and session directories that MPI jobs leave
# behind when the whole job, launcher included, is killed with SIGKILL (the
# OOM killer, `kill -9` of a process group, a node agent). A rank killed
# alone leaves nothing: the launcher cleans up after it.
#
# Only files that no running process maps or holds open are removed, and by
# default only files older than --min-age seconds, so running this while
# other jobs start is safe. See docs/reliability.md, "Faults".
#
# usage: scripts/clean-shm.sh [--dry-run] [--min-age SECONDS] [--shm-dir DIR]
#                             [--tmpdir DIR] [NAME...]
#
#   NAME...        file names (or globs) in the shm directory to consider, or
#                  paths (with a /) of other files; default: every shm and
#                  /tmp name of scripts/mpi-leftovers.txt, the table of what
#                  each MPI implementation leaves
#   --dry-run      print what would be removed, remove nothing
#   --min-age S    skip files modified less than S seconds ago (default 60)
#   --shm-dir DIR  default /dev/shm
#   --tmpdir DIR   where session directories live (default $TMPDIR or /tmp);
#                  those of launchers no longer running are removed, and so
#                  are the table's files in /tmp that nobody uses
set -euo pipefail

usage() {
  sed -n '/^# usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit "${1:-2}"
}

dry_run=0
min_age=60
shm_dir=/dev/shm
tmp_dir=${TMPDIR:-/tmp}
names=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --dry-run) dry_run=1 ;;
    --min-age)
      [[ ${2-} =~ ^[0-9]+$ ]] || { echo "clean-shm: --min-age needs whole seconds" >&2; usage; }
      min_age=$2; shift ;;
    --shm-dir) [[ -n ${2-} ]] || usage; shm_dir=$2; shift ;;
    --tmpdir) [[ -n ${2-} ]] || usage; tmp_dir=$2; shift ;;
    -h|--help) usage 0 ;;
    -*) echo "clean-shm: unknown option $1" >&2; usage ;;
    *) names+=("$1") ;;
  esac
  shift
done
[[ -d $shm_dir ]] || { echo "clean-shm: no directory $shm_dir" >&2; exit 2; }
# The table: "mpi place name when note...", comments and blank lines aside.
table=$(dirname "$0")/mpi-leftovers.txt
entries() { # entries PLACE: the names of PLACE, once each
  awk -v place="$1" '!/^#/ && NF >= 4 && $2 == place { print $3 }' "$table" | sort -u
}
explicit=${#names[@]}
if [[ $explicit -eq 0 ]]; then
  mapfile -t names < <(entries shm)
fi
# Every file under the shm directory or /tmp that a running process maps or
# has open. Reading other users' /proc entries needs privileges; files of
# other users are skipped below anyway.
in_use=$(
  { grep -hoE "/[^ ]*( \(deleted\))?$" /proc/[0-9]*/maps 2>/dev/null || true
    find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 -type l -printf '%l\n' 2>/dev/null || true
  } | sed 's/ (deleted)$//' | sort -u
)

now=$(date +%s)
removed=0
shopt -s nullglob
# remove PATH: a file nobody uses, old enough, of this user.
remove() {
  local path=$1 mtime
  [[ -f $path && -O $path ]] || return 0
  mtime=$(stat -c %Y "$path" 2>/dev/null) || return 0
  (( now - mtime >= min_age )) || return 0
  grep -qxF "$path" <<<"$in_use" && return 0
  if (( dry_run )); then
    echo "would remove $path"
  else
    rm -f -- "$path" && echo "removed $path"
  fi
  removed=$((removed + 1))
}

for pattern in "${names[@]}"; do
  if [[ $pattern == */* ]]; then
    remove "$pattern"
    continue
  fi
  for path in "$shm_dir"/$pattern; do
    remove "$path"
  done
done

if [[ $explicit -eq 0 ]]; then
  # Files some launchers leave in /tmp whatever $TMPDIR says.
  while read -r pattern; do
    for path in /tmp/$pattern; do
      remove "$path"
    done
  done < <(entries tmp)
fi
# Session directories named after their launcher's process id: removed
# once that process is gone. The name becomes a regular expression in which
# <pid> is a whole run of digits.
while read -r pattern; do
  glob=${pattern//<pid>/*}
  regex=$(sed -e 's/[.]/\\./g' -e 's/[*]/[^\/]*/g' -e 's/<pid>/([0-9]+)/' <<<"$pattern")
  for dir in "$tmp_dir"/$glob; do
    [[ -d $dir && -O $dir ]] || continue
    [[ ${dir#"$tmp_dir"/} =~ ^$regex$ ]] || continue
    pid=${BASH_REMATCH[1]}
    [[ -e /proc/$pid ]] && continue
    if (( dry_run )); then
      echo "would remove $dir"
    else
      rm -rf -- "$dir" && echo "removed $dir"
    fi
    removed=$((removed + 1))
  done
done < <(entries tmpdir)
what=removed
(( dry_run )) && what="to remove (dry run)"
echo "clean-shm: $removed stale file(s) or session directories $what"
