//! # mpi-lock
//!
//! [`MpiLock`]: a distributed mutex across the ranks of an MPI communicator,
//! granted in FIFO order, with the token handed directly from the holder to
//! the next waiter. It mirrors pshmem's `MPILock` (a waiting list on one rank,
//! a token passed in order of request) with a different implementation: an
//! MCS queue lock over one MPI-3 RMA window, so that taking and releasing the
//! lock costs a constant number of remote operations whatever the number of
//! ranks, and no rank polls a central word while another holds the lock.
//!
//! ```no_run
//! use mpi_lock::MpiLock;
//! let universe = mpi::initialize().unwrap();
//! let world = universe.world();
//! let lock = MpiLock::new(&world)?;
//! {
//!     let _guard = lock.lock()?;
//!     // Only one rank at a time runs this.
//! } // released here
//! lock.close()?; // collective
//! # Ok::<(), mpi_lock::LockError>(())
//! ```
//!
//! # Algorithm
//! The MCS lock of Mellor-Crummey and Scott ("Algorithms for scalable
//! synchronization on shared-memory multiprocessors", ACM TOCS 9(1), 1991),
//! with its queue nodes in an RMA window as in the MPI-3 versions of it:
//! the MCS mutex of MPICH's test suite (`test/mpi/rma/mcs-mutex.c`), ARMCI-MPI's
//! mutexes and mpi4py's `mpi4py.util.sync.Mutex`. This implementation is our
//! own; it differs from those in handing the token by an RMA write (not a
//! message), in resetting the queue words by atomic swaps (no local stores),
//! and in carrying a ticket (the request sequence number) through the queue.
//!
//! ## Window layout
//! One `MPI_Win_allocate` window of `i32` words per rank, kept in a
//! `MPI_Win_lock_all` epoch (with `MPI_MODE_NOCHECK`) for the life of the
//! lock. Three words per rank; `shm_core` rounds every segment up to 64
//! bytes, so each rank's words sit on a cache line of their own (and MPICH
//! 4.0's misdirected RMA on segments that are not a multiple of 16 bytes is
//! avoided for every window, not just this one). The words are 32-bit because Open MPI 4.1 (`osc/rdma` over
//! `btl/vader`) crashes on 64-bit `MPI_Compare_and_swap`
//! (open-mpi/ompi#7967, #11349); tickets therefore wrap after `i32::MAX`.
//!
//! | word | name   | meaning |
//! |------|--------|---------|
//! | 0    | `tail` | on the root only: `r + 1` while the waiting list is non-empty (`r` is the last rank that enqueued); `-t` while it is empty, `t` being the ticket of the last grant (so the zeroed window means "empty, no grant yet") |
//! | 1    | `next` | `s + 1` once the successor `s` linked itself behind this rank; 0 otherwise |
//! | 2    | `flag` | the ticket granted to this rank by its predecessor; 0 while not granted |
//!
//! `next` and `flag` are read by their owner with an atomic swap to 0
//! (`MPI_Fetch_and_op(MPI_REPLACE)`), so they are 0 whenever the rank is not
//! in the list and need no reset before the next request.
//!
//! ## Lock (rank `r`, root `R`)
//! 1. `prev = fetch_and_op(R, tail, r + 1, REPLACE)` — enqueue (1 remote op).
//! 2. If `prev <= 0` the list was empty: the lock is ours, ticket `-prev + 1`.
//! 3. Otherwise `accumulate(prev - 1, next, r + 1, REPLACE)` and flush — link
//!    behind the predecessor (1 remote op) — then poll our own `flag` until the
//!    predecessor writes our ticket into it.
//!
//! ## Unlock
//! 1. `old = compare_and_swap(R, tail, compare r + 1, write -ticket)` — if we
//!    are still the tail, the list becomes empty and we are done (1 remote op).
//! 2. Otherwise a successor swapped itself in: poll our own `next` until it has
//!    linked itself, then `accumulate(succ, flag, ticket + 1, REPLACE)` and
//!    flush — hand it the token (1 remote op).
//!
//! So a lock costs 1 remote operation uncontended and 2 contended, an unlock
//! 1 or 2, independent of the number of ranks ([`MpiLock::stats`] counts
//! them). Waiters poll only their own words. Requests are granted in the order
//! their tail swaps happened (the list order), and the ticket of each grant,
//! [`MpiLockGuard::ticket`], is that position: the `n`-th swap on the tail gets
//! ticket `n`.
//!
//! [`MpiLock::try_lock`] reads the tail and, if the list is empty, installs
//! itself with a compare-and-swap: it never enqueues, so it never waits.
//!
//! ## Progress
//! Waiting loops call MPI at every poll (the swap on our own word), add an
//! `MPI_Iprobe` on the lock's private communicator once they stop spinning,
//! and back off: a few spins, then `yield_now`, then sleeps doubling up to
//! 64 µs, so that waiting ranks do not take cores from the holder when ranks
//! outnumber cores. A holder that computes without calling MPI delays nobody
//! but the ranks that wait for the lock.
//!
//! # Threads
//! Several threads of one rank may share a lock (`MpiLock` is `Sync`; borrow
//! it with [`std::thread::scope`]). A local `parking_lot` mutex orders them
//! before the distributed protocol, so each rank has at most one request in
//! the list. The lock is not reentrant: locking it again from the thread that
//! holds it returns [`LockError::AlreadyHeld`]. If MPI was not initialised with
//! `MPI_THREAD_MULTIPLE`, only the creating thread may use the lock; others get
//! [`LockError::ThreadLevel`]. Guards are neither `Send` nor `Sync`.
//!
//! # Lifetime
//! Creating ([`MpiLock::new`], [`MpiLock::with_root`]) and freeing
//! ([`MpiLock::close`], or dropping the lock) are collective. The guard
//! borrows the lock, so the lock cannot be closed while held; a guard leaked
//! with `std::mem::forget` is detected at close, released (so no rank keeps
//! waiting), and reported on every rank as [`LockError::HeldAtClose`].
//!
//! [`MpiLock::local`] gives the same interface without MPI (pshmem's
//! `comm=None`): an in-process mutex.
//!
//! # Primitives
//! - [`Condition`]: a condition variable used with an [`MpiLock`] (wait, notify, notify_all; a FIFO of waiting ranks in window words).
//! - [`RwLock`]: a readers-writer lock with writer preference (readers count on their own rank, writers queue FIFO).
//! - [`MpiMutex`]: a lock and the data it protects, in a window on one rank, reached through typed guard methods.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod backing;
mod batch;
mod condition;
mod counter;
mod distribute;
mod error;
mod guard;
mod local;
mod lock;
mod mutex;
mod options;
mod queue;
mod rwlock;
mod semaphore;
mod sequential;
mod stats;
mod ticket;
mod words;

pub use condition::{Condition, ConditionOptions};
pub use counter::{Counter, CounterOptions, CounterValue};
pub use distribute::{Chunks, WorkQueue, WorkQueueOptions};
pub use error::LockError;
pub use guard::MpiLockGuard;
pub use lock::MpiLock;
pub use mutex::{MpiMutex, MpiMutexGuard, MpiMutexOptions};
pub use options::{LockOptions, Order};
pub use rwlock::{RwLock, RwLockOptions, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Semaphore, SemaphoreGuard, SemaphoreOptions};
pub use sequential::{Sequential, SequentialGuard};
pub use stats::LockStats;
pub use words::Access;
