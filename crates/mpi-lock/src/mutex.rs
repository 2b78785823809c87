//! [`MpiMutex<T>`]: a lock and the data it protects, in a window on one
//! rank, and its guard. Its layout, algorithm and costs are documented on
//! the type, where the rendered documentation shows them.

use crate::error::LockError;
use crate::guard::MpiLockGuard;
use crate::lock::MpiLock;
use mpi::topology::Communicator;
use shm_core::window::LockedWindow;
use shm_core::{Element, OwnedComm};
use std::cell::{Cell, RefCell};
use std::marker::PhantomData;

mod guard;
mod options;

pub use guard::MpiMutexGuard;
pub use options::MpiMutexOptions;

/// Where the data lives.
enum Storage<T: Element> {
    /// On the root, in a window.
    Window { win: LockedWindow<T>, root: i32 },
    /// In this process ([`MpiMutex::local`]).
    Local(RefCell<Vec<T>>),
}

/// A distributed mutex and the `len` elements of `T` it protects, kept on
/// one rank; its layout and algorithm follow the example.
///
/// ```no_run
/// use mpi_lock::MpiMutex;
/// let universe = mpi::initialize().unwrap();
/// let world = universe.world();
/// let total = MpiMutex::<f64>::new(&world, 1)?;
/// total.lock()?.update(|data| data[0] += 1.0)?;
/// // ... later, once every rank has added its part:
/// let sum = total.lock()?.get_at(0)?;
/// total.close()?; // collective
/// # Ok::<(), mpi_lock::LockError>(())
/// ```
///
/// # Layout and algorithm
/// * The lock: an [`MpiLock`] over the same communicator (FIFO, see its
///   documentation for its words and costs).
/// * The data: one `MPI_Win_allocate` window of `T` on the mutex's own
///   duplicate of the communicator, `len` elements on the root and none
///   elsewhere, kept in a `MPI_Win_lock_all` epoch for its life. One copy,
///   so nothing to keep coherent: every access is an RMA call to the root.
///
/// The guard reads with `MPI_Get` and writes with `MPI_Put`. MPI does not
/// order a put and a later get of the same origin to the same place, so a
/// read after a write first completes the writes (`MPI_Win_flush` of the
/// root); the release completes them too, before the lock is passed on, so
/// the next holder reads what this one wrote.
///
/// | operation | RMA calls |
/// |-----------|-----------|
/// | `lock` / `unlock` | the lock's (1 to 2 remote operations each), plus 1 flush at unlock after a write |
/// | `get`, `get_at`, `read_all` | 1 get (plus 1 flush after a write) |
/// | `put` | 1 put |
/// | `update` | 1 get, 1 put of the whole data |
///
/// Fairness and progress are the lock's: FIFO, waiters poll their own
/// words.
///
/// # Use
/// Creation and [`MpiMutex::close`] (or the drop) are collective. The guard
/// borrows the mutex and is neither `Send` nor `Sync`. The mutex is `Sync`
/// but not `Send`, as [`MpiLock`]: the threads of a rank may share it by
/// reference (with [`std::thread::scope`]), and take turns for the data as
/// for the lock; a thread other than the creating one needs
/// `MPI_THREAD_MULTIPLE` ([`LockError::ThreadLevel`] otherwise). So a
/// window shared by the threads of several ranks needs no `unsafe` in the
/// user's code. Out-of-range accesses are
/// [`shm_core::Error::OutOfRange`] errors (inside [`LockError::Core`]) on
/// the calling rank. [`MpiMutex::local`] keeps the data in this process,
/// without MPI.
#[must_use = "dropping the mutex frees it (collectively)"]
pub struct MpiMutex<T: Element> {
    // Freed in this order: the data, the lock, the communicator of the
    // data (see `shutdown`).
    data: Option<Storage<T>>,
    lock: Option<MpiLock>,
    /// The mutex's own duplicate of the user's communicator (`None` in
    /// local mode).
    comm: Option<OwnedComm>,
    len: usize,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: `&MpiMutex` reaches the data only through a guard, and a guard
// exists only while its thread holds the mutex's `MpiLock`, which admits one
// thread of this process at a time (its local turn) and refuses every thread
// but the creating one unless MPI provides MPI_THREAD_MULTIPLE. So the data
// window's MPI calls (and the local mode's `RefCell`) are used by one thread
// at a time, from other threads only where MPI permits it; the lock itself
// is `Sync`. `len` never changes. Creating and freeing need ownership or
// `&mut`, and the type is not `Send`, so they stay on the creating thread.
unsafe impl<T: Element + Send> Sync for MpiMutex<T> {}

impl<T: Element> std::fmt::Debug for MpiMutex<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiMutex")
            .field("type", &T::NAME)
            .field("len", &self.len)
            .field("lock", &self.lock)
            .finish()
    }
}

