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
#   NAME...        file names (or globs) in the shm directory to consider;
#                  default: the names Open MPI 4 and MPICH 4 use
#   --dry-run      print what would be removed, remove nothing
#   --min-age S    skip files modified less than S seconds ago (default 60)
#   --shm-dir DIR  default /dev/shm
#   --tmpdir DIR   where Open MPI session directories live (default $TMPDIR
#                  or /tmp); those of launchers no longer running are removed
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
if [[ ${#names[@]} -eq 0 ]]; then
  # Open MPI 4: btl/vader, osc/sm, osc/rdma, shmem/posix; MPICH 4 and UCX.
  # Their live files are mapped by the job's processes; MPICH and osc/sm
  # unlink theirs as soon as every process has attached.
  names=('vader_segment.*' 'osc_sm.*' 'osc_rdma.*' 'sm_segment.*'
         'open_mpi.*' 'mpich_shar_tmp*' 'ucx_shm_posix_*')
fi

# Every file under the shm directory that a running process maps or has
# open. Reading other users' /proc entries needs privileges; files of other
# users are skipped below anyway.
in_use=$(
  { grep -hoE "$shm_dir/[^ ]*( \(deleted\))?$" /proc/[0-9]*/maps 2>/dev/null || true
    find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 -type l -printf '%l\n' 2>/dev/null || true
  } | { grep -F "$shm_dir/" || true; } | sed 's/ (deleted)$//' | sort -u
)

now=$(date +%s)
removed=0
shopt -s nullglob
for pattern in "${names[@]}"; do
  for path in "$shm_dir"/$pattern; do
    [[ -f $path && -O $path ]] || continue
    mtime=$(stat -c %Y "$path" 2>/dev/null) || continue
    (( now - mtime >= min_age )) || continue
    grep -qxF "$path" <<<"$in_use" && continue
    if (( dry_run )); then
      echo "would remove $path"
    else
      rm -f -- "$path" && echo "removed $path"
    fi
    removed=$((removed + 1))
  done
done

# Open MPI session directories: <tmpdir>/ompi.<host>.<uid>/pid.<launcher pid>.
for dir in "$tmp_dir"/ompi.*/pid.*; do
  pid=${dir##*/pid.}
  [[ $pid =~ ^[0-9]+$ && -O $dir ]] || continue
  [[ -e /proc/$pid ]] && continue
  if (( dry_run )); then
    echo "would remove $dir"
  else
    rm -rf -- "$dir" && echo "removed $dir"
  fi
  removed=$((removed + 1))
done
what=removed
(( dry_run )) && what="to remove (dry run)"
echo "clean-shm: $removed stale file(s) or session directories $what"
