//! The suites and their operations: closed sets, named as on the command
//! line, in the CSV and in `docs/benchmarks.md`.

mod dsm_kv;
mod mpi_lock;
mod pool;
mod raw;
mod shm_core;

use crate::harness::Ctx;
use anyhow::Result;
use clap::ValueEnum;
use std::fmt;

/// A suite of operations. The order of the variants is the order of
/// `--suite all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Suite {
    /// Baselines: plain MPI calls and memcpy
    Raw,
    /// MpiShared arrays of f64
    ShmCore,
    /// The sync toolkit: MpiLock, Counter, RwLock, Semaphore, Condition,
    /// Sequential
    MpiLock,
    /// The distributed memory, master-driven
    DsmKv,
    /// The task pool (mpi-pool): its overhead per task and its load balance
    Pool,
}

impl Suite {
    /// The operations of the suite, in the order it runs them.
    pub fn ops(self) -> &'static [Op] {
        match self {
            Suite::Raw => &raw::OPS,
            Suite::ShmCore => &shm_core::OPS,
            Suite::MpiLock => &mpi_lock::OPS,
            Suite::DsmKv => &dsm_kv::OPS,
            Suite::Pool => &pool::OPS,
        }
    }

    /// Runs the suite's selected operations (collective).
    pub fn run(self, ctx: &mut Ctx) -> Result<()> {
        ctx.suite(self);
        match self {
            Suite::Raw => raw::run(ctx),
            Suite::ShmCore => shm_core::run(ctx),
            Suite::MpiLock => mpi_lock::run(ctx),
            Suite::DsmKv => dsm_kv::run(ctx),
            Suite::Pool => pool::run(ctx),
        }
    }
}

/// An operation that a suite measures (`docs/benchmarks.md` says how).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Op {
    /// MPI_Put of 8 bytes + MPI_Win_flush
    PutFlush,
    /// MPI_Get of 8 bytes + MPI_Win_flush
    GetFlush,
    /// MPI_Accumulate(SUM) of 8 bytes + MPI_Win_flush
    AccFlush,
    /// MPI_Fetch_and_op(SUM) of 8 bytes + MPI_Win_flush
    FopFlush,
    /// MPI_Compare_and_swap of 4 bytes + MPI_Win_flush
    CasFlush,
    /// MPI_Win_lock + MPI_Win_unlock by rank 0 alone
    WinLockUnlockUncontended,
    /// MPI_Win_lock + MPI_Win_unlock by every rank
    WinLockUnlockContended,
    /// MPI_Win_lock(SHARED) + MPI_Win_unlock by every rank
    WinLockSharedContended,
    /// MPI_Bcast of the sweep's sizes
    Bcast,
    /// memcpy of the sweep's sizes
    Memcpy,
    /// MpiShared::set from rank 0
    Set,
    /// MpiShared::assign from rank 0
    SetSingleSource,
    /// A sum through view() on every rank
    ReadView,
    /// MpiShared::new + close
    CreateClose,
    /// 10,000 small arrays created and kept alive
    #[value(name = "create-10000")]
    Create10000,
    /// MpiLock lock + unlock by rank 0 alone
    LockUnlockUncontended,
    /// MpiLock lock + unlock by every rank
    LockUnlockContended,
    /// A successful MpiLock try_lock
    TryLock,
    /// MpiLock's remote operations per acquisition (a count)
    RemoteOpsPerAcquire,
    /// Node-batched MpiLock: hand-offs between nodes per acquisition (a count)
    InterNodeHandoffsPerAcquire,
    /// Counter::next by rank 0 alone
    CounterNext,
    /// RwLock read + release by every rank
    RwlockReadContended,
    /// Semaphore acquire + release by rank 0 alone
    SemaphoreAcquireRelease,
    /// Condition: lock, notify nobody, unlock, by rank 0 alone
    ConditionNotify,
    /// Sequential: after a barrier, every rank enters and leaves once, in
    /// rank order (the last rank's time)
    SequentialRound,
    /// Adding an integer
    Add,
    /// Reading an integer
    ReadInt,
    /// Modifying one element of a list
    Modify,
    /// Reading a 10^6-element list
    ReadList,
    /// map over that list
    Map,
    /// reduce over that list
    Reduce,
    /// filter of a 10^6-element list
    Filter,
    /// Pool map of empty tasks: the time per task (size: tasks per map)
    EmptyTaskThroughput,
    /// Pool map of tasks of random length vs a static split: the ideal
    /// time over the measured one (a count)
    LoadBalance,
}

impl Op {
    /// The suite that measures the operation.
    pub fn suite(self) -> Suite {
        *Suite::value_variants()
            .iter()
            .find(|suite| suite.ops().contains(&self))
            .expect("every op is in a suite (tested)")
    }
}

/// The name of a variant, as the command line, the CSV and the docs spell it.
fn name(value: &impl ValueEnum) -> String {
    value
        .to_possible_value()
        .expect("no variant is skipped")
        .get_name()
        .to_string()
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&name(self))
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&name(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_is_in_exactly_one_suite() {
        for op in Op::value_variants() {
            let suites = Suite::value_variants()
                .iter()
                .filter(|s| s.ops().contains(op))
                .count();
            assert_eq!(suites, 1, "{op}");
        }
    }

    #[test]
    fn names_are_those_of_the_csv() {
        let names: Vec<String> = Suite::value_variants()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(names, ["raw", "shm-core", "mpi-lock", "dsm-kv", "pool"]);
        assert_eq!(Op::Create10000.to_string(), "create-10000");
        assert_eq!(
            Op::WinLockUnlockContended.to_string(),
            "win-lock-unlock-contended"
        );
        assert_eq!(Op::Create10000.suite(), Suite::ShmCore);
    }
}
