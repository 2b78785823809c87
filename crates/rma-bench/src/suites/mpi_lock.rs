//! Suite `mpi-lock`: the synchronisation toolkit, to compare with the raw
//! window lock and fetch-and-op of suite `raw` and with pshmem's `MPILock`
//! and `mpi4py.util.sync` (bench-peers).
//!
//! Uncontended operations run on rank 0 with the object's words on the last
//! rank (the raw baselines target the last rank), while the other ranks
//! idle. Contended ones have every rank loop; each acquisition by any rank
//! is one sample. Each primitive is measured as users get it (`ours`: CPU
//! atomics when every rank shares a node) and, where the words can be
//! either, with MPI atomics forced (`ours-mpi-atomics`); the lock also in
//! its node-batched order (`ours-node-batched`).

use super::Op;
use crate::harness::{Ctx, Reduce, Who};
use anyhow::{ensure, Result};
use mpi::collective::SystemOperation;
use mpi::traits::*;
use mpi_lock::{Access, Condition, Counter, MpiLock, Order, RwLock, Semaphore, Sequential};

/// The suite's operations, in the order it runs them.
pub const OPS: [Op; 10] = [
    Op::LockUnlockUncontended,
    Op::LockUnlockContended,
    Op::TryLock,
    Op::RemoteOpsPerAcquire,
    Op::InterNodeHandoffsPerAcquire,
    Op::CounterNext,
    Op::RwlockReadContended,
    Op::SemaphoreAcquireRelease,
    Op::ConditionNotify,
    Op::SequentialRound,
];

/// The implementations of a primitive whose words may be CPU or MPI atomics.
const ACCESSES: [(&str, Access); 2] = [("ours", Access::Auto), ("ours-mpi-atomics", Access::Mpi)];

/// The lock's variants: the two accesses in FIFO order, and the
/// node-batched order.
fn locks(world: &mpi::topology::SimpleCommunicator, root: i32) -> Vec<(&'static str, MpiLock)> {
    let mut locks = Vec::new();
    for (name, access) in ACCESSES {
        let lock = MpiLock::options().root(root).access(access).create(world);
        locks.push((name, lock));
    }
    let batched = MpiLock::options()
        .root(root)
        .order(Order::node_batched())
        .create(world);
    locks.push(("ours-node-batched", batched));
    locks
        .into_iter()
        .map(|(name, lock)| lock.map(|lock| (name, lock)))
        .collect::<Result<_, _>>()
        .expect("creating a lock on the benchmark's communicator")
}

/// Runs the suite's selected operations (collective).
pub fn run(ctx: &mut Ctx) -> Result<()> {
    run_locks(ctx)?;
    run_others(ctx)
}

