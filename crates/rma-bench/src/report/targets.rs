//! The targets the report checks, as data: what is compared with what, the
//! goal, and at which rank counts. `docs/benchmarks.md` lists the same
//! targets.

/// The rows of one measurement, one per rank count: a suite's operation by
/// one implementation at one size.
#[derive(Debug, Clone, Copy)]
pub struct Series {
    /// The `suite` column.
    pub suite: &'static str,
    /// The `op` column.
    pub op: &'static str,
    /// The `impl` column.
    pub implementation: &'static str,
    /// The `size` column (empty: `None`).
    pub size: Option<usize>,
}

/// What ours is compared with, at the same rank count.
#[derive(Debug, Clone, Copy)]
pub struct Baseline {
    /// Its rows.
    pub series: Series,
    /// Named after its value in the report: `12.00 µs (label)`.
    pub label: &'static str,
    /// What happens when the CSV has no row of it.
    pub if_missing: IfMissing,
}

/// What a target does without a baseline row.
#[derive(Debug, Clone, Copy)]
pub enum IfMissing {
    /// It is not measured, for the target's reason.
    NotMeasured,
    /// It is not measured, for this reason.
    NotMeasuredBecause(&'static str),
    /// A median quoted from elsewhere stands in, under its own label.
    Quoted {
        /// The quoted median, in µs.
        median_us: f64,
        /// Named after it in the report instead of the baseline's label.
        label: &'static str,
    },
}

/// What ours must achieve.
#[derive(Debug, Clone, Copy)]
pub enum Goal {
    /// Our throughput at least this many times the baseline's.
    ThroughputAtLeast(f64),
    /// Our median at most this many times the baseline's.
    LatencyAtMost(f64),
    /// Our median at least this many times shorter than the baseline's.
    FasterAtLeast(f64),
    /// Our count at least this many times the baseline's (a count where
    /// more is better, such as an efficiency).
    CountAtLeast(f64),
    /// Our median below this many seconds (no baseline).
    SecondsBelow(f64),
    /// Our count at most `bound` at every rank count (no baseline).
    CountAtMost {
        /// The bound.
        bound: f64,
        /// Where the bound comes from.
        reason: &'static str,
    },
}

/// At which rank counts a target is checked.
#[derive(Debug, Clone, Copy)]
pub enum Ranks {
    /// At each rank count that has a row of ours, one line each; a
    /// [`Goal::CountAtMost`] sums them up in one line.
    Each,
    /// At this rank count only.
    Only(i32),
}

/// A line of the report's summary (one per rank count, with [`Ranks::Each`]).
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The `target` column.
    pub title: &'static str,
    /// Our rows.
    pub ours: Series,
    /// What ours is compared with, for the goals that compare.
    pub baseline: Option<Baseline>,
    /// What ours must achieve.
    pub goal: Goal,
    /// Where it is checked.
    pub ranks: Ranks,
    /// Why it is not measured when the CSV has no row of ours (nor, unless
    /// the baseline says otherwise, of the baseline).
    pub not_measured: &'static str,
}

/// Our rows of an operation.
const fn ours(suite: &'static str, op: &'static str, size: Option<usize>) -> Series {
    Series {
        suite,
        op,
        implementation: "ours",
        size,
    }
}

/// A baseline that the target cannot do without.
const fn compared_with(
    suite: &'static str,
    op: &'static str,
    implementation: &'static str,
    size: Option<usize>,
    label: &'static str,
) -> Option<Baseline> {
    Some(Baseline {
        series: Series {
            suite,
            op,
            implementation,
            size,
        },
        label,
        if_missing: IfMissing::NotMeasured,
    })
}

const MILLION: Option<usize> = Some(1_000_000);

/// A primitive against its `mpi4py.util.sync` counterpart (bench-peers runs
/// at 4 ranks).
const fn mpi4py(title: &'static str, op: &'static str) -> Target {
    Target {
        title,
        ours: ours("mpi-lock", op, None),
        baseline: Some(Baseline {
            series: Series {
                suite: "mpi-lock",
                op,
                implementation: "mpi4py",
                size: None,
            },
            label: "mpi4py",
            if_missing: IfMissing::NotMeasuredBecause("no mpi4py row; run make bench-peers"),
        }),
        goal: Goal::FasterAtLeast(10.0),
        ranks: Ranks::Only(4),
        not_measured: "no 4-rank row of ours",
    }
}

/// The pool's op against pympipool's `map` (bench-peers runs
/// bench/peers_pool.py with 3 workers, as ours at 4 ranks).
const fn pympipool(
    title: &'static str,
    op: &'static str,
    size: Option<usize>,
    goal: Goal,
) -> Target {
    Target {
        title,
        ours: ours("pool", op, size),
        baseline: Some(Baseline {
            series: Series {
                suite: "pool",
                op,
                implementation: "pympipool",
                size,
            },
            label: "pympipool",
            if_missing: IfMissing::NotMeasuredBecause("no pympipool row; run make bench-peers"),
        }),
        goal,
        ranks: Ranks::Only(4),
        not_measured: "no 4-rank pool row of ours",
    }
}

