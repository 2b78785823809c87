//! The error type of `mpi-lock`.

/// Everything that can go wrong with the toolkit's synchronisation objects
/// ([`MpiLock`](crate::MpiLock) and the others).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// An error of the window layer: a failed MPI call, or bad collective
    /// input (such as a root rank out of range), which is then the same
    /// [`shm_core::Error::Invalid`] on every rank.
    #[error("the window layer failed: {0}")]
    Core(#[from] shm_core::Error),

    /// The calling thread already holds the lock, which was not made
    /// recursive ([`LockOptions::recursive`](crate::LockOptions::recursive)):
    /// locking it again from the holding thread would wait for itself.
    #[error("this thread already holds the lock (and the lock is not recursive)")]
    AlreadyHeld,

    /// A thread other than the one that created the lock used it, but MPI
    /// was not initialised with `MPI_THREAD_MULTIPLE`.
    #[error(
        "MPI was initialised with threading level {level}, not MPI_THREAD_MULTIPLE: \
         only the thread that created the lock may use it"
    )]
    ThreadLevel {
        /// The threading level MPI provides (`"single"`, `"funneled"` or
        /// `"serialized"`).
        level: &'static str,
    },

    /// [`MpiLock::close`](crate::MpiLock::close) (or the drop of the lock)
    /// found the lock still held on some rank, because a guard was leaked
    /// with `std::mem::forget`. The holder released the token before the
    /// lock was freed, so no rank was left waiting. Every rank returns this
    /// same error.
    #[error("the lock was still held on rank {rank} when it was closed (a leaked guard); it was released")]
    HeldAtClose {
        /// The lowest rank that still held the lock.
        rank: i32,
    },

    /// A release of something this rank does not hold (such as a permit of
    /// a bounded semaphore released beyond its bound).
    #[error("{what}: this rank does not hold it")]
    NotHeld {
        /// What was released.
        what: &'static str,
    },

    /// A guard of one object was given to another (such as a lock guard to
    /// a condition variable built on a different lock).
    #[error("the guard belongs to another {what}")]
    WrongObject {
        /// The kind of object.
        what: &'static str,
    },

    /// An earlier MPI error left this rank's part of the distributed queue in
    /// an unknown state, so the lock refuses further use. The error is the
    /// [`source`](std::error::Error::source); at `close`, where every rank
    /// learns of the lowest broken rank's error, it is that rank's, as an
    /// [`shm_core::Error::Invalid`] naming the rank.
    #[error("the lock is unusable after an earlier MPI error")]
    Broken(#[source] shm_core::Error),

    // --- Condition, RwLock, MpiMutex (condition.rs, rwlock.rs, mutex.rs) ---
    /// [`Condition::wait`](crate::Condition::wait) was given the guard of a
    /// recursive lock that this thread holds more than once: releasing that
    /// one guard would not release the lock, so no other rank could ever
    /// take it to notify.
    #[error("cannot wait while holding the lock {depth} times (recursively): the wait would not release it")]
    WaitWhileRecursive {
        /// How many guards of the lock this thread holds.
        depth: u32,
    },

    /// This rank asked for an [`RwLock`](crate::RwLock) in a mode that
    /// conflicts with the hold it already has (such as writing while it
    /// reads): the request would wait for this rank itself.
    #[error(
        "this rank holds the lock for {held} and asked for {requested}: it would wait for itself"
    )]
    SelfDeadlock {
        /// The hold this rank has (`"reading"` or `"writing"`).
        held: &'static str,
        /// What it asked for (`"reading"` or `"writing"`).
        requested: &'static str,
    },

    // --- Sequential (sequential.rs) ---
    /// This rank asked to enter something it is inside already and has not
    /// left (such as [`Sequential::begin`](crate::Sequential::begin) twice
    /// without an end): waiting for its own turn would never end.
    #[error("{what}: this rank has entered it already and not left")]
    AlreadyEntered {
        /// What was entered.
        what: &'static str,
    },
}
