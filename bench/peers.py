"""Peer measurements for rma-bench: pshmem and mpi4py under the same harness
rules and the same suite/op names, appended to the same CSV.

    mpirun -np 4 python bench/peers.py --out target/bench/results.csv [--quick]

Rules (as in crates/rma-bench/src/harness.rs): a warm-up, then many iterations
each timed on its own; median and 10th/90th percentiles (linear
interpolation). Collective operations start each iteration after a barrier and
take the slowest rank's time; rank-0 operations take rank 0's samples while
the other ranks idle; contended locks pool every rank's samples.

Rows:
  shm-core,set,pshmem             MPIShared.set from rank 0, 1 and 10^6 float64
  mpi-lock,lock-unlock-uncontended,pshmem / mpi4py
                                  MPILock / mpi4py.util.sync.Mutex, rank 0 only,
                                  waiting list on the last rank where the API
                                  takes a root (MPILock)
  mpi-lock,lock-unlock-contended,pshmem / mpi4py
                                  every rank locks and unlocks in a loop
  shm-core,set,python and mpi-lock,lock-unlock-*,python
                                  the same through our Python package
                                  (rma_toolkit.pshmem), when it is installed
  mpi-lock,counter-next,mpi4py    mpi4py.util.sync.Counter.next from rank 0 (one
  raw,fop-flush,mpi4py            MPI_Fetch_and_op + flush on the counter's root,
                                  the last rank)
  mpi-lock,semaphore-acquire-release,mpi4py
                                  Semaphore(1) acquire + release, rank 0 only
  mpi-lock,condition-notify,mpi4py
                                  Condition acquire + notify (nobody waits) +
                                  release, rank 0 only
  mpi-lock,sequential-round,mpi4py
                                  Sequential begin + end on every rank after a
                                  barrier, the slowest rank's time
"""

import argparse
import os
import sys
import time

import numpy as np
from mpi4py import MPI

HEADER = "suite,op,impl,ranks,size,median_us,p10_us,p90_us,throughput_mb_s,count"


