//! [`Semaphore`]: a counting semaphore over the ranks of a communicator
//! (mpi4py's `mpi4py.util.sync.Semaphore`), on RMA words: a word of
//! permits in use, and the MCS queue of `queue.rs` for the ranks waiting.

use crate::error::LockError;
use crate::queue::{Queue, WORDS};
use crate::stats::Counters;
use crate::words::Access;
use mpi::topology::Communicator;
use shm_core::sync::AtomicWords;
use std::cell::{Cell, RefCell};

mod guard;
mod options;

pub use guard::SemaphoreGuard;
pub use options::SemaphoreOptions;

/// Word of the root's segment holding the number of permits in use (taken
/// and not given back): 0 at first, so the zeroed window needs no
/// initialisation. The permits free are `count - OUT`; an unbounded
/// semaphore released more than it was acquired has a negative `OUT`.
const OUT: usize = WORDS;

/// What a bounded semaphore's over-release returns in
/// [`LockError::NotHeld`].
const PERMIT: &str = "a semaphore permit";

/// A counting semaphore over the ranks of a communicator, with `count`
/// permits (mpi4py's `Semaphore`; bounded by default, like its
/// `bounded=True`).
///
/// [`acquire`](Semaphore::acquire) waits for a free permit and returns a
/// guard that gives it back when dropped; [`try_acquire`](Semaphore::try_acquire)
/// never waits. Since a permit is not tied to a rank, a permit taken on one
/// rank may be given back on another: [`acquire_permit`](Semaphore::acquire_permit)
/// and [`release_permit`](Semaphore::release_permit) do that without a
/// guard. A *bounded* semaphore refuses to be released beyond its `count`
/// ([`LockError::NotHeld`], the count unchanged); an unbounded one lets
/// releases add permits.
///
/// ```no_run
/// use mpi_lock::Semaphore;
/// let universe = mpi::initialize().unwrap();
/// let world = universe.world();
/// // At most two ranks at a time in the section (say, opening files).
/// let sem = Semaphore::new(&world, 2)?;
/// {
///     let _permit = sem.acquire()?;
///     // At most two ranks run this at once.
/// } // given back here
/// sem.close()?; // collective
/// # Ok::<(), mpi_lock::LockError>(())
/// ```
///
/// # Algorithm and fairness
/// Word `out` on the root counts the permits in use; taking a permit is a
/// compare-and-swap of `out` to `out + 1` while `out < count`, giving back
/// one is a compare-and-swap to `out - 1` (bounded: only while `out > 0`).
/// Each rank remembers the last value of `out` it saw and tries that first,
/// so an uncontended take or give-back is one remote operation.
///
/// Blocking acquirers line up in an MCS queue (the one of
/// [`MpiLock`](crate::MpiLock), in the same window): only the rank at its
/// head polls `out`, with back-off, until a permit is free; it takes the
/// permit and passes the headship to the next in line, which waits on a
/// word of its own until then. So however many ranks wait, one of them
/// reads the central word, and **blocking acquirers are served in FIFO
/// order** (the order of their requests to the queue's tail). Two things
/// are outside that order: [`try_acquire`](Semaphore::try_acquire) takes a
/// free permit if there is one, ahead of the queue (as
/// `threading.Semaphore.acquire(blocking=False)` does), and releasing never
/// waits. A blocking `acquire` costs 3 remote operations uncontended (the
/// tail swap, the take, the tail reset), and 2 more when it waited.
///
/// # Use
/// Creating and closing the semaphore are collective; one thread of each
/// rank uses it (it is neither `Send` nor `Sync`). A rank may hold several
/// permits. Permits still taken at `close` are simply dropped.
pub struct Semaphore {
    /// `None` in local mode.
    queue: Option<Queue>,
    count: u32,
    bounded: bool,
    /// The last value of `out` this rank saw (local mode: `out` itself).
    seen: Cell<i32>,
    stats: Counters,
    /// An MPI error in the queue protocol left this rank's part of the
    /// queue in an unknown state.
    broken: RefCell<Option<shm_core::Error>>,
}

impl std::fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("Semaphore");
        s.field("count", &self.count)
            .field("bounded", &self.bounded);
        match &self.queue {
            None => s.field("mode", &"local"),
            Some(q) => s
                .field("rank", &q.backing.rank())
                .field("size", &q.backing.size())
                .field("root", &q.root),
        };
        s.finish()
    }
}

