//! [`MpiLock`]: the lock's state on this rank, its creation, acquisition
//! (through one of three protocols: the ticket lock of `ticket.rs` on one
//! node, the MCS queue of `queue.rs`, or the node-batched order of
//! `batch.rs`; the threads of a rank take turns first, `local.rs`); its
//! collective close is in `close.rs`.

use crate::backing::Backing;
use crate::batch::NodeBatch;
use crate::error::LockError;
use crate::guard::MpiLockGuard;
use crate::local::{thread_token, Local};
use crate::options::{LockOptions, Order};
use crate::queue::{next_ticket, Queue, WORDS};
use crate::stats::{Counters, LockStats};
use crate::words::Access;
use mpi::topology::Communicator;
use std::marker::PhantomData;

mod close;
mod protocol;

pub(crate) use protocol::{Distributed, Protocol};

/// This process's view of the lock, guarded by the local mutex.
#[derive(Default)]
pub(crate) struct State {
    /// This rank (one of its threads) holds the lock.
    pub(crate) held: bool,
    /// Guards alive for the current hold (more than 1 only when recursive).
    pub(crate) depth: u32,
    /// The ticket of the current (or last) hold.
    pub(crate) ticket: u32,
    /// Local mode: the ticket of the last grant.
    pub(crate) last_local_ticket: u32,
    /// Set when an MPI error interrupted the protocol half-way.
    pub(crate) broken: Option<shm_core::Error>,
}

fn level_name(level: mpi::Threading) -> Option<&'static str> {
    match level {
        mpi::Threading::Multiple => None,
        mpi::Threading::Serialized => Some("serialized"),
        mpi::Threading::Funneled => Some("funneled"),
        mpi::Threading::Single => Some("single"),
    }
}

/// A distributed mutex over an MPI communicator, FIFO by default (a ticket
/// lock on CPU atomics when every rank shares a node, an MCS queue lock over
/// MPI atomics otherwise; or, as an option, the node-batched order), or an
/// in-process mutex with the same interface ([`MpiLock::local`]).
///
/// See the [crate documentation](crate) for the algorithm, the window layout
/// and the threading rules.
///
/// `MpiLock` is `Sync` but not `Send`: creating and closing it are collective
/// MPI calls made by the thread that owns it, while other threads may borrow
/// it (for instance with [`std::thread::scope`]) and take the lock, provided
/// MPI was initialised with `MPI_THREAD_MULTIPLE`.
#[must_use = "dropping the lock frees it (collectively)"]
pub struct MpiLock {
    // Declared first: the window and communicator are freed before the rest.
    pub(crate) dist: Option<Distributed>,
    /// The threads' turn, and this rank's state of the lock.
    pub(crate) local: Local<State>,
    pub(crate) recursive: bool,
    pub(crate) stats: Counters,
    /// Makes the type `!Send` whatever its fields are (see the type docs).
    pub(crate) _not_send: PhantomData<*const ()>,
}

// SAFETY: `MpiLock` is `!Sync` only because of the MPI handles in `dist` (the
// window's raw pointers and `Cell`, the communicator). Through `&MpiLock`:
// * every MPI call on the window or the communicator, and every use of their
//   interior mutability, happens inside `acquire_with`/`release`/the guard's
//   `finish`, which are only called while holding the local turn, which one
//   thread at a time can hold (see `Local`);
// * `is_locked` makes one atomic read of the tail word, which any thread
//   may do at any time (MPI atomics with `MPI_THREAD_MULTIPLE`, which
//   `check_thread` requires off the creating thread, or CPU atomics);
// * the other fields read through `&self` (`rank`, `root`, the window's
//   segment lengths, `creator`, `single_threaded`, `recursive`) are never
//   mutated after construction, and the turn's owner and the counters are
//   atomics;
// * MPI handles are process-wide and valid on every thread. Using them from a
//   thread other than the creator is refused (`LockError::ThreadLevel`)
//   unless MPI provides MPI_THREAD_MULTIPLE, which permits calls from any
//   thread concurrently with the application's own MPI calls.
// Creating and freeing (collective) need ownership or `&mut`, and since the
// type is `!Send` they always happen on the creating thread.
unsafe impl Sync for MpiLock {}

