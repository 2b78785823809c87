"""pympipool's pool measured under the rules of rma-bench's suite `pool`,
appended to the same CSV (impl `pympipool`), so that `rma-bench report`
puts it next to ours.

    python bench/peers_pool.py --out target/bench/results.csv [--workers 3] [--quick]

A plain (serial) Python program, as pympipool is meant to be used: it starts
its own workers. pympipool 0.9.1, the last release under that name, is
`from executorlib import Executor`; executorlib dropped `Executor` in later
releases, so bench/peers.sh pins executorlib 0.0.1, the release pympipool
0.9.1 was made for. `Executor(max_workers=3, block_allocation=True)` keeps
3 worker processes for the executor's life (pympipool's `Pool`; without
`block_allocation` every task starts a process of its own). With one core
per worker, executorlib starts each worker as a plain `python` process
(`interactive_serial.py`, no `mpiexec`, no mpi4py) and talks to it over
ZeroMQ, one task per request; its `map` is `concurrent.futures.Executor.map`,
whose `chunksize` only `ProcessPoolExecutor` honours, so pympipool has no
chunk option and runs one task per round trip.

Rows (rma-bench's `pool` suite, `crates/rma-bench/src/suites/pool.rs`):
  pool,empty-task-throughput,pympipool  maps of 2,000 tasks that do nothing;
                                        a sample is a map's time over its
                                        tasks (µs per task); 2 + 20 maps
  pool,load-balance,pympipool           1,000 tasks that busy-wait for a
                                        random length (exponential, mean
                                        200 µs, the same lengths as ours:
                                        SipHash-1-3 of (15, index) with zero
                                        keys, Rust's DefaultHasher); the count
                                        is (total work / workers) / median
                                        map time; 2 + 20 maps
The `ranks` column is workers + 1 (the driver), as in ours.
"""

import argparse
import math
import os
import sys
import time

HEADER = "suite,op,impl,ranks,size,median_us,p10_us,p90_us,throughput_mb_s,count"

# The seed of the task lengths (`SEED` in the Rust suite).
SEED = 15
MASK = (1 << 64) - 1


def percentile(sorted_samples, q):
    """Linear interpolation, as crates/rma-bench/src/harness.rs."""
    pos = q * (len(sorted_samples) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_samples[lo] + (sorted_samples[hi] - sorted_samples[lo]) * (pos - lo)


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & MASK


def _sip_round(v0, v1, v2, v3):
    v0 = (v0 + v1) & MASK
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = (v2 + v3) & MASK
    v3 = _rotl(v3, 16) ^ v2
    v0 = (v0 + v3) & MASK
    v3 = _rotl(v3, 21) ^ v0
    v2 = (v2 + v1) & MASK
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash13(data):
    """SipHash-1-3 with keys (0, 0): Rust's `DefaultHasher::new()`."""
    v0, v1, v2, v3 = 0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573
    whole = len(data) - len(data) % 8
    for i in range(0, whole, 8):
        m = int.from_bytes(data[i : i + 8], "little")
        v3 ^= m
        v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
        v0 ^= m
    last = int.from_bytes(data[whole:], "little") | ((len(data) & 0xFF) << 56)
    v3 ^= last
    v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    v0 ^= last
    v2 ^= 0xFF
    for _ in range(3):
        v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def task_length(i, mean_us):
    """`task_length` of the Rust suite: µs of task `i`."""
    h = siphash13(SEED.to_bytes(8, "little") + i.to_bytes(8, "little"))
    u = ((h >> 11) + 1.0) / float(1 << 53)
    return math.floor(-math.log(u) * mean_us + 0.5)


# The Rust suite's unit test pins the same three lengths.
assert [task_length(i, 200.0) for i in range(3)] == [78, 7, 822], "task lengths differ from Rust's"


def empty(_arg):
    """Does nothing (argument and result None): the pool's own cost."""
    return None


def spin(micros):
    """Busy-waits `micros` µs of wall time, as the Rust suite's `spin`."""
    end = time.perf_counter() + micros * 1e-6
    while time.perf_counter() < end:
        pass


def sizes(quick):
    """(warmup, iters, empty tasks, balance tasks, balance mean µs), as the Rust suite."""
    return (1, 3, 64, 48, 50.0) if quick else (2, 20, 2_000, 1_000, 200.0)


def timed_maps(executor, fn, items, warmup, iters):
    """Each timed map's wall time in µs, after `warmup` untimed maps."""
    for _ in range(warmup):
        list(executor.map(fn, items))
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        list(executor.map(fn, items))
        times.append((time.perf_counter() - t) * 1e6)
    return times


def row(op, ranks, size, samples=None, count=None):
    if samples is None:
        return f"pool,{op},pympipool,{ranks},{'' if size is None else size},,,,,{count:.3f}"
    s = sorted(samples)
    med, p10, p90 = (percentile(s, q) for q in (0.5, 0.1, 0.9))
    return f"pool,{op},pympipool,{ranks},{size},{med:.3f},{p10:.3f},{p90:.3f},,"


def write(path, rows):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fresh = not os.path.exists(path) or os.path.getsize(path) == 0
    with open(path, "a") as out:
        if fresh:
            out.write(HEADER + "\n")
        for r in rows:
            out.write(r + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="append CSV rows to this file")
    parser.add_argument("--workers", type=int, default=3, help="worker processes (ours at 4 ranks has 3)")
    parser.add_argument("--quick", action="store_true", help="tiny iteration counts")
    args = parser.parse_args()

    import pympipool

    warmup, iters, n_empty, n_balance, mean_us = sizes(args.quick)
    ranks = args.workers + 1
    rows = []
    with pympipool.Executor(max_workers=args.workers, block_allocation=True) as executor:
        print(f"[peers-pool 1/2] empty-task-throughput (pympipool) workers={args.workers}", file=sys.stderr, flush=True)
        times = [t / n_empty for t in timed_maps(executor, empty, [None] * n_empty, warmup, iters)]
        rows.append(row("empty-task-throughput", ranks, n_empty, samples=times))
        print(rows[-1], flush=True)

        print(f"[peers-pool 2/2] load-balance (pympipool) workers={args.workers}", file=sys.stderr, flush=True)
        lengths = [task_length(i, mean_us) for i in range(n_balance)]
        ideal_us = sum(lengths) / args.workers
        times = sorted(timed_maps(executor, spin, lengths, warmup, iters))
        rows.append(row("load-balance", ranks, None, count=ideal_us / percentile(times, 0.5)))
        print(rows[-1], flush=True)
    if args.out:
        write(args.out, rows)


if __name__ == "__main__":
    main()