impl Semaphore {
    /// A bounded semaphore of `count` permits over `comm`, its words on rank
    /// 0 (collective over `comm`).
    ///
    /// # Errors
    /// The same [`shm_core::Error::Invalid`] on every rank when the ranks
    /// passed different counts or `count` exceeds `i32::MAX`; an MPI error.
    pub fn new<C: Communicator + ?Sized>(comm: &C, count: u32) -> Result<Self, LockError> {
        Self::options(count).create(comm)
    }

    /// The options of a new semaphore of `count` permits: bounded or not,
    /// the root rank, the access to the words.
    pub fn options(count: u32) -> SemaphoreOptions {
        SemaphoreOptions {
            count,
            bounded: true,
            root: 0,
            access: Access::Auto,
        }
    }

    /// A bounded semaphore of this process alone, without MPI (mpi4py's on
    /// `COMM_SELF`). Nothing else can give a permit back while this rank
    /// waits, so [`acquire`](Self::acquire) without a free permit is an
    /// error instead of a wait that would never end.
    ///
    /// # Errors
    /// [`shm_core::Error::Invalid`] when `count` exceeds `i32::MAX`.
    pub fn local(count: u32) -> Result<Self, LockError> {
        Self::options(count).local()
    }

    fn with_parts(queue: Option<Queue>, count: u32, bounded: bool) -> Self {
        Semaphore {
            queue,
            count,
            bounded,
            seen: Cell::new(0),
            stats: Counters::default(),
            broken: RefCell::new(None),
        }
    }

    /// The number of permits the semaphore started with.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// `true` if releases beyond `count` are refused.
    pub fn is_bounded(&self) -> bool {
        self.bounded
    }

    /// `true` for a semaphore made by [`Semaphore::local`].
    pub fn is_local(&self) -> bool {
        self.queue.is_none()
    }

    /// `true` when the words are reached with CPU atomics.
    pub fn uses_cpu_atomics(&self) -> bool {
        self.queue.as_ref().is_some_and(|q| q.backing.is_node())
    }

    /// This process's rank in the semaphore's communicator (0 in local
    /// mode).
    pub fn rank(&self) -> i32 {
        self.queue.as_ref().map_or(0, |q| q.backing.rank())
    }

    /// The number of ranks (1 in local mode).
    pub fn size(&self) -> i32 {
        self.queue.as_ref().map_or(1, |q| q.backing.size())
    }

    /// The rank holding the permit word and the queue's tail (`None` in
    /// local mode).
    pub fn root(&self) -> Option<i32> {
        self.queue.as_ref().map(|q| q.root)
    }

    /// The number of free permits, in one atomic read (a snapshot). It
    /// exceeds `count` only for an unbounded semaphore released more than
    /// it was acquired.
    ///
    /// # Errors
    /// The MPI error of the read.
    pub fn available(&self) -> Result<i64, LockError> {
        let out = match &self.queue {
            None => self.seen.get(),
            Some(q) => q.backing.words().load(q.root, OUT)?,
        };
        Ok(i64::from(self.count) - i64::from(out))
    }

