//! [`Condition`]: a condition variable across the ranks of a communicator,
//! used with an [`MpiLock`]. Its algorithm, words, costs and fairness are
//! documented on the type, where the rendered documentation shows them.

use crate::backing::Backing;
use crate::error::LockError;
use crate::guard::MpiLockGuard;
use crate::lock::MpiLock;
use mpi::topology::Communicator;
use shm_core::sync::AtomicWords;
use std::cell::RefCell;

mod options;

pub use options::ConditionOptions;

const HEAD: usize = 0;
const TAIL: usize = 1;
const NEXT: usize = 2;
const WAKE: usize = 3;
const WORDS: usize = 4;

/// The lock of a condition: its own, or borrowed from the caller.
enum LockRef<'l> {
    /// Boxed: a lock is large, the other variants small.
    Owned(Box<MpiLock>),
    Borrowed(&'l MpiLock),
    /// After `close`.
    Closed,
}

/// A condition variable across the ranks of a communicator, used with an
/// [`MpiLock`]; its algorithm follows the example.
///
/// ```no_run
/// use mpi_lock::Condition;
/// # fn data_is_ready() -> bool { true }
/// let universe = mpi::initialize().unwrap();
/// let world = universe.world();
/// let cv = Condition::new(&world)?;
/// let guard = cv.lock()?;
/// // Sleeps (with the lock released) until another rank changes the data
/// // under the lock and calls `cv.notify_all(&its_guard)`.
/// let guard = cv.wait_for(guard, data_is_ready)?;
/// drop(guard);
/// cv.close()?; // collective
/// # Ok::<(), mpi_lock::LockError>(())
/// ```
///
/// A rank holding the lock calls [`Condition::wait`]: it joins a FIFO of
/// waiting ranks, releases the lock, sleeps until a notify takes it out of
/// the FIFO, and takes the lock again before returning. A rank holding the
/// lock calls [`Condition::notify`] to wake up to `n` waiters, oldest first.
///
/// # Algorithm
/// The FIFO of waiting ranks is a linked list in window words, as in
/// mpi4py's `Condition` (its `_enqueue`/`_dequeue`/`_sleep`/`_wakeup`); our
/// version keeps a head and a tail word on the root (mpi4py keeps a circular
/// list with only the tail) and is our own code. Every word but `wake` is
/// read and written only by the rank holding the lock, so plain atomic loads,
/// stores and swaps suffice: the lock orders them.
///
/// | word | name   | on        | meaning |
/// |------|--------|-----------|---------|
/// | 0    | `head` | root only | `r + 1`, `r` being the oldest waiting rank; 0 = nobody waits |
/// | 1    | `tail` | root only | `r + 1`, `r` being the newest waiting rank; 0 = nobody waits |
/// | 2    | `next` | each rank | `s + 1`, `s` being the rank that waits after this one; 0 = none (always 0 when this rank does not wait) |
/// | 3    | `wake` | each rank | 1 once a notify took this rank out of the FIFO; its owner swaps it back to 0 |
///
/// **Wait** (rank `r`, holding the lock): `t = swap(root.tail, r + 1)`, then
/// `t.next = r + 1` (or `root.head = r + 1` when `t` is 0): 2 remote
/// operations. Release the lock, poll our own `wake` until it is 1 (local
/// polls only), reset it, take the lock again.
///
/// **Notify `n`** (holding the lock): read `root.head`; for each of up to `n`
/// waiters from the head, `swap(w.next, 0)` (its successor) and
/// `w.wake = 1`; write the new head (and `tail = 0` when the FIFO empties).
/// That is 1 remote operation when nobody waits, `2 + 2k` (or `3 + 2k` when
/// the FIFO empties) to wake `k` ranks.
///
/// # No lost and no spurious wake-ups
/// A waiter joins the FIFO while it holds the lock, and a notifier reads the
/// FIFO while it holds the lock, so a notify that runs after the waiter
/// released the lock finds it. The `wake` flag stays set until its owner
/// consumes it, so it does not matter whether the waiter is polling yet.
/// `wake` is set only by a notify that took its rank out of the FIFO, and is
/// consumed by exactly one wait: there are no spurious wake-ups. A woken
/// rank must still take the lock, and another rank may change the shared
/// state in between: check the state again, as [`Condition::wait_for`] does.
///
/// # Fairness and progress
/// Waiters are woken in the order they waited; they then take the lock in
/// the (FIFO) order of their requests. A waiter polls only its own `wake`
/// word, driving MPI progress (see
/// [`shm_core::sync::poll`]).
///
/// # Threads and errors
/// A `Condition` is neither `Send` nor `Sync`: one thread of each rank uses
/// it (the lock itself may be shared by other threads, which then do not
/// wait on this condition). A guard of another lock is
/// [`LockError::WrongObject`]; a wait with a recursive lock held more than
/// once is [`LockError::WaitWhileRecursive`]. An MPI error (or an
/// `RMA_WAIT_DEADLINE` timeout) while this rank is in the FIFO leaves the
/// FIFO in an unknown state: every later call returns [`LockError::Broken`].
///
/// There is no local (`comm = None`) mode: in one single-threaded process a
/// wait could never be notified. Over `MPI_COMM_SELF` the condition works,
/// with notify returning 0.
#[must_use = "dropping the condition frees it (collectively)"]
pub struct Condition<'l> {
    // Freed before the lock (see `shutdown`).
    backing: Option<Backing<i32>>,
    lock: LockRef<'l>,
    root: i32,
    /// Set when an error left this rank's place in the FIFO unknown.
    broken: RefCell<Option<shm_core::Error>>,
}