/// Our Python package (`python/`, rows of impl `python` that bench-peers
/// measures through `rma_toolkit.pshmem`) against pshmem itself, through the
/// same Python calls: the gain a pshmem user sees without leaving Python.
const fn python_vs_pshmem(
    title: &'static str,
    suite: &'static str,
    op: &'static str,
    size: Option<usize>,
) -> Target {
    Target {
        title,
        ours: Series {
            suite,
            op,
            implementation: "python",
            size,
        },
        baseline: Some(Baseline {
            series: Series {
                suite,
                op,
                implementation: "pshmem",
                size,
            },
            label: "pshmem",
            if_missing: IfMissing::NotMeasuredBecause("no pshmem row; run make bench-peers"),
        }),
        goal: Goal::FasterAtLeast(1.0),
        ranks: Ranks::Only(4),
        not_measured: "no python row; run make bench-peers",
    }
}

/// The targets, in the order of the summary.
pub const TARGETS: [Target; 27] = [
    Target {
        title: "MpiShared::set 10^6 f64, throughput vs memcpy",
        ours: ours("shm-core", "set", MILLION),
        baseline: compared_with("raw", "memcpy", "memcpy", MILLION, "memcpy"),
        goal: Goal::ThroughputAtLeast(0.8),
        ranks: Ranks::Each,
        not_measured: "no set/memcpy rows at 10^6",
    },
    Target {
        title: "MpiShared::set 1 element, speed-up over pshmem",
        ours: ours("shm-core", "set", Some(1)),
        baseline: Some(Baseline {
            series: Series {
                suite: "shm-core",
                op: "set",
                implementation: "pshmem",
                size: Some(1),
            },
            label: "pshmem",
            if_missing: IfMissing::NotMeasuredBecause("no pshmem row; run make bench-peers"),
        }),
        goal: Goal::FasterAtLeast(10.0),
        ranks: Ranks::Only(4),
        not_measured: "no 4-rank set row",
    },
    Target {
        title: "MpiShared: 10,000 (5, 5) arrays created and kept alive",
        ours: ours("shm-core", "create-10000", Some(10_000)),
        baseline: None,
        goal: Goal::SecondsBelow(2.0),
        ranks: Ranks::Only(2),
        not_measured: "no create-10000 row at 2 ranks",
    },
    Target {
        title: "MpiLock uncontended vs MPI_Win_lock",
        ours: ours("mpi-lock", "lock-unlock-uncontended", None),
        baseline: compared_with("raw", "win-lock-unlock-uncontended", "raw-mpi", None, "raw"),
        goal: Goal::LatencyAtMost(1.0),
        ranks: Ranks::Each,
        not_measured: "no mpi-lock/raw rows",
    },
    Target {
        title: "MpiLock contended vs MPI_Win_lock",
        ours: ours("mpi-lock", "lock-unlock-contended", None),
        baseline: compared_with("raw", "win-lock-unlock-contended", "raw-mpi", None, "raw"),
        goal: Goal::LatencyAtMost(1.0),
        ranks: Ranks::Each,
        not_measured: "no mpi-lock/raw rows",
    },
    Target {
        title: "MpiLock contended, speed-up over pshmem MPILock",
        ours: ours("mpi-lock", "lock-unlock-contended", None),
        baseline: Some(Baseline {
            series: Series {
                suite: "mpi-lock",
                op: "lock-unlock-contended",
                implementation: "pshmem",
                size: None,
            },
            label: "pshmem, measured",
            // pshmem's MPILock at 4 ranks on these machines, as quoted when
            // the goal was set.
            if_missing: IfMissing::Quoted {
                median_us: 174.0,
                label: "pshmem, quoted in issue 5, not measured here",
            },
        }),
        goal: Goal::FasterAtLeast(10.0),
        ranks: Ranks::Only(4),
        not_measured: "no 4-rank mpi-lock row",
    },
    Target {
        title: "Counter::next vs MPI_Fetch_and_op+flush",
        ours: ours("mpi-lock", "counter-next", None),
        baseline: compared_with("raw", "fop-flush", "raw-mpi", Some(1), "fop-flush"),
        goal: Goal::LatencyAtMost(1.2),
        ranks: Ranks::Each,
        not_measured: "no counter-next/fop-flush rows",
    },
    Target {
        title: "RwLock read, every rank, vs shared MPI_Win_lock",
        ours: ours("mpi-lock", "rwlock-read-contended", None),
        baseline: compared_with("raw", "win-lock-shared-contended", "raw-mpi", None, "raw"),
        goal: Goal::LatencyAtMost(1.0),
        ranks: Ranks::Each,
        not_measured: "no rwlock/raw rows",
    },
    mpi4py(
        "MpiLock uncontended, speed-up over mpi4py Mutex",
        "lock-unlock-uncontended",
    ),
    mpi4py(
        "Counter::next, speed-up over mpi4py Counter",
        "counter-next",
    ),
    mpi4py(
        "Semaphore, speed-up over mpi4py Semaphore",
        "semaphore-acquire-release",
    ),
    mpi4py(
        "Condition notify, speed-up over mpi4py Condition",
        "condition-notify",
    ),
    mpi4py(
        "Sequential round, speed-up over mpi4py Sequential",
        "sequential-round",
    ),
    Target {
        title: "MpiLock remote ops per acquire, constant in ranks",
        ours: ours("mpi-lock", "remote-ops-per-acquire", None),
        baseline: None,
        // The MCS protocol's bound, whatever the number of ranks.
        goal: Goal::CountAtMost {
            bound: 4.0,
            reason: "2 per lock + 2 per unlock",
        },
        ranks: Ranks::Each,
        not_measured: "no rows",
    },
    Target {
        title: "dsm-kv read vs MPI_Get+flush",
        ours: ours("dsm-kv", "read-int", Some(1)),
        baseline: compared_with("raw", "get-flush", "raw-mpi", Some(1), "get-flush"),
        goal: Goal::LatencyAtMost(1.5),
        ranks: Ranks::Each,
        not_measured: "no dsm-kv rows",
    },
    Target {
        title: "dsm-kv modify vs MPI_Put+flush",
        ours: ours("dsm-kv", "modify", Some(1)),
        baseline: compared_with("raw", "put-flush", "raw-mpi", Some(1), "put-flush"),
        goal: Goal::LatencyAtMost(1.5),
        ranks: Ranks::Each,
        not_measured: "no dsm-kv rows",
    },
    Target {
        title: "dsm-kv read-list 10^6 vs memcpy",
        ours: ours("dsm-kv", "read-list", MILLION),
        baseline: compared_with("raw", "memcpy", "memcpy", MILLION, "memcpy"),
        goal: Goal::LatencyAtMost(1.5),
        ranks: Ranks::Each,
        not_measured: "no dsm-kv rows",
    },
    Target {
        title: "dsm-kv map 10^6 vs memcpy",
        ours: ours("dsm-kv", "map", MILLION),
        baseline: compared_with("raw", "memcpy", "memcpy", MILLION, "memcpy"),
        goal: Goal::LatencyAtMost(1.5),
        ranks: Ranks::Each,
        not_measured: "no dsm-kv rows",
    },
    Target {
        title: "dsm-kv filter 10^6 vs memcpy",
        ours: ours("dsm-kv", "filter", MILLION),
        baseline: compared_with("raw", "memcpy", "memcpy", MILLION, "memcpy"),
        goal: Goal::LatencyAtMost(1.5),
        ranks: Ranks::Each,
        not_measured: "no dsm-kv rows",
    },
    // The same goal against a memcpy timed with filter, iteration by
    // iteration, of a list just written as filter's input is
    // (docs/benchmarks.md, "Which memcpy").
    Target {
        title: "dsm-kv filter 10^6 vs memcpy of a fresh list",
        ours: ours("dsm-kv", "filter", MILLION),
        baseline: compared_with("dsm-kv", "filter", "memcpy-fresh", MILLION, "memcpy-fresh"),
        goal: Goal::LatencyAtMost(1.5),
        ranks: Ranks::Each,
        not_measured: "no dsm-kv rows",
    },
    Target {
        title: "dsm-kv reduce 10^6 vs memcpy",
        ours: ours("dsm-kv", "reduce", MILLION),
        baseline: compared_with("raw", "memcpy", "memcpy", MILLION, "memcpy"),
        goal: Goal::LatencyAtMost(1.5),
        ranks: Ranks::Each,
        not_measured: "no dsm-kv rows",
    },
    pympipool(
        "Pool empty task (chunk 1), speed-up over pympipool map",
        "empty-task-throughput",
        Some(2_000),
        Goal::FasterAtLeast(10.0),
    ),
    pympipool(
        "Pool load-balance efficiency vs pympipool map",
        "load-balance",
        None,
        Goal::CountAtLeast(1.0),
    ),
    python_vs_pshmem(
        "Python MPIShared.set 1 element vs pshmem",
        "shm-core",
        "set",
        Some(1),
    ),
    python_vs_pshmem(
        "Python MPIShared.set 10^6 float64 vs pshmem",
        "shm-core",
        "set",
        MILLION,
    ),
    python_vs_pshmem(
        "Python MPILock uncontended vs pshmem",
        "mpi-lock",
        "lock-unlock-uncontended",
        None,
    ),
    python_vs_pshmem(
        "Python MPILock contended vs pshmem",
        "mpi-lock",
        "lock-unlock-contended",
        None,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_goals_that_compare_have_a_baseline_and_the_others_none() {
        for t in &TARGETS {
            let compares = matches!(
                t.goal,
                Goal::ThroughputAtLeast(_)
                    | Goal::LatencyAtMost(_)
                    | Goal::FasterAtLeast(_)
                    | Goal::CountAtLeast(_)
            );
            assert_eq!(t.baseline.is_some(), compares, "{}", t.title);
        }
    }
}