impl std::fmt::Debug for MpiLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.dist {
            None => f.debug_struct("MpiLock").field("mode", &"local").finish(),
            Some(d) => f
                .debug_struct("MpiLock")
                .field("rank", &d.rank())
                .field("size", &d.queue.backing.size())
                .field("root", &d.queue.root)
                .field("words", d.queue.backing.words())
                .field("recursive", &self.recursive)
                .finish(),
        }
    }
}

impl MpiLock {
    /// Creates a lock over `comm`, with the waiting list on rank 0
    /// (collective over `comm`).
    pub fn new<C: Communicator + ?Sized>(comm: &C) -> Result<Self, LockError> {
        Self::options().create(comm)
    }

    /// Creates a lock over `comm` whose waiting list (the tail word) lives on
    /// rank `root` (collective over `comm`; `root` must be the same valid rank
    /// everywhere, otherwise every rank returns the same
    /// [`shm_core::Error::Invalid`]).
    ///
    /// The lock duplicates `comm`, so several locks on one communicator, and
    /// the application's own messages, never interfere.
    pub fn with_root<C: Communicator + ?Sized>(comm: &C, root: i32) -> Result<Self, LockError> {
        Self::options().root(root).create(comm)
    }

    /// The options of a new lock: root rank, recursive mode and how the
    /// lock's words are reached.
    ///
    /// ```no_run
    /// use mpi_lock::{Access, MpiLock};
    /// let universe = mpi::initialize().unwrap();
    /// let world = universe.world();
    /// let lock = MpiLock::options()
    ///     .root(0)
    ///     .recursive(true)
    ///     .access(Access::Mpi)
    ///     .create(&world)?;
    /// let outer = lock.lock()?;
    /// let inner = lock.lock()?; // the same thread again: allowed
    /// drop(inner);
    /// drop(outer); // released here
    /// # Ok::<(), mpi_lock::LockError>(())
    /// ```
    pub fn options() -> LockOptions {
        LockOptions::default()
    }

    pub(crate) fn create<C: Communicator + ?Sized>(
        comm: &C,
        root: i32,
        access: Access,
        recursive: bool,
        order: Order,
    ) -> Result<Self, LockError> {
        // 32-bit words: Open MPI 4.x (osc/rdma over btl/vader) crashes on
        // 64-bit MPI_Compare_and_swap (open-mpi/ompi#7967, #11349).
        let backing = Backing::<i32>::create(
            comm,
            WORDS,
            access,
            root,
            "the lock options",
            &[i64::from(recursive), order.code(), order.max_batch().into()],
        )?;
        let single_threaded = level_name(mpi::environment::threading_support());
        // The options are the same on every rank now: so is this verdict.
        let protocol = match order {
            Order::NodeBatched { max_batch: 0 } => {
                return Err(shm_core::Error::Invalid {
                    rank: None,
                    message: "a node-batched order needs max_batch >= 1".into(),
                }
                .into())
            }
            Order::NodeBatched { max_batch } => {
                Protocol::Batched(NodeBatch::new(backing.comm(), max_batch, access)?)
            }
            Order::Fifo if backing.is_node() => Protocol::Ticket,
            Order::Fifo => Protocol::Queue,
        };
        Ok(Self::with_parts(
            Some(Distributed {
                protocol,
                queue: Queue { backing, root },
                creator: thread_token(),
                single_threaded,
            }),
            recursive,
            // Without MPI_THREAD_MULTIPLE only the creating thread gets past
            // `check_thread`.
            single_threaded.is_some(),
        ))
    }