fn run_locks(ctx: &mut Ctx) -> Result<()> {
    let world = ctx.world;
    let root = ctx.size - 1;
    if ctx.op(Op::LockUnlockUncontended) {
        for (name, lock) in locks(world, root) {
            let samples = ctx.measure(Who::Rank0, ctx.cfg.plan(None), || {
                lock.lock()?.unlock()?;
                Ok(())
            })?;
            lock.close()?;
            let op = Op::LockUnlockUncontended;
            ctx.record(op, name, None, &samples, Reduce::Rank0, None);
        }
    }
    if ctx.op(Op::LockUnlockContended) {
        for (name, lock) in locks(world, root) {
            let samples = ctx.measure(Who::All, ctx.cfg.plan_slow(), || {
                lock.lock()?.unlock()?;
                Ok(())
            })?;
            lock.close()?;
            let op = Op::LockUnlockContended;
            ctx.record(op, name, None, &samples, Reduce::Pool, None);
        }
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
    let counts = [Op::RemoteOpsPerAcquire, Op::InterNodeHandoffsPerAcquire];
    if counts.iter().any(|&op| ctx.op(op)) {
        // Every rank locks and unlocks in a loop (the contended pattern);
        // the counts are those of all ranks divided by all acquisitions,
        // from each lock's own counters.
        for (name, lock) in locks(world, root) {
            ctx.measure(Who::All, ctx.cfg.plan_slow(), || {
                lock.lock()?.unlock()?;
                Ok(())
            })?;
            let stats = lock.stats();
            let local = [
                stats.remote_ops as f64,
                stats.handoffs as f64,
                stats.acquisitions as f64,
            ];
            let mut total = [0.0f64; 3];
            world.all_reduce_into(&local[..], &mut total[..], SystemOperation::sum());
            lock.close()?;
            ensure!(total[2] > 0.0, "no acquisitions counted");
            if ctx.op(Op::RemoteOpsPerAcquire) {
                ctx.record_count(Op::RemoteOpsPerAcquire, name, total[0] / total[2]);
            }
            // Hand-offs through the waiting list: in the node-batched order
            // each one moves the lock to another node.
            if ctx.op(Op::InterNodeHandoffsPerAcquire) && name == "ours-node-batched" {
                ctx.record_count(Op::InterNodeHandoffsPerAcquire, name, total[1] / total[2]);
            }
        }
    }
    Ok(())
}

fn run_others(ctx: &mut Ctx) -> Result<()> {
    let world = ctx.world;
    let root = ctx.size - 1;
    if ctx.op(Op::CounterNext) {
        for (name, access) in ACCESSES {
            let counter = Counter::options()
                .root(root)
                .access(access)
                .create::<i64>(world)?;
            let samples = ctx.measure(Who::Rank0, ctx.cfg.plan(None), || {
                std::hint::black_box(counter.next()?);
                Ok(())
            })?;
            counter.close()?;
            let op = Op::CounterNext;
            ctx.record(op, name, None, &samples, Reduce::Rank0, None);
        }
    }
    if ctx.op(Op::RwlockReadContended) {
        for (name, access) in ACCESSES {
            let lock = RwLock::options().root(root).access(access).create(world)?;
            let samples = ctx.measure(Who::All, ctx.cfg.plan_slow(), || {
                drop(lock.read()?);
                Ok(())
            })?;
            lock.close()?;
            let op = Op::RwlockReadContended;
            ctx.record(op, name, None, &samples, Reduce::Pool, None);
        }
    }
    if ctx.op(Op::SemaphoreAcquireRelease) {
        for (name, access) in ACCESSES {
            let sem = Semaphore::options(1)
                .root(root)
                .access(access)
                .create(world)?;
            let samples = ctx.measure(Who::Rank0, ctx.cfg.plan(None), || {
                sem.acquire()?.release()?;
                Ok(())
            })?;
            sem.close()?;
            let op = Op::SemaphoreAcquireRelease;
            ctx.record(op, name, None, &samples, Reduce::Rank0, None);
        }
    }
    if ctx.op(Op::ConditionNotify) {
        // Lock, notify with nobody waiting, unlock: the notifier's side.
        for (name, access) in ACCESSES {
            let cv = Condition::options()
                .root(root)
                .access(access)
                .create(world)?;
            let samples = ctx.measure(Who::Rank0, ctx.cfg.plan(None), || {
                let guard = cv.lock()?;
                ensure!(cv.notify_one(&guard)? == 0, "nobody waits");
                guard.unlock()?;
                Ok(())
            })?;
            cv.close()?;
            let op = Op::ConditionNotify;
            ctx.record(op, name, None, &samples, Reduce::Rank0, None);
        }
    }
    if ctx.op(Op::SequentialRound) {
        // After a barrier, every rank enters and leaves once, in rank
        // order; the slowest rank (the last) times the whole chain of
        // hand-offs.
        for (name, access) in ACCESSES {
            let seq = Sequential::with_access(world, access)?;
            let samples = ctx.measure(Who::AllBarrier, ctx.cfg.plan_slow(), || {
                seq.begin()?.end()?;
                Ok(())
            })?;
            seq.close()?;
            let op = Op::SequentialRound;
            ctx.record(op, name, None, &samples, Reduce::Max, None);
        }
    }
    Ok(())
}
