//! # mpi-lock: the synchronisation toolkit
//!
//! Synchronisation objects across the ranks of an MPI communicator, each
//! kept in a few integer words of an MPI window of its own and driven by
//! atomic operations alone: MPI-3 atomics (`MPI_Fetch_and_op`,
//! `MPI_Compare_and_swap`, `MPI_Accumulate`) in general, CPU atomics on
//! node-shared memory when every rank shares one node ([`Access`]). No
//! message is sent and no rank serves requests; a waiting rank polls, with
//! back-off, a word that is usually its own. The API follows mpi4py's
//! `mpi4py.util.sync` and pshmem's `MPILock`, with RAII guards. Every object
//! is created and freed collectively, and every one but [`Condition`] has a
//! local mode without MPI.
//!
//! - [`MpiLock`]: a mutex, FIFO in request order (an MCS queue lock, or a
//!   ticket lock on one node), or node-batched ([`Order::NodeBatched`], a
//!   cohort lock); shared by the threads of a rank. pshmem's `MPILock`,
//!   mpi4py's `Mutex`.
//! - [`Counter`]: an atomic counter, one fetch-and-add per
//!   [`next`](Counter::next) (mpi4py's `Counter`, Global Arrays' `NXTVAL`).
//! - [`WorkQueue`]: the indices `0..n` in chunks, each to whichever rank asks
//!   next (`NXTVAL` load balancing; the dynamic counterpart of
//!   [`shm_core::split_indices`]).
//! - [`Semaphore`]: `count` permits, blocking acquirers served in FIFO
//!   order (mpi4py's `Semaphore`).
//! - [`Sequential`]: a section the ranks run one at a time, in rank order
//!   (mpi4py's `Sequential`).
//! - [`Condition`]: a condition variable used with an [`MpiLock`] (wait,
//!   notify, notify_all; waiters woken in the order they waited; mpi4py's
//!   `Condition`).
//! - [`RwLock`]: a readers-writer lock with writer preference; a read is one
//!   atomic on the rank's own word (after Schmid, Besta and Hoefler,
//!   HPDC 2016).
//! - [`MpiMutex`]: a lock and the data it protects, in a window on one rank,
//!   reached through typed guard methods (`lock_api`'s `Mutex<T>` idea).
//!
//! Each type's documentation gives its algorithm, words, costs and
//! fairness; `docs/mpi-lock.md` in the repository gathers them, with the
//! memory-model argument, the progress and lifetime rules and the tests.
//!
//! ```no_run
//! use mpi_lock::{Counter, MpiLock, WorkQueue};
//! let universe = mpi::initialize().unwrap();
//! let world = universe.world();
//!
//! let lock = MpiLock::new(&world)?;
//! {
//!     let _guard = lock.lock()?;
//!     // Only one rank at a time runs this.
//! } // released here
//! lock.close()?; // collective
//!
//! let counter = Counter::new(&world)?; // i64 from 0 by 1, on rank 0
//! let _unique = counter.next()?; // no other call anywhere gets this value
//! counter.close()?;
//!
//! let queue = WorkQueue::new(&world, 1000, 16)?; // 0..1000 in chunks of 16
//! let mut mine = 0;
//! while let Some(range) = queue.next_chunk()? {
//!     // Each index goes to exactly one rank; fast ranks take more chunks.
//!     mine += range.len();
//! }
//! queue.close()?;
//! # Ok::<(), mpi_lock::LockError>(())
//! ```
//!
//! # `MpiLock`
//! The protocol is fixed at creation, the same on every rank:
//!
//! | order ([`LockOptions::order`]) | words | protocol |
//! |---|---|---|
//! | [`Order::Fifo`] (default) | CPU atomics ([`Access::Auto`], every rank on one node) | a ticket lock in two words of the root: lock = one fetch-and-add, unlock = one release store; no MPI call on the lock path |
//! | [`Order::Fifo`] | MPI atomics (several nodes, or [`Access::Mpi`]) | an MCS queue lock |
//! | [`Order::NodeBatched`] | either | a cohort lock: a ticket lock within each node, the MCS queue between nodes; the lock stays on a node for up to `max_batch` grants in a row ([`Order::node_batched`]: 64) |
//!
//! FIFO means that requests are granted in the order they reached the
//! waiting list, and [`MpiLockGuard::ticket`] numbers the grants. The
//! node-batched order gives that up for fewer hand-offs across the network:
//! FIFO within a node and among nodes, a request overtaken by at most
//! `max_batch - 1` requests per node ahead of it. The other options are the
//! root rank (where the waiting list lives), the [`Access`] and
//! [recursive](LockOptions::recursive) mode.
//!
//! ## The MCS queue
//! The queue lock of Mellor-Crummey and Scott ("Algorithms for scalable
//! synchronization on shared-memory multiprocessors", ACM TOCS 9(1), 1991),
//! with its queue nodes in an RMA window as in the MPI-3 versions of it:
//! the MCS mutex of MPICH's test suite (`test/mpi/rma/mcs-mutex.c`),
//! ARMCI-MPI's mutexes and mpi4py's `mpi4py.util.sync.Mutex`. This
//! implementation is our own; it hands the token by an RMA write (not a
//! message), resets the queue words by atomic swaps, and carries a ticket
//! (the request sequence number) through the queue.
//!
//! One `MPI_Win_allocate` window of `i32` words per rank, in a
//! `MPI_Win_lock_all(MPI_MODE_NOCHECK)` epoch for the life of the lock;
//! `shm_core` rounds every segment up to 64 bytes (a cache line per rank,
//! and no MPICH 4.0 misdirected RMA on segments that are not a multiple of
//! 16 bytes). The words are 32-bit because Open MPI 4.1 (`osc/rdma` over
//! `btl/vader`) crashes on 64-bit `MPI_Compare_and_swap`
//! (open-mpi/ompi#7967, #11349); tickets therefore wrap after `i32::MAX`.
//!
//! | word | name   | meaning |
//! |------|--------|---------|
//! | 0    | `tail` | on the root only: `r + 1` while the waiting list is non-empty (`r` is the last rank that enqueued); `-t` while it is empty, `t` being the ticket of the last grant (so the zeroed window means "empty, no grant yet") |
//! | 1    | `next` | `s + 1` once the successor `s` linked itself behind this rank; 0 otherwise |
//! | 2    | `flag` | the ticket granted to this rank by its predecessor; 0 while not granted |
//!
//! **Lock** (rank `r`, root `R`): swap `r + 1` into `R.tail` (1 remote
//! operation); if the old value was `<= 0` the list was empty and the lock
//! is ours. Otherwise write `r + 1` into the predecessor's `next` and flush
//! (1 more), then poll our own `flag`, by atomic swaps to 0, until the
//! predecessor writes our ticket into it.
//!
//! **Unlock**: compare-and-swap `R.tail` from `r + 1` to `-ticket` (1
//! remote operation): if we were the tail, the list is now empty. Otherwise
//! poll our own `next` until the successor has linked itself, then write
//! `ticket + 1` into its `flag` and flush (1 more).
//!
//! So a lock costs 1 remote operation uncontended and 2 contended, an
//! unlock 1 or 2, whatever the number of ranks ([`MpiLock::stats`] counts
//! them, in [`LockStats`]); waiters poll only their own words.
//! [`MpiLock::try_lock`] reads the tail and, if the list is empty, installs
//! itself with a compare-and-swap: it never enqueues, so it never waits.
//!
//! # Words, waiting and progress
//! [`Access::Auto`] (the default of every object) puts the words in an
//! `MPI_Win_allocate_shared` window reached with CPU atomics when every
//! rank shares one node and MPI reports the unified memory model; otherwise,
//! and with [`Access::Mpi`], they are MPI atomics on an `MPI_Win_allocate`
//! window. The choice is agreed at creation and never changes, so CPU and
//! MPI atomics are never mixed on one word. Neither kind completes the RMA
//! the holder made on *other* windows: flush the data a lock protects
//! (`MPI_Win_flush`) before releasing it, as with any MPI lock.
//!
//! Every wait is [`shm_core::sync::poll`]: spin, yield, then sleep up to
//! 64 µs, driving MPI progress (the RMA call itself, and an `MPI_Iprobe` on
//! the object's private communicator once the spinning is over), so that a
//! holder that computes without calling MPI delays only its waiters. With
//! the environment variable `RMA_WAIT_DEADLINE` (seconds), a longer wait
//! returns [`shm_core::Error::Deadline`] instead of hanging.
//!
//! # Threads
//! [`MpiLock`] (and [`MpiMutex`]) are `Sync` but not `Send`: the threads of
//! a rank share them by reference (for instance with
//! [`std::thread::scope`]) and take turns on a local word before the
//! distributed protocol, so each rank has at most one request in the
//! queue. Locking again from the holding thread returns
//! [`LockError::AlreadyHeld`] unless the lock is
//! [recursive](LockOptions::recursive). If MPI was not initialised with
//! `MPI_THREAD_MULTIPLE`, only the creating thread may use the lock; others
//! get [`LockError::ThreadLevel`]. The other objects are neither `Send` nor
//! `Sync` (one thread per rank), and guards are neither `Send` nor `Sync`.
//!
//! # Lifetime
//! Creating and freeing ([`MpiLock::close`], or dropping the object) are
//! collective; options that differ between ranks, or are invalid, are the
//! same [`shm_core::Error::Invalid`] on every rank. A guard borrows its
//! object, so the object cannot be closed while held; a guard leaked with
//! `std::mem::forget` is detected at close, released (so no rank keeps
//! waiting), and reported on every rank as [`LockError::HeldAtClose`]. An
//! MPI error in the middle of a protocol makes the object
//! [`LockError::Broken`] from then on; dropping an object while unwinding
//! from a panic leaks its window instead of entering a collective.
//! [`MpiLock::local`] gives the same interface without MPI (pshmem's
//! `comm=None`): an in-process mutex.

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