    fn with_parts(dist: Option<Distributed>, recursive: bool, one_thread: bool) -> Self {
        MpiLock {
            dist,
            local: Local::new(State::default(), one_thread),
            recursive,
            stats: Counters::default(),
            _not_send: PhantomData,
        }
    }

    /// An in-process lock with the same interface and no MPI at all (pshmem's
    /// `comm=None`): it serialises the threads of this process.
    pub fn local() -> Self {
        Self::with_parts(None, false, false)
    }

    /// [`local`](Self::local), recursive: the holding thread may lock again.
    pub fn local_recursive() -> Self {
        Self::with_parts(None, true, false)
    }

    /// `true` for a lock made by [`MpiLock::local`].
    pub fn is_local(&self) -> bool {
        self.dist.is_none()
    }

    /// `true` if the holding thread may lock again (see
    /// [`LockOptions::recursive`]).
    pub fn is_recursive(&self) -> bool {
        self.recursive
    }

    /// The grant order chosen at creation ([`Order::Fifo`] in local mode).
    pub fn order(&self) -> Order {
        match self.dist.as_ref().map(|d| &d.protocol) {
            Some(Protocol::Batched(batch)) => Order::NodeBatched {
                max_batch: batch.max_batch(),
            },
            _ => Order::Fifo,
        }
    }

    /// `true` when the lock's path uses CPU atomics (see [`Access`]): every
    /// rank shares one node, or, in the node-batched order, for the words
    /// each node keeps for its own ranks.
    pub fn uses_cpu_atomics(&self) -> bool {
        self.dist.as_ref().is_some_and(|d| {
            d.queue.backing.is_node()
                || matches!(&d.protocol, Protocol::Batched(batch) if batch.is_node())
        })
    }

    /// This process's rank in the lock's communicator (0 in local mode).
    pub fn rank(&self) -> i32 {
        self.dist.as_ref().map_or(0, |d| d.rank())
    }

    /// The number of ranks of the lock's communicator (1 in local mode).
    pub fn size(&self) -> i32 {
        self.dist.as_ref().map_or(1, |d| d.queue.backing.size())
    }

    /// The rank holding the waiting list (`None` in local mode).
    pub fn root(&self) -> Option<i32> {
        self.dist.as_ref().map(|d| d.queue.root)
    }

    /// This rank's counters (acquisitions, remote operations, polls).
    pub fn stats(&self) -> LockStats {
        self.stats.snapshot()
    }

    /// `true` when some thread of this rank holds the lock.
    pub fn is_held(&self) -> bool {
        self.local.holder() != 0
    }

    /// `true` when some rank holds the lock or waits for it, at the moment
    /// of one atomic read of the tail of the waiting list (a snapshot: it
    /// may change as soon as it is read).
    ///
    /// # Errors
    /// The MPI error of the read.
    pub fn is_locked(&self) -> Result<bool, LockError> {
        match &self.dist {
            None => Ok(self.is_held()),
            Some(d) => {
                self.check_thread(thread_token())?;
                Ok(d.is_locked()?)
            }
        }
    }

    /// Refuses thread `me` when MPI lets only the creating thread use the
    /// lock and `me` is another.
    #[inline]
    fn check_thread(&self, me: u64) -> Result<(), LockError> {
        match &self.dist {
            Some(Distributed {
                single_threaded: Some(level),
                creator,
                ..
            }) if *creator != me => Err(LockError::ThreadLevel { level }),
            _ => Ok(()),
        }
    }

