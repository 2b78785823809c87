//! [`MpiLock`]: the lock's state on this rank, its creation, acquisition
//! (through the MCS queue of `queue.rs`, behind a local mutex for the
//! threads of the rank) and its collective close.

use crate::error::LockError;
use crate::guard::MpiLockGuard;
use crate::queue::{next_ticket, Queue, WORDS};
use crate::stats::{Counters, LockStats};
use mpi::topology::Communicator;
use shm_core::window::Window;
use shm_core::OwnedComm;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

/// This process's view of the lock, guarded by the local mutex.
#[derive(Default)]
pub(crate) struct State {
    /// This rank (one of its threads) holds the lock.
    pub(crate) held: bool,
    /// The ticket of the current (or last) hold.
    pub(crate) ticket: u32,
    /// Local mode: the ticket of the last grant.
    pub(crate) last_local_ticket: u32,
    /// Set when an MPI error interrupted the protocol half-way.
    pub(crate) broken: Option<shm_core::Error>,
}

/// A small per-thread number (never 0), to recognise the holding thread.
fn thread_token() -> u64 {
    static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static TOKEN: u64 = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
    }
    TOKEN.with(|t| *t)
}

fn level_name(level: mpi::Threading) -> Option<&'static str> {
    match level {
        mpi::Threading::Multiple => None,
        mpi::Threading::Serialized => Some("serialized"),
        mpi::Threading::Funneled => Some("funneled"),
        mpi::Threading::Single => Some("single"),
    }
}

/// A distributed FIFO mutex over an MPI communicator (an MCS queue lock on
/// one RMA window), or an in-process mutex with the same interface
/// ([`MpiLock::local`]).
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
    pub(crate) dist: Option<Queue>,
    pub(crate) state: parking_lot::Mutex<State>,
    /// `thread_token()` of the thread holding `state` (0 = none).
    pub(crate) owner: AtomicU64,
    pub(crate) stats: Counters,
    /// Makes the type `!Send` whatever its fields are (see the type docs).
    pub(crate) _not_send: PhantomData<*const ()>,
}

// SAFETY: `MpiLock` is `!Sync` only because of the MPI handles in `dist` (the
// window's raw pointers and `Cell`, the communicator). Through `&MpiLock`:
// * every MPI call on the window or the communicator, and every use of their
//   interior mutability, happens inside `acquire`/`try_acquire`/`release`,
//   which are only called while holding the `state` mutex, so at most one
//   thread of this process uses them at a time;
// * the other fields read through `&self` (`rank`, `root`, the window's
//   segment lengths, `creator`, `single_threaded`) are never mutated after
//   construction, and `owner` and the counters are atomics;
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
                .field("rank", &d.rank)
                .field("size", &d.comm.size())
                .field("root", &d.root)
                .finish(),
        }
    }
}

impl MpiLock {
    /// Creates a lock over `comm`, with the waiting list on rank 0
    /// (collective over `comm`).
    pub fn new<C: Communicator + ?Sized>(comm: &C) -> Result<Self, LockError> {
        Self::with_root(comm, 0)
    }

    /// Creates a lock over `comm` whose waiting list (the tail word) lives on
    /// rank `root` (collective over `comm`; `root` must be the same valid rank
    /// everywhere, otherwise every rank returns the same
    /// [`shm_core::Error::Invalid`]).
    ///
    /// The lock duplicates `comm`, so several locks on one communicator, and
    /// the application's own messages, never interfere.
    pub fn with_root<C: Communicator + ?Sized>(comm: &C, root: i32) -> Result<Self, LockError> {
        let comm = OwnedComm::duplicate(comm)?;
        let size = comm.size();
        let mut bounds = [root as i64, -(root as i64)];
        comm.all_reduce_min(&mut bounds)?;
        let (lowest, highest) = (bounds[0], -bounds[1]);
        // Every rank computes the same verdict from the same reduction.
        let verdict = if lowest != highest {
            Err(format!(
                "the root rank differs between ranks (from {lowest} to {highest})"
            ))
        } else if !(0..size as i64).contains(&lowest) {
            Err(format!(
                "root rank {lowest} is outside the communicator of {size} ranks"
            ))
        } else {
            Ok(())
        };
        comm.agree(verdict)?;
        // 32-bit words: Open MPI 4.x (osc/rdma over btl/vader) crashes on
        // 64-bit MPI_Compare_and_swap (open-mpi/ompi#7967, #11349).
        let win = Window::<i32>::allocate(comm.communicator(), WORDS)?;
        // No process ever takes an exclusive MPI_Win_lock on this private
        // window, so the lock_all epoch may assert MPI_MODE_NOCHECK.
        let win = win.into_locked(true)?;
        Ok(MpiLock {
            dist: Some(Queue {
                win,
                rank: comm.rank(),
                comm,
                root,
                creator: thread_token(),
                single_threaded: level_name(mpi::environment::threading_support()),
            }),
            state: parking_lot::Mutex::new(State::default()),
            owner: AtomicU64::new(0),
            stats: Counters::default(),
            _not_send: PhantomData,
        })
    }

