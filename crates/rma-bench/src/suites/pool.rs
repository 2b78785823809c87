//! Suite `pool`: the task pool of `crates/mpi-pool` (pympipool's `Pool`).
//!
//! Rank 0 is the pool's driver and times its own `map` calls, so the time
//! rows are rank 0's samples; the other ranks are workers. Two things are
//! measured: the pool's overhead per task (a map of empty tasks, in chunks
//! of 1 and of 16), and how well its dynamic hand-out balances tasks of
//! random length compared with a static `split_indices` split run by the
//! same worker ranks (an efficiency: the ideal time over the measured one).

use super::Op;
use crate::harness::{Ctx, Reduce};
use anyhow::{ensure, Result};
use mpi::collective::SystemOperation;
use mpi::traits::*;
use mpi_pool::{Pool, PoolOptions, Registry, Task};
use shm_core::split_indices;
use std::hash::{Hash, Hasher};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The suite's operations, in the order it runs them.
pub const OPS: [Op; 2] = [Op::EmptyTaskThroughput, Op::LoadBalance];

/// The `impl` column of `empty-task-throughput` and the pool's chunk size.
const CHUNKS: [(&str, usize); 2] = [("ours", 1), ("ours-chunk-16", 16)];

/// The seed of the task lengths of `load-balance` (every rank makes the
/// same lengths from it).
const SEED: u64 = 15;

/// The registered functions of the suite (the same on every rank).
struct Functions {
    registry: Registry,
    /// Does nothing: the pool's own cost per task.
    empty: Task<(), ()>,
    /// Busy-waits for the given number of microseconds.
    spin: Task<u32, ()>,
}

fn functions() -> Functions {
    let mut registry = Registry::new();
    let empty = registry.register("empty", |(): ()| Ok::<_, String>(()));
    let spin = registry.register("spin", |micros: u32| {
        spin_for(micros);
        Ok::<_, String>(())
    });
    Functions {
        registry,
        empty,
        spin,
    }
}