impl std::fmt::Debug for Condition<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Condition")
            .field("root", &self.root)
            .field("words", &self.backing.as_ref().map(Backing::words))
            .field("owns_lock", &matches!(self.lock, LockRef::Owned(_)))
            .finish()
    }
}

impl Condition<'static> {
    /// Creates a condition with a lock of its own over `comm`, its words on
    /// rank 0 (collective over `comm`).
    pub fn new<C: Communicator + ?Sized>(comm: &C) -> Result<Self, LockError> {
        ConditionOptions::default().create(comm)
    }
}

impl<'l> Condition<'l> {
    /// Creates a condition over an existing `lock`, on the lock's
    /// communicator (collective over it).
    ///
    /// # Errors
    /// [`shm_core::Error::Usage`] for a [local](MpiLock::local) lock; the
    /// errors of creating the words.
    pub fn with_lock(lock: &'l MpiLock) -> Result<Self, LockError> {
        ConditionOptions::default().with_lock(lock)
    }

    /// The options of a new condition: root rank and access.
    pub fn options() -> ConditionOptions {
        ConditionOptions::default()
    }

    /// The lock the condition is used with.
    pub fn mpi_lock(&self) -> &MpiLock {
        match &self.lock {
            LockRef::Owned(lock) => lock,
            LockRef::Borrowed(lock) => lock,
            LockRef::Closed => unreachable!("a closed condition cannot be used"),
        }
    }