    /// An in-process lock with the same interface and no MPI at all (pshmem's
    /// `comm=None`): it serialises the threads of this process.
    pub fn local() -> Self {
        MpiLock {
            dist: None,
            state: parking_lot::Mutex::new(State::default()),
            owner: AtomicU64::new(0),
            stats: Counters::default(),
            _not_send: PhantomData,
        }
    }

    /// `true` for a lock made by [`MpiLock::local`].
    pub fn is_local(&self) -> bool {
        self.dist.is_none()
    }

    /// This process's rank in the lock's communicator (0 in local mode).
    pub fn rank(&self) -> i32 {
        self.dist.as_ref().map_or(0, |d| d.rank)
    }

    /// The number of ranks of the lock's communicator (1 in local mode).
    pub fn size(&self) -> i32 {
        self.dist.as_ref().map_or(1, |d| d.comm.size())
    }

    /// The rank holding the waiting list (`None` in local mode).
    pub fn root(&self) -> Option<i32> {
        self.dist.as_ref().map(|d| d.root)
    }

    /// This rank's counters (acquisitions, remote operations, polls).
    pub fn stats(&self) -> LockStats {
        self.stats.snapshot()
    }

    fn check_thread(&self) -> Result<(), LockError> {
        match &self.dist {
            Some(Queue {
                single_threaded: Some(level),
                creator,
                ..
            }) if *creator != thread_token() => Err(LockError::ThreadLevel { level }),
            _ => Ok(()),
        }
    }

    fn check_reentry(&self) -> Result<u64, LockError> {
        let me = thread_token();
        // Only this thread ever stores its own token, so seeing it means that
        // this thread holds the lock.
        if self.owner.load(Ordering::Acquire) == me {
            Err(LockError::AlreadyHeld)
        } else {
            Ok(me)
        }
    }