def percentile(sorted_samples, q):
    pos = q * (len(sorted_samples) - 1)
    lo, hi = int(pos // 1), int(-(-pos // 1))
    return sorted_samples[lo] + (sorted_samples[hi] - sorted_samples[lo]) * (pos - lo)


class Harness:
    def __init__(self, comm, quick):
        self.comm = comm
        self.rank = comm.rank
        self.size = comm.size
        self.quick = quick
        self.rows = []
        self.step = 0
        self.steps = 0

    def plan(self, n=1, slow=False):
        if self.quick:
            return (1, 3) if n >= 1_000_000 else (2, 10)
        if slow:
            return (10, 200)
        return (3, 40) if n >= 1_000_000 else (100, 1000)

    def progress(self, op):
        self.step += 1
        if self.rank == 0:
            print(f"[peers {self.step}/{self.steps}] {op} ranks={self.size}", file=sys.stderr, flush=True)

    def measure(self, who, plan, f):
        """who: 'rank0', 'all' or 'all-barrier'. Returns this rank's samples (µs)."""
        warmup, iters = plan
        samples = [0.0] * iters
        self.comm.Barrier()
        if who == "rank0" and self.rank != 0:
            return samples
        for _ in range(warmup):
            if who == "all-barrier":
                self.comm.Barrier()
            f()
        for i in range(iters):
            if who == "all-barrier":
                self.comm.Barrier()
            t = time.perf_counter()
            f()
            samples[i] = (time.perf_counter() - t) * 1e6
        return samples

    def record(self, suite, op, impl, size, samples, reduce, nbytes=None):
        every = self.comm.gather(samples, root=0)
        if self.rank != 0:
            return
        if reduce == "rank0":
            dist = every[0]
        elif reduce == "max":
            dist = [max(col) for col in zip(*every)]
        else:
            dist = [s for rank_samples in every for s in rank_samples]
        dist = sorted(dist)
        med, p10, p90 = (percentile(dist, q) for q in (0.5, 0.1, 0.9))
        tp = "" if nbytes is None else f"{nbytes / med:.3f}"
        row = f"{suite},{op},{impl},{self.size},{'' if size is None else size},{med:.3f},{p10:.3f},{p90:.3f},{tp},"
        print(row, flush=True)
        self.rows.append(row)

    def write(self, path):
        if self.rank != 0 or path is None:
            return
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fresh = not os.path.exists(path) or os.path.getsize(path) == 0
        with open(path, "a") as out:
            if fresh:
                out.write(HEADER + "\n")
            for row in self.rows:
                out.write(row + "\n")


def bench_pshmem(h, comm):
    from pshmem import MPILock, MPIShared

    bench_pshmem_api(h, comm, MPIShared, MPILock, "pshmem")


def bench_python(h, comm):
    """Our Python package through pshmem's API (rma_toolkit.pshmem)."""
    from rma_toolkit.pshmem import MPILock, MPIShared

    bench_pshmem_api(h, comm, MPIShared, MPILock, "python")


def bench_pshmem_api(h, comm, MPIShared, MPILock, impl):
    h.progress(f"set ({impl})")
    for n in (1, 1_000_000):
        shm = MPIShared((n,), np.float64, comm)
        data = np.arange(n, dtype=np.float64) if h.rank == 0 else None

        def op():
            shm.set(data, offset=(0,), fromrank=0)

        samples = h.measure("all-barrier", h.plan(n), op)
        assert shm[n - 1] == n - 1
        shm.close()
        h.record("shm-core", "set", impl, n, samples, "max", n * 8)

    h.progress(f"lock-unlock-uncontended ({impl})")
    lock = MPILock(comm, root=h.size - 1)

    def lock_unlock():
        lock.lock()
        lock.unlock()

    samples = h.measure("rank0", h.plan(), lock_unlock)
    h.record("mpi-lock", "lock-unlock-uncontended", impl, None, samples, "rank0")
    h.progress(f"lock-unlock-contended ({impl})")
    samples = h.measure("all", h.plan(slow=True), lock_unlock)
    h.record("mpi-lock", "lock-unlock-contended", impl, None, samples, "pool")
    comm.Barrier()
    lock.close()


def bench_mpi4py(h, comm):
    from mpi4py.util.sync import Condition, Counter, Mutex, Semaphore, Sequential

    mutex = Mutex(comm=comm)

    def acquire_release():
        mutex.acquire()
        mutex.release()

    h.progress("lock-unlock-uncontended (mpi4py Mutex)")
    samples = h.measure("rank0", h.plan(), acquire_release)
    h.record("mpi-lock", "lock-unlock-uncontended", "mpi4py", None, samples, "rank0")
    h.progress("lock-unlock-contended (mpi4py Mutex)")
    samples = h.measure("all", h.plan(slow=True), acquire_release)
    h.record("mpi-lock", "lock-unlock-contended", "mpi4py", None, samples, "pool")
    comm.Barrier()
    mutex.free()

    h.progress("counter-next (mpi4py Counter.next)")
    # One MPI_Fetch_and_op + flush on the counter's root, the last rank: also
    # the raw fop-flush row of mpi4py.
    counter = Counter(0, typecode="q", comm=comm, root=h.size - 1)
    samples = h.measure("rank0", h.plan(), counter.next)
    h.record("mpi-lock", "counter-next", "mpi4py", None, samples, "rank0")
    h.record("raw", "fop-flush", "mpi4py", 1, samples, "rank0", 8)
    comm.Barrier()
    counter.free()

    h.progress("semaphore-acquire-release (mpi4py Semaphore)")
    sem = Semaphore(1, comm=comm)

    def sem_acquire_release():
        sem.acquire()
        sem.release()

    samples = h.measure("rank0", h.plan(), sem_acquire_release)
    h.record("mpi-lock", "semaphore-acquire-release", "mpi4py", None, samples, "rank0")
    comm.Barrier()
    sem.free()

    h.progress("condition-notify (mpi4py Condition)")
    cv = Condition(comm=comm)

    def lock_notify_unlock():
        cv.acquire()
        cv.notify()
        cv.release()

    samples = h.measure("rank0", h.plan(), lock_notify_unlock)
    h.record("mpi-lock", "condition-notify", "mpi4py", None, samples, "rank0")
    comm.Barrier()
    cv.free()

    h.progress("sequential-round (mpi4py Sequential)")
    seq = Sequential(comm)

    def round_in_rank_order():
        seq.begin()
        seq.end()

    samples = h.measure("all-barrier", h.plan(slow=True), round_in_rank_order)
    h.record("mpi-lock", "sequential-round", "mpi4py", None, samples, "max")
    comm.Barrier()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="append CSV rows to this file")
    parser.add_argument("--quick", action="store_true", help="tiny iteration counts")
    parser.add_argument("--only", choices=["pshmem", "mpi4py", "python"], help="run one peer")
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    h = Harness(comm, args.quick)
    peers = [("pshmem", bench_pshmem, 3), ("mpi4py", bench_mpi4py, 6)]
    try:
        import rma_toolkit  # noqa: F401

        peers.append(("python", bench_python, 3))
    except ImportError as e:
        if h.rank == 0:
            print(f"peers: no rma_toolkit rows ({e})", file=sys.stderr, flush=True)
    peers = [p for p in peers if args.only in (None, p[0])]
    h.steps = sum(p[2] for p in peers)
    for _name, fn, _steps in peers:
        fn(h, comm)
    h.write(args.out)


if __name__ == "__main__":
    main()