    /// Waits for a free permit and takes it; the guard gives it back when
    /// dropped. Blocking acquirers are served in FIFO order (see the type's
    /// documentation).
    ///
    /// # Errors
    /// In local mode without a free permit, [`shm_core::Error::Invalid`]
    /// (the wait would never end). [`LockError::Broken`] after an MPI error
    /// in the queue; the MPI error itself; [`shm_core::Error::Deadline`]
    /// when a wait outlived `RMA_WAIT_DEADLINE`.
    pub fn acquire(&self) -> Result<SemaphoreGuard<'_>, LockError> {
        self.acquire_permit()?;
        Ok(SemaphoreGuard { sem: Some(self) })
    }

    /// Takes a free permit if there is one, without waiting; `Ok(None)`
    /// otherwise.
    ///
    /// # Errors
    /// The MPI error of the compare-and-swap.
    pub fn try_acquire(&self) -> Result<Option<SemaphoreGuard<'_>>, LockError> {
        Ok(self
            .try_acquire_permit()?
            // Lazily: a guard built and dropped would give a permit back.
            .then(|| SemaphoreGuard { sem: Some(self) }))
    }

    /// [`acquire`](Self::acquire) without a guard: the permit stays taken
    /// until [`release_permit`](Self::release_permit) gives it back, on this
    /// rank or another.
    ///
    /// # Errors
    /// As [`acquire`](Self::acquire).
    pub fn acquire_permit(&self) -> Result<(), LockError> {
        self.check_broken()?;
        let Some(queue) = &self.queue else {
            if self.take()? {
                return Ok(());
            }
            return Err(LockError::Core(shm_core::Error::Invalid {
                rank: Some(0),
                message:
                    "a local semaphore has no free permit, and nothing else can give one back: \
                          acquire would wait forever"
                        .to_string(),
            }));
        };
        let entry = queue.backing.rank();
        // Line up; at the head, wait for a permit; then pass the headship on.
        let ticket = queue
            .acquire(entry, &self.stats)
            .map_err(|e| self.mark_broken(e))?;
        let took = queue
            .backing
            .wait(|| Ok::<_, LockError>(self.take()?.then_some(())));
        let passed = queue
            .release(entry, ticket, &self.stats)
            .map_err(|e| self.mark_broken(e));
        took?;
        passed?;
        Counters::add(&self.stats.acquisitions, 1);
        Ok(())
    }

    /// [`try_acquire`](Self::try_acquire) without a guard: `true` if a
    /// permit was taken.
    ///
    /// # Errors
    /// As [`try_acquire`](Self::try_acquire).
    pub fn try_acquire_permit(&self) -> Result<bool, LockError> {
        self.check_broken()?;
        let took = self.take()?;
        if let (false, Some(queue)) = (took, &self.queue) {
            queue.backing.refused();
        }
        Counters::add(
            if took {
                &self.stats.acquisitions
            } else {
                &self.stats.failed_tries
            },
            1,
        );
        Ok(took)
    }

    /// Gives one permit back (on any rank, whichever rank took it).
    ///
    /// # Errors
    /// [`LockError::NotHeld`] (`what`: "a semaphore permit") when a bounded
    /// semaphore would exceed its `count`: the count is left unchanged.
    /// The MPI error of the compare-and-swap.
    pub fn release_permit(&self) -> Result<(), LockError> {
        self.release_permits(1)
    }

    /// Gives `n` permits back at once (mpi4py's `release(n)`), atomically:
    /// all of them or, on an error, none.
    ///
    /// # Errors
    /// As [`release_permit`](Self::release_permit); and
    /// [`shm_core::Error::Invalid`] when `n` is 0 or exceeds `i32::MAX`, or
    /// when an unbounded semaphore would pass `i32::MAX` free permits.
    pub fn release_permits(&self, n: u32) -> Result<(), LockError> {
        let invalid = |message: String| {
            LockError::Core(shm_core::Error::Invalid {
                rank: Some(self.rank()),
                message,
            })
        };
        let n = match i32::try_from(n) {
            Ok(n) if n > 0 => n,
            _ => return Err(invalid(format!("cannot release {n} semaphore permits"))),
        };
        let bounded = self.bounded;
        let released = self.update(|out| out.checked_sub(n).filter(|&new| !bounded || new >= 0))?;
        match released {
            Some(_) => Ok(()),
            None if bounded => Err(LockError::NotHeld { what: PERMIT }),
            None => Err(invalid(
                "an unbounded semaphore cannot have more than i32::MAX free permits".to_string(),
            )),
        }
    }

    /// Takes a permit if one is free.
    fn take(&self) -> Result<bool, LockError> {
        let count = self.count as i32;
        Ok(self
            .update(|out| (out < count).then_some(out + 1))?
            .is_some())
    }

    /// Replaces `out` by `decide(out)` atomically, unless `decide` returns
    /// `None` on a value read from the word; returns the value replaced.
    ///
    /// The first try assumes the last value seen, so an uncontended update
    /// is one compare-and-swap; a refusal is only final on a value just
    /// read.
    fn update(&self, mut decide: impl FnMut(i32) -> Option<i32>) -> Result<Option<i32>, LockError> {
        let mut seen = self.seen.get();
        let Some(queue) = &self.queue else {
            let new = decide(seen);
            if let Some(new) = new {
                self.seen.set(new);
            }
            return Ok(new.map(|_| seen));
        };
        let words = queue.backing.words();
        let mut fresh = false;
        loop {
            match decide(seen) {
                None if fresh => {
                    self.seen.set(seen);
                    return Ok(None);
                }
                None => {
                    seen = words.load(queue.root, OUT)?;
                    Counters::add(&self.stats.remote_ops, 1);
                }
                Some(new) => {
                    let old = words.compare_swap(queue.root, OUT, seen, new)?;
                    Counters::add(&self.stats.remote_ops, 1);
                    if old == seen {
                        self.seen.set(new);
                        return Ok(Some(old));
                    }
                    seen = old;
                }
            }
            fresh = true;
        }
    }

    fn check_broken(&self) -> Result<(), LockError> {
        match &*self.broken.borrow() {
            Some(error) => Err(LockError::Broken(error.clone())),
            None => Ok(()),
        }
    }

    fn mark_broken(&self, error: shm_core::Error) -> LockError {
        *self.broken.borrow_mut() = Some(error.clone());
        error.into()
    }

    /// Frees the semaphore (collective over its communicator; dropping it
    /// does the same). Permits still taken are dropped with it.
    ///
    /// # Errors
    /// [`LockError::Broken`] on every rank (with the lowest broken rank's
    /// message) after an MPI error in the queue anywhere. Everything is
    /// freed in every case.
    pub fn close(mut self) -> Result<(), LockError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), LockError> {
        let Some(queue) = self.queue.take() else {
            return Ok(());
        };
        let failure = self.broken.borrow().as_ref().map(ToString::to_string);
        let agreed = queue.backing.comm().agree(failure.map_or(Ok(()), Err));
        drop(queue);
        agreed.map_err(|e| match e {
            invalid @ shm_core::Error::Invalid { .. } => LockError::Broken(invalid),
            other => other.into(),
        })
    }
}