    /// Acquires the lock, waiting for the ranks (and local threads) that
    /// requested it earlier. Ranks are served in the order their requests
    /// reached the waiting list.
    ///
    /// # Errors
    /// [`LockError::AlreadyHeld`] if this thread holds the lock already,
    /// [`LockError::ThreadLevel`] from a non-creating thread without
    /// `MPI_THREAD_MULTIPLE`, [`LockError::Broken`] after an earlier MPI
    /// failure, or the MPI error that interrupted the protocol.
    pub fn lock(&self) -> Result<MpiLockGuard<'_>, LockError> {
        self.check_thread()?;
        let me = self.check_reentry()?;
        let state = self.state.lock();
        let guard = self.acquire_with(state, me, |dist, stats| dist.acquire(stats).map(Some))?;
        Ok(guard.expect("a blocking acquire always returns a ticket"))
    }

    /// Acquires the lock only if nobody holds it or waits for it; returns
    /// `Ok(None)` otherwise. Never waits for another rank.
    ///
    /// # Errors
    /// As [`lock`](Self::lock).
    pub fn try_lock(&self) -> Result<Option<MpiLockGuard<'_>>, LockError> {
        self.check_thread()?;
        let me = self.check_reentry()?;
        let Some(state) = self.state.try_lock() else {
            Counters::add(&self.stats.failed_tries, 1);
            return Ok(None);
        };
        self.acquire_with(state, me, |dist, stats| dist.try_acquire(stats))
    }

    fn acquire_with<'a>(
        &'a self,
        mut state: parking_lot::MutexGuard<'a, State>,
        me: u64,
        protocol: impl FnOnce(&Queue, &Counters) -> shm_core::Result<Option<u32>>,
    ) -> Result<Option<MpiLockGuard<'a>>, LockError> {
        if let Some(error) = &state.broken {
            return Err(LockError::Broken(error.clone()));
        }
        let ticket = match &self.dist {
            None => {
                state.last_local_ticket = next_ticket(state.last_local_ticket);
                Some(state.last_local_ticket)
            }
            Some(dist) => match protocol(dist, &self.stats) {
                Ok(ticket) => ticket,
                Err(e) => {
                    state.broken = Some(e.clone());
                    return Err(e.into());
                }
            },
        };
        let Some(ticket) = ticket else {
            Counters::add(&self.stats.failed_tries, 1);
            return Ok(None);
        };
        Counters::add(&self.stats.acquisitions, 1);
        state.held = true;
        state.ticket = ticket;
        self.owner.store(me, Ordering::Release);
        Ok(Some(MpiLockGuard {
            lock: self,
            state: Some(state),
            ticket,
            _not_send: PhantomData,
        }))
    }

    pub(crate) fn release(&self, state: &mut State) -> Result<(), LockError> {
        if !state.held {
            return Ok(());
        }
        state.held = false;
        if let Some(dist) = &self.dist {
            if let Err(e) = dist.release(state.ticket, &self.stats) {
                state.broken = Some(e.clone());
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Frees the lock (collective over the lock's communicator).
    ///
    /// Every rank must call it (or drop the lock) at the same point of its
    /// sequence of collective calls. Ranks still waiting for the lock are
    /// served first: `close` returns once every rank has reached it.
    ///
    /// # Errors
    /// [`LockError::HeldAtClose`] on every rank if some rank still held the
    /// lock because its guard was leaked (that rank releases it first, so
    /// nobody is left waiting); [`LockError::Broken`] on every rank (with the
    /// message of the lowest broken rank) if an MPI error broke the protocol
    /// somewhere. The lock's window and communicator are freed in every case.
    pub fn close(mut self) -> Result<(), LockError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), LockError> {
        // `get_mut` works even if a leaked guard left the mutex locked: we
        // own the lock, so no guard can be alive.
        let state = self.state.get_mut();
        let Some(dist) = self.dist.take() else {
            let was_held = std::mem::replace(&mut state.held, false);
            return if was_held {
                Err(LockError::HeldAtClose { rank: 0 })
            } else {
                Ok(())
            };
        };
        let mut local_failure = state.broken.as_ref().map(|e| e.to_string());
        let was_held = state.held;
        if was_held {
            state.held = false;
            if local_failure.is_none() {
                if let Err(e) = dist.release(state.ticket, &self.stats) {
                    local_failure = Some(e.to_string());
                }
            }
        }
        let mut held = [if was_held { dist.rank as i64 } else { i64::MAX }];
        let reduced = dist.comm.all_reduce_min(&mut held);
        let agreed = dist.comm.agree(local_failure.map_or(Ok(()), Err));
        // Freeing the window is collective; every rank got here.
        drop(dist);
        reduced?;
        if let Err(e) = agreed {
            return Err(match e {
                // The lowest broken rank's error, which every rank got.
                invalid @ shm_core::Error::Invalid { .. } => LockError::Broken(invalid),
                other => other.into(),
            });
        }
        if held[0] != i64::MAX {
            return Err(LockError::HeldAtClose {
                rank: held[0] as i32,
            });
        }
        Ok(())
    }
}

impl Drop for MpiLock {
    fn drop(&mut self) {
        if self.dist.is_none() {
            return;
        }
        if std::thread::panicking() {
            // A panicking rank must not enter collectives the other ranks may
            // never reach; leak the window and communicator instead.
            std::mem::forget(self.dist.take());
            return;
        }
        if let Err(e) = self.shutdown() {
            eprintln!(
                "mpi-lock: error while dropping the lock (use MpiLock::close to handle it): {e}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn local_lock_and_try_lock() {
        let lock = MpiLock::local();
        assert!(lock.is_local());
        assert_eq!((lock.rank(), lock.size(), lock.root()), (0, 1, None));
        let g = lock.lock().unwrap();
        assert_eq!(g.ticket(), 1);
        // Not reentrant: an error, not a deadlock.
        assert_eq!(lock.lock().unwrap_err(), LockError::AlreadyHeld);
        assert_eq!(lock.try_lock().unwrap_err(), LockError::AlreadyHeld);
        std::thread::scope(|s| {
            s.spawn(|| assert!(lock.try_lock().unwrap().is_none()));
        });
        g.unlock().unwrap();
        let g = lock.try_lock().unwrap().expect("free");
        assert_eq!(g.ticket(), 2);
        drop(g);
        let stats = lock.stats();
        assert_eq!(stats.acquisitions, 2);
        assert_eq!(stats.failed_tries, 1);
        assert_eq!(stats.remote_ops, 0);
        lock.close().unwrap();
    }

    #[test]
    fn local_lock_excludes_threads() {
        let lock = MpiLock::local();
        let inside = AtomicUsize::new(0);
        let mut counter = 0u64;
        let counter_ptr = std::sync::Mutex::new(&mut counter);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..500 {
                        let g = lock.lock().unwrap();
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                        **counter_ptr.try_lock().expect("the MpiLock excludes") += 1;
                        assert_eq!(inside.fetch_sub(1, Ordering::SeqCst), 1);
                        drop(g);
                    }
                });
            }
        });
        assert_eq!(counter, 2000);
        assert_eq!(lock.stats().acquisitions, 2000);
    }

    #[test]
    fn leaked_local_guard_is_reported_at_close() {
        let lock = MpiLock::local();
        std::mem::forget(lock.lock().unwrap());
        assert_eq!(
            lock.close().unwrap_err(),
            LockError::HeldAtClose { rank: 0 }
        );
    }

    #[test]
    fn thread_tokens_differ() {
        let here = thread_token();
        assert_ne!(here, 0);
        assert_eq!(here, thread_token());
        let there = std::thread::spawn(thread_token).join().unwrap();
        assert_ne!(here, there);
    }
}
