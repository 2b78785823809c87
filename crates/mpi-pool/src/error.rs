//! The error type of `mpi-pool`.

/// Everything that can go wrong with a [`Pool`](crate::Pool) or a
/// [`Cluster`](crate::Cluster).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// An error of the communicator layer: a failed MPI call, a wait past
    /// `RMA_WAIT_DEADLINE`, or bad collective input (options that are out of
    /// range or differ between the ranks, registries that differ, a worker
    /// count that `cores_per_task` does not divide), which is then the same
    /// [`shm_core::Error::Invalid`] on every rank.
    #[error("the communicator layer failed: {0}")]
    Core(#[from] shm_core::Error),

    /// A task panicked or returned an error on a worker. The pool stays
    /// usable: only this task's result is lost.
    #[error("task {task} ({function}) {kind} on worker rank {rank}: {message}")]
    Task {
        /// The task: its index in the items of a [`map`](crate::Driver::map),
        /// or its submission number for [`submit`](crate::Driver::submit).
        task: u64,
        /// The registered name of the function.
        function: String,
        /// Whether it panicked or returned an error.
        kind: FailureKind,
        /// The rank (in the pool's communicator) that failed; within a group
        /// of `cores_per_task` ranks, the lowest one that failed.
        rank: i32,
        /// The panic message or the error's `Display` text.
        message: String,
    },

    /// The pool was closed ([`Driver::close`](crate::Driver::close)); it takes
    /// no more tasks and a future not yet done will not be.
    #[error("the pool is closed")]
    Closed,

    /// The task handle names a function that this pool's registry does not
    /// hold (it came from another [`Registry`](crate::Registry)).
    #[error("no function named {0:?} is registered in this pool")]
    UnknownFunction(String),

    /// The same name was registered twice; every rank reports it when the
    /// pool is created.
    #[error("the function name {0:?} was registered twice")]
    DuplicateName(String),

    /// An argument or result could not be serialised or deserialised
    /// (postcard): most often a task handle whose types differ from the
    /// registered function's.
    #[error("cannot {what}: {message}")]
    Wire {
        /// What was being encoded or decoded.
        what: &'static str,
        /// postcard's message.
        message: String,
    },

    /// [`Pool::spawn`](crate::Pool::spawn) could not start the workers.
    #[error("cannot spawn the workers: {message}")]
    Spawn {
        /// What failed.
        message: String,
    },

    /// Seen by a worker rank: the driver's code (the closure given to
    /// [`Pool::run`](crate::Pool::run)) or another worker ended with this
    /// error, so every rank returns an error.
    #[error("the pool's run failed on rank {rank}: {message}")]
    Elsewhere {
        /// The lowest rank that failed.
        rank: i32,
        /// Its error, as text.
        message: String,
    },

    /// Every rank of a [`Cluster::run`](crate::Cluster::run) got this: the
    /// function returned an error on `rank` (the lowest that failed).
    #[error("the cluster's function failed on rank {rank}: {message}")]
    WorkerFailed {
        /// The lowest rank whose function returned an error.
        rank: i32,
        /// That error, as text.
        message: String,
    },

    /// A [`Cluster`](crate::Cluster) has no object of this kind under
    /// this name (or one of another element type).
    #[error("this cluster has no {what} named {name:?}")]
    NoSuchName {
        /// What was looked for: `"lock"`, `"shared array of int64"`.
        what: String,
        /// The name.
        name: String,
    },

    /// A [`Cluster`](crate::Cluster) already has an object under this name;
    /// every rank reports it.
    #[error("the name {0:?} is already used in this cluster")]
    NameTaken(String),

    /// An error of a named lock of a [`Cluster`](crate::Cluster).
    #[error("a lock failed: {0}")]
    Lock(#[from] mpi_lock::LockError),
}

/// How a task failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum FailureKind {
    /// The function panicked (caught with `catch_unwind`).
    Panicked,
    /// The function returned `Err`.
    Returned,
    /// The argument could not be decoded into the function's type.
    BadArgument,
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FailureKind::Panicked => "panicked",
            FailureKind::Returned => "returned an error",
            FailureKind::BadArgument => "got an argument it cannot decode",
        })
    }
}

/// The result type of `mpi-pool`.
pub type Result<T, E = PoolError> = std::result::Result<T, E>;
