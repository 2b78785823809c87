//! Suite `mpi-lock`: `MpiLock`, to compare with the raw window lock of suite
//! `raw` (`win-lock-unlock-*`) and with pshmem's `MPILock` (bench-peers).
//!
//! The uncontended operations run on rank 0 with the waiting list on the last
//! rank (the raw baseline locks the last rank's window), while the other
//! ranks idle. The contended one has every rank lock and unlock in a loop;
//! each acquisition by any rank is one sample.

use super::Op;
use crate::harness::{Ctx, Reduce, Who};
use anyhow::{ensure, Result};
use mpi::collective::SystemOperation;
use mpi::traits::*;
use mpi_lock::MpiLock;

/// The suite's operations, in the order it runs them.
pub const OPS: [Op; 4] = [
    Op::LockUnlockUncontended,
    Op::LockUnlockContended,
    Op::TryLock,
    Op::RemoteOpsPerAcquire,
];

/// Runs the suite's selected operations (collective).
pub fn run(ctx: &mut Ctx) -> Result<()> {
    let world = ctx.world;
    let root = ctx.size - 1;
    if ctx.op(Op::LockUnlockUncontended) {
        let lock = MpiLock::with_root(world, root)?;
        let samples = ctx.measure(Who::Rank0, ctx.cfg.plan(None), || {
            lock.lock()?.unlock()?;
            Ok(())
        })?;
        lock.close()?;
        ctx.record(
            Op::LockUnlockUncontended,
            "ours",
            None,
            &samples,
            Reduce::Rank0,
            None,
        );
    }
    if ctx.op(Op::LockUnlockContended) {
        let lock = MpiLock::with_root(world, root)?;
        let samples = ctx.measure(Who::All, ctx.cfg.plan_slow(), || {
            lock.lock()?.unlock()?;
            Ok(())
        })?;
        lock.close()?;
        ctx.record(
            Op::LockUnlockContended,
            "ours",
            None,
            &samples,
            Reduce::Pool,
            None,
        );
    }
    if ctx.op(Op::TryLock) {
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
        ctx.record(Op::TryLock, "ours", None, &samples, Reduce::Rank0, None);
    }
    if ctx.op(Op::RemoteOpsPerAcquire) {
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
        ctx.record_count(Op::RemoteOpsPerAcquire, "ours", total[0] / total[1]);
    }
    Ok(())
}