/// A task of `micros` µs of work: a busy wait, so that the length is wall
/// time whatever the task's rank does meanwhile (sleeping would let the
/// oversubscribed ranks trade cores and hide the imbalance).
fn spin_for(micros: u32) {
    let end = Instant::now() + Duration::from_micros(u64::from(micros));
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

/// The length in µs of task `i`: exponentially distributed with mean
/// `mean_us`, drawn from a fixed-key hash of `(SEED, i)` (the same on every
/// rank, and in every run of the same build).
fn task_length(i: usize, mean_us: f64) -> u32 {
    // `DefaultHasher::new` has fixed keys: every rank (the same
    // executable) draws the same lengths.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (SEED, i).hash(&mut hasher);
    // A uniform number in (0, 1], from the hash's top 53 bits.
    let u = ((hasher.finish() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    (-u.ln() * mean_us).round() as u32
}

/// How many tasks a map has and how many maps are timed.
struct Sizes {
    warmup: usize,
    iters: usize,
    empty_tasks: usize,
    balance_tasks: usize,
    balance_mean_us: f64,
}

fn sizes(quick: bool) -> Sizes {
    if quick {
        Sizes {
            warmup: 1,
            iters: 3,
            empty_tasks: 64,
            balance_tasks: 48,
            balance_mean_us: 50.0,
        }
    } else {
        Sizes {
            warmup: 2,
            iters: 20,
            empty_tasks: 2_000,
            balance_tasks: 1_000,
            balance_mean_us: 200.0,
        }
    }
}

/// Runs the suite's selected operations (collective).
pub fn run(ctx: &mut Ctx) -> Result<()> {
    ensure!(
        ctx.size >= 2,
        "pool needs at least 2 ranks (a driver and a worker)"
    );
    let sizes = sizes(ctx.cfg.quick);
    if ctx.op(Op::EmptyTaskThroughput) {
        for (name, chunk) in CHUNKS {
            let samples = empty_tasks(ctx, &sizes, chunk)?;
            let op = Op::EmptyTaskThroughput;
            let n = Some(sizes.empty_tasks);
            ctx.record(op, name, n, &samples, Reduce::Rank0, None);
        }
    }
    if ctx.op(Op::LoadBalance) {
        load_balance(ctx, &sizes)?;
    }
    Ok(())
}

/// The median of `times` (not empty).
fn median(times: &mut [f64]) -> f64 {
    crate::harness::percentiles(times).0
}

/// Times maps of empty tasks on a pool of chunk size `chunk`: rank 0's
/// samples are the time per task in µs (a map's time over its tasks); the
/// workers' are zeros.
fn empty_tasks(ctx: &Ctx, sizes: &Sizes, chunk: usize) -> Result<Vec<f64>> {
    let Functions {
        registry, empty, ..
    } = functions();
    let options = PoolOptions::default().chunk_size(chunk).progress(false);
    let pool = Pool::new(ctx.world, registry, options)?;
    let n = sizes.empty_tasks;
    let samples = pool.run(|driver| {
        for _ in 0..sizes.warmup {
            black_box(driver.map(&empty, vec![(); n])?);
        }
        let mut samples = Vec::with_capacity(sizes.iters);
        for _ in 0..sizes.iters {
            let t = Instant::now();
            black_box(driver.map(&empty, vec![(); n])?);
            samples.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
        }
        Ok(samples)
    })?;
    Ok(samples.unwrap_or_else(|| vec![0.0; sizes.iters]))
}

/// Tasks of random length (total work `W` µs) on the `P` worker ranks: by
/// the pool (chunks of 1), and by a static contiguous `split_indices` split
/// that the same ranks run while rank 0 idles. Records each one's
/// efficiency, `(W / P) / median time`, as a count (1 is perfect balance
/// with no overhead).
fn load_balance(ctx: &mut Ctx, sizes: &Sizes) -> Result<()> {
    let n = sizes.balance_tasks;
    let lengths: Vec<u32> = (0..n)
        .map(|i| task_length(i, sizes.balance_mean_us))
        .collect();
    let workers = (ctx.size - 1) as usize;
    let ideal_us = lengths.iter().map(|&l| f64::from(l)).sum::<f64>() / workers as f64;

    let Functions { registry, spin, .. } = functions();
    let options = PoolOptions::default().progress(false);
    let pool = Pool::new(ctx.world, registry, options)?;
    let pool_times = pool.run(|driver| {
        for _ in 0..sizes.warmup {
            driver.map(&spin, lengths.iter().copied())?;
        }
        let mut times = Vec::with_capacity(sizes.iters);
        for _ in 0..sizes.iters {
            let t = Instant::now();
            driver.map(&spin, lengths.iter().copied())?;
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
        Ok(times)
    })?;

    // The static split: from a barrier to the last worker's end.
    let mut static_times = Vec::with_capacity(sizes.iters);
    for round in 0..sizes.warmup + sizes.iters {
        ctx.world.barrier();
        let t = Instant::now();
        if ctx.rank != 0 {
            for i in split_indices(n, (ctx.rank - 1) as usize, workers, None) {
                spin_for(lengths[i]);
            }
        }
        let mine = t.elapsed().as_secs_f64() * 1e6;
        let mut slowest = 0.0f64;
        ctx.world
            .all_reduce_into(&mine, &mut slowest, SystemOperation::max());
        if round >= sizes.warmup {
            static_times.push(slowest);
        }
    }

    if let Some(mut pool_times) = pool_times {
        ctx.record_count(Op::LoadBalance, "ours", ideal_us / median(&mut pool_times));
    }
    let static_efficiency = ideal_us / median(&mut static_times);
    ctx.record_count(Op::LoadBalance, "static-split", static_efficiency);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_lengths_are_reproducible_with_the_asked_mean() {
        let lengths: Vec<u32> = (0..10_000).map(|i| task_length(i, 200.0)).collect();
        assert_eq!(
            lengths[..5],
            (0..5).map(|i| task_length(i, 200.0)).collect::<Vec<_>>()[..]
        );
        let mean = lengths.iter().map(|&l| f64::from(l)).sum::<f64>() / 10_000.0;
        assert!((190.0..210.0).contains(&mean), "mean {mean}");
        assert!(lengths.iter().any(|&l| l > 600), "no long tail");
    }

    #[test]
    fn task_lengths_are_the_ones_bench_peers_pool_py_draws() {
        // bench/peers_pool.py computes the same hash (SipHash-1-3, zero
        // keys) and asserts the same three lengths, so that pympipool runs
        // the same tasks as ours.
        let first: Vec<u32> = (0..3).map(|i| task_length(i, 200.0)).collect();
        assert_eq!(first, [78, 7, 822]);
    }
}