impl<T: Element> MpiMutex<T> {
    /// Creates a mutex over `comm` protecting `len` zeros on rank 0
    /// (collective over `comm`).
    pub fn new<C: Communicator + ?Sized>(comm: &C, len: usize) -> Result<Self, LockError> {
        MpiMutexOptions::default().create(comm, len)
    }

    /// The options of a new mutex: root rank, access, initial data.
    pub fn options() -> MpiMutexOptions<T> {
        MpiMutexOptions::default()
    }

    /// An in-process mutex over `initial`, without MPI (pshmem's
    /// `comm = None`), shared by the threads of this process.
    pub fn local(initial: Vec<T>) -> Self {
        MpiMutex {
            len: initial.len(),
            data: Some(Storage::Local(RefCell::new(initial))),
            lock: Some(MpiLock::local()),
            comm: None,
            _not_send: PhantomData,
        }
    }

    /// The number of elements protected.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` when the mutex protects no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The lock.
    pub fn mpi_lock(&self) -> &MpiLock {
        self.lock.as_ref().expect("open until closed")
    }

    fn storage(&self) -> &Storage<T> {
        self.data.as_ref().expect("open until closed")
    }

    /// Takes the lock and returns the guard that reaches the data.
    ///
    /// # Errors
    /// Those of [`MpiLock::lock`].
    pub fn lock(&self) -> Result<MpiMutexGuard<'_, T>, LockError> {
        let guard = self.mpi_lock().lock()?;
        Ok(self.guard(guard))
    }

    /// Takes the lock only if nobody holds it or waits for it; `Ok(None)`
    /// otherwise.
    ///
    /// # Errors
    /// Those of [`MpiLock::try_lock`].
    pub fn try_lock(&self) -> Result<Option<MpiMutexGuard<'_, T>>, LockError> {
        Ok(self.mpi_lock().try_lock()?.map(|g| self.guard(g)))
    }

    fn guard<'a>(&'a self, guard: MpiLockGuard<'a>) -> MpiMutexGuard<'a, T> {
        MpiMutexGuard {
            mutex: self,
            guard: Some(guard),
            dirty: Cell::new(false),
            _not_send: PhantomData,
        }
    }

    /// Frees the data and the lock (collective over the communicator).
    ///
    /// # Errors
    /// Those of [`MpiLock::close`] (such as [`LockError::HeldAtClose`] for
    /// a leaked guard).
    pub fn close(mut self) -> Result<(), LockError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), LockError> {
        // Freeing the window is collective, as is closing the lock.
        drop(self.data.take());
        let closed = self.lock.take().map_or(Ok(()), MpiLock::close);
        drop(self.comm.take());
        closed
    }
}

impl<T: Element> Drop for MpiMutex<T> {
    fn drop(&mut self) {
        // A panicking rank leaks the window, lock and communicator (the
        // first two by their own drops) instead of entering collectives.
        if std::thread::panicking() {
            std::mem::forget(self.comm.take());
            return;
        }
        if let Err(e) = self.shutdown() {
            eprintln!("mpi-lock: error while dropping an MpiMutex (use MpiMutex::close to handle it): {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shm_core::Error;

    #[test]
    fn local_mutex_reads_writes_and_checks_ranges() {
        let mutex = MpiMutex::local(vec![1i64, 2, 3, 4]);
        assert_eq!((mutex.len(), mutex.is_empty()), (4, false));
        let g = mutex.lock().unwrap();
        assert_eq!(g.get(1..3).unwrap(), vec![2, 3]);
        assert_eq!(g.get(..=1).unwrap(), vec![1, 2]);
        assert_eq!(g.get(4..).unwrap(), Vec::<i64>::new());
        g.put(2, &[30, 40]).unwrap();
        assert_eq!(g.get_at(3).unwrap(), 40);
        let sum = g.update(|d| {
            d[0] += 10;
            d.iter().sum::<i64>()
        });
        assert_eq!(sum.unwrap(), 11 + 2 + 30 + 40);
        assert!(matches!(
            g.get(3..5).unwrap_err(),
            LockError::Core(Error::OutOfRange {
                disp: 3,
                count: 2,
                len: 4,
                ..
            })
        ));
        assert!(g.put(4, &[1]).is_err());
        assert!(g.get_at(usize::MAX).is_err());
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = g.get(3..1);
        assert!(reversed.is_err());
        // Not reentrant.
        assert_eq!(mutex.lock().unwrap_err(), LockError::AlreadyHeld);
        g.unlock().unwrap();
        assert_eq!(
            mutex.lock().unwrap().read_all().unwrap(),
            vec![11, 2, 30, 40]
        );
        mutex.close().unwrap();
    }
}
