//! Suite `mpi-lock`: `MpiLock`, to compare with the raw window lock of suite
//! `raw` (`win-lock-unlock-*`) and with pshmem's `MPILock` (bench-peers).
//!
//! The uncontended operations run on rank 0 with the waiting list on the last
//! rank (the raw baseline locks the last rank's window), while the other
//! ranks idle. The contended one has every rank lock and unlock in a loop;
//! each acquisition by any rank is one sample.

use crate::harness::{Ctx, Reduce, Who};
use anyhow::{ensure, Result};
use mpi::collective::SystemOperation;
use mpi::traits::*;
use mpi_lock::MpiLock;

pub const OPS: [&str; 4] = [
    "lock-unlock-uncontended",
    "lock-unlock-contended",
    "try-lock",
    "remote-ops-per-acquire",
];

pub fn run(ctx: &mut Ctx) -> Result<()> {
    ctx.suite("mpi-lock", &OPS);
    let world = ctx.world;
    let root = ctx.size - 1;
    if ctx.op("lock-unlock-uncontended") {
        let lock = MpiLock::with_root(world, root)?;
        let samples = ctx.measure(Who::Rank0, ctx.cfg.plan(None), || {
            lock.lock()?.unlock()?;
            Ok(())
        })?;
        lock.close()?;
        ctx.record(
            "lock-unlock-uncontended",
            "ours",
            None,
            &samples,
            Reduce::Rank0,
            None,
        );
    }
    if ctx.op("lock-unlock-contended") {
        let lock = MpiLock::with_root(world, root)?;
        let samples = ctx.measure(Who::All, ctx.cfg.plan_slow(), || {
            lock.lock()?.unlock()?;
            Ok(())
        })?;
        lock.close()?;
        ctx.record(
            "lock-unlock-contended",
            "ours",
            None,
            &samples,
            Reduce::Pool,
            None,
        );
    }
    if ctx.op("try-lock") {
        let lock = MpiLock::with_root(world, root)?;
        let samples = ctx.measure(Who::Rank0, ctx.cfg.plan(None), || {
            let guard = lock.try_lock()?;
            ensure!(
                guard.is_some(),
                "try_lock failed with nobody else using the lock"
            );
            drop(guard);
            Ok(())
        })?;
        lock.close()?;
        ctx.record("try-lock", "ours", None, &samples, Reduce::Rank0, None);
    }
    if ctx.op("remote-ops-per-acquire") {
        // Every rank locks and unlocks in a loop (the contended pattern);
        // the count is the remote RMA operations of all ranks divided by all
        // acquisitions, from the lock's own counters.
        let lock = MpiLock::with_root(world, root)?;
        let plan = ctx.cfg.plan_slow();
        ctx.measure(Who::All, plan, || {
            lock.lock()?.unlock()?;
            Ok(())
        })?;
        let stats = lock.stats();
        let local = [stats.remote_ops as f64, stats.acquisitions as f64];
        let mut total = [0.0f64; 2];
        world.all_reduce_into(&local[..], &mut total[..], SystemOperation::sum());
        lock.close()?;
        ensure!(total[1] > 0.0, "no acquisitions counted");
        ctx.record_count("remote-ops-per-acquire", "ours", total[0] / total[1]);
    }
    Ok(())
}