impl Drop for Semaphore {
    fn drop(&mut self) {
        if self.queue.is_none() || std::thread::panicking() {
            return;
        }
        if let Err(e) = self.shutdown() {
            eprintln!("mpi-lock: error while dropping a Semaphore (use Semaphore::close to handle it): {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_semaphore_counts_permits() {
        let sem = Semaphore::local(2).unwrap();
        assert!(sem.is_local() && sem.is_bounded());
        assert_eq!(sem.available().unwrap(), 2);
        let a = sem.acquire().unwrap();
        let b = sem.try_acquire().unwrap().expect("a second permit");
        assert!(sem.try_acquire().unwrap().is_none());
        assert!(matches!(
            sem.acquire().unwrap_err(),
            LockError::Core(shm_core::Error::Invalid { .. })
        ));
        assert_eq!(sem.available().unwrap(), 0);
        drop(a);
        assert_eq!(sem.available().unwrap(), 1);
        b.release().unwrap();
        assert_eq!(sem.available().unwrap(), 2);
        sem.close().unwrap();
    }

    #[test]
    fn bounded_local_semaphore_refuses_over_release() {
        let sem = Semaphore::local(1).unwrap();
        assert_eq!(
            sem.release_permit().unwrap_err(),
            LockError::NotHeld { what: PERMIT }
        );
        assert_eq!(sem.available().unwrap(), 1);
        sem.acquire_permit().unwrap();
        assert_eq!(
            sem.release_permits(2).unwrap_err(),
            LockError::NotHeld { what: PERMIT }
        );
        assert_eq!(sem.available().unwrap(), 0);
        sem.release_permit().unwrap();
        assert_eq!(sem.available().unwrap(), 1);
        for n in [0, u32::MAX] {
            assert!(matches!(
                sem.release_permits(n).unwrap_err(),
                LockError::Core(shm_core::Error::Invalid { .. })
            ));
        }
        assert_eq!(sem.available().unwrap(), 1);
    }

    #[test]
    fn unbounded_local_semaphore_grows() {
        let sem = Semaphore::options(1).bounded(false).local().unwrap();
        sem.release_permits(3).unwrap();
        assert_eq!(sem.available().unwrap(), 4);
        for _ in 0..4 {
            sem.acquire_permit().unwrap();
        }
        assert!(!sem.try_acquire_permit().unwrap());
        assert!(Semaphore::local(u32::MAX).is_err());
    }
}