    /// Takes the lock ([`MpiLock::lock`]).
    pub fn lock(&self) -> Result<MpiLockGuard<'_>, LockError> {
        self.mpi_lock().lock()
    }

    /// The words; present from creation until `close`, which consumes `self`.
    fn backing(&self) -> &Backing<i32> {
        self.backing.as_ref().expect("open until closed")
    }

    /// Checks that `guard` holds this condition's lock and that the FIFO is
    /// usable.
    fn check(&self, guard: &MpiLockGuard<'_>) -> Result<&Backing<i32>, LockError> {
        if !std::ptr::eq(guard.lock, self.mpi_lock()) {
            return Err(LockError::WrongObject { what: "lock" });
        }
        if let Some(error) = &*self.broken.borrow() {
            return Err(LockError::Broken(error.clone()));
        }
        Ok(self.backing())
    }

    /// Passes `result` on, remembering an error as the condition's breakage.
    fn record<R>(&self, result: shm_core::Result<R>) -> Result<R, LockError> {
        result.map_err(|e| {
            *self.broken.borrow_mut() = Some(e.clone());
            e.into()
        })
    }

    /// Releases the lock held by `guard`, waits until another rank notifies
    /// this one, and takes the lock again, returning its new guard.
    ///
    /// There are no spurious wake-ups, but the state the caller waits for
    /// may have changed again before the lock was retaken: prefer
    /// [`wait_for`](Self::wait_for).
    ///
    /// # Errors
    /// [`LockError::WrongObject`] for a guard of another lock and
    /// [`LockError::WaitWhileRecursive`] when the thread holds the lock more
    /// than once (then `guard` is dropped, releasing its hold);
    /// [`LockError::Broken`] after an earlier failure; the MPI errors of the
    /// FIFO, of the lock, or of the wait (`RMA_WAIT_DEADLINE`).
    pub fn wait<'g>(&self, guard: MpiLockGuard<'g>) -> Result<MpiLockGuard<'g>, LockError> {
        let backing = self.check(&guard)?;
        let depth = guard.depth();
        if depth > 1 {
            return Err(LockError::WaitWhileRecursive { depth });
        }
        let me = backing.rank();
        self.record(self.enqueue(backing, me))?;
        let lock: &'g MpiLock = guard.lock;
        // A failed release breaks the lock on this rank (it refuses later
        // use), so this rank can never wait here again: no need to mark the
        // FIFO too.
        guard.unlock()?;
        self.record(backing.wait_for(me, WAKE, |wake| wake != 0))?;
        self.record(backing.words().swap(me, WAKE, 0))?;
        lock.lock()
    }

    /// Waits ([`wait`](Self::wait)) until `predicate` returns `true`; it is
    /// called with the lock held, first before any wait (mpi4py's
    /// `wait_for`).
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn wait_for<'g>(
        &self,
        guard: MpiLockGuard<'g>,
        mut predicate: impl FnMut() -> bool,
    ) -> Result<MpiLockGuard<'g>, LockError> {
        self.check(&guard)?;
        let mut guard = guard;
        while !predicate() {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Waits ([`wait`](Self::wait)) as long as `condition` returns `true`
    /// (`std::sync::Condvar::wait_while`): `wait_for` with the negated
    /// predicate.
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn wait_while<'g>(
        &self,
        guard: MpiLockGuard<'g>,
        mut condition: impl FnMut() -> bool,
    ) -> Result<MpiLockGuard<'g>, LockError> {
        self.wait_for(guard, || !condition())
    }

    /// Wakes up to `n` waiting ranks, the longest-waiting first, and returns
    /// how many it woke (0 when nobody waits). `guard` proves that this
    /// thread holds the lock.
    ///
    /// # Errors
    /// [`LockError::WrongObject`] for a guard of another lock;
    /// [`LockError::Broken`] after an earlier failure; the MPI errors of the
    /// FIFO.
    pub fn notify(&self, guard: &MpiLockGuard<'_>, n: usize) -> Result<usize, LockError> {
        let backing = self.check(guard)?;
        self.record(self.dequeue(backing, n))
    }

    /// Wakes the longest-waiting rank, if any: [`notify`](Self::notify)
    /// with `n = 1`.
    ///
    /// # Errors
    /// As [`notify`](Self::notify).
    pub fn notify_one(&self, guard: &MpiLockGuard<'_>) -> Result<usize, LockError> {
        self.notify(guard, 1)
    }

    /// Wakes every waiting rank and returns how many.
    ///
    /// # Errors
    /// As [`notify`](Self::notify).
    pub fn notify_all(&self, guard: &MpiLockGuard<'_>) -> Result<usize, LockError> {
        self.notify(guard, usize::MAX)
    }

    /// Appends rank `me` to the FIFO (the lock is held).
    fn enqueue(&self, backing: &Backing<i32>, me: i32) -> shm_core::Result<()> {
        let words = backing.words();
        let id = me + 1;
        let tail = words.swap(self.root, TAIL, id)?;
        if tail == 0 {
            words.store(self.root, HEAD, id)
        } else {
            words.store(tail - 1, NEXT, id)
        }
    }

    /// Takes up to `n` ranks from the head of the FIFO and sets their wake
    /// flags (the lock is held).
    fn dequeue(&self, backing: &Backing<i32>, n: usize) -> shm_core::Result<usize> {
        let words = backing.words();
        let mut head = words.load(self.root, HEAD)?;
        if head == 0 || n == 0 {
            return Ok(0);
        }
        let mut woken = 0;
        while head != 0 && woken < n {
            let waiter = head - 1;
            // Reset its link as we read it: `next` is 0 outside the FIFO.
            head = words.swap(waiter, NEXT, 0)?;
            words.store(waiter, WAKE, 1)?;
            woken += 1;
        }
        words.store(self.root, HEAD, head)?;
        if head == 0 {
            words.store(self.root, TAIL, 0)?;
        }
        Ok(woken)
    }

    /// Frees the condition, and its own lock if it has one (collective over
    /// the condition's communicator).
    ///
    /// # Errors
    /// [`LockError::Broken`] on every rank (with the message of the lowest
    /// broken rank) if an error broke the FIFO somewhere; the errors of
    /// closing the own lock ([`MpiLock::close`]). Everything is freed in
    /// every case.
    pub fn close(mut self) -> Result<(), LockError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), LockError> {
        let Some(backing) = self.backing.take() else {
            return Ok(());
        };
        let failure = self.broken.get_mut().take().map(|e| e.to_string());
        let agreed = backing.comm().agree(failure.map_or(Ok(()), Err));
        // Collective, like the agreement: every rank got here.
        drop(backing);
        let closed = match std::mem::replace(&mut self.lock, LockRef::Closed) {
            LockRef::Owned(lock) => lock.close(),
            LockRef::Borrowed(_) | LockRef::Closed => Ok(()),
        };
        agreed.map_err(|e| match e {
            // The lowest broken rank's error, which every rank got.
            invalid @ shm_core::Error::Invalid { .. } => LockError::Broken(invalid),
            other => other.into(),
        })?;
        closed
    }
}

impl Drop for Condition<'_> {
    fn drop(&mut self) {
        // A panicking rank must not enter collectives; the words (and an own
        // lock) leak instead, by their own drops.
        if std::thread::panicking() {
            return;
        }
        if let Err(e) = self.shutdown() {
            eprintln!(
                "mpi-lock: error while dropping a condition (use Condition::close to handle it): {e}"
            );
        }
    }
}