    /// The calling thread's token, or the guard of a recursive re-entry
    /// when this thread holds the lock already.
    #[inline]
    fn enter(&self) -> Result<Result<u64, MpiLockGuard<'_>>, LockError> {
        let me = thread_token();
        self.check_thread(me)?;
        // Only this thread ever stores its own token, so seeing it means that
        // this thread holds the lock.
        if self.local.holder() != me {
            return Ok(Ok(me));
        }
        if !self.recursive {
            return Err(LockError::AlreadyHeld);
        }
        // SAFETY: this thread holds the turn (checked above), and no other
        // reference to the state is alive (guards take none between calls).
        let state = unsafe { self.local.state_mut() };
        state.depth += 1;
        Ok(Err(MpiLockGuard::new(self)))
    }

    /// Acquires the lock, waiting for the ranks (and local threads) that
    /// requested it earlier. In the FIFO order ranks are served in the order
    /// their requests reached the lock; in the node-batched order, in that
    /// order within a node, a node keeping the lock for at most `max_batch`
    /// grants in a row while another waits.
    ///
    /// # Errors
    /// [`LockError::AlreadyHeld`] if this thread holds the lock already (and
    /// the lock is not recursive), [`LockError::ThreadLevel`] from a
    /// non-creating thread without `MPI_THREAD_MULTIPLE`,
    /// [`LockError::Broken`] after an earlier MPI failure, or the MPI error
    /// that interrupted the protocol.
    #[inline]
    pub fn lock(&self) -> Result<MpiLockGuard<'_>, LockError> {
        let me = match self.enter()? {
            Ok(me) => me,
            Err(reentered) => return Ok(reentered),
        };
        self.local.enter(me);
        let guard = self.acquire_with(|dist, stats| dist.acquire(stats).map(Some))?;
        Ok(guard.expect("a blocking acquire always returns a ticket"))
    }

    /// Acquires the lock only if nobody holds it or waits for it; returns
    /// `Ok(None)` otherwise. Never waits for another rank.
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    #[inline]
    pub fn try_lock(&self) -> Result<Option<MpiLockGuard<'_>>, LockError> {
        let me = match self.enter()? {
            Ok(me) => me,
            Err(reentered) => return Ok(Some(reentered)),
        };
        if !self.local.try_enter(me) {
            Counters::add_shared(&self.stats.failed_tries, 1);
            return Ok(None);
        }
        self.acquire_with(|dist, stats| dist.try_acquire(stats))
    }

    /// With the local turn held: runs the distributed `protocol`; on
    /// success returns the guard (which keeps the turn), else gives the turn
    /// back.
    #[inline]
    fn acquire_with(
        &self,
        protocol: impl FnOnce(&Distributed, &Counters) -> shm_core::Result<Option<u32>>,
    ) -> Result<Option<MpiLockGuard<'_>>, LockError> {
        // SAFETY: the caller took the turn for this thread, and no other
        // reference to the state is alive (this is the only one, dropped
        // before the turn is given back or handed to the guard).
        let state = unsafe { self.local.state_mut() };
        let ticket = if let Some(error) = &state.broken {
            Err(LockError::Broken(error.clone()))
        } else {
            match &self.dist {
                None => {
                    state.last_local_ticket = next_ticket(state.last_local_ticket);
                    Ok(Some(state.last_local_ticket))
                }
                Some(dist) => protocol(dist, &self.stats).map_err(|e| {
                    state.broken = Some(e.clone());
                    e.into()
                }),
            }
        };
        match ticket {
            Ok(Some(ticket)) => {
                state.held = true;
                state.depth = 1;
                state.ticket = ticket;
                Counters::add(&self.stats.acquisitions, 1);
                Ok(Some(MpiLockGuard::new(self)))
            }
            Ok(None) => {
                Counters::add_shared(&self.stats.failed_tries, 1);
                self.local.exit();
                Ok(None)
            }
            Err(e) => {
                self.local.exit();
                Err(e)
            }
        }
    }

    #[inline]
    pub(crate) fn release(&self, state: &mut State) -> Result<(), LockError> {
        if !state.held {
            return Ok(());
        }
        state.held = false;
        state.depth = 0;
        if let Some(dist) = &self.dist {
            if let Err(e) = dist.release(state.ticket, &self.stats) {
                state.broken = Some(e.clone());
                return Err(e.into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
