//! The synchronisation toolkit for Python: `Lock` (pshmem's `MPILock`),
//! `Counter`, `Semaphore`, and `Words` (atomic integers in one rank's
//! window, what `MPIBatch` keeps its task states in).

use crate::comm;
use crate::errors::{self, Kind};
use mpi_lock::{MpiLock, MpiLockGuard};
use pyo3::prelude::*;
use shm_core::sync::AtomicWords;
use shm_core::{LockedWindow, Window};

/// A FIFO mutex over a communicator, locked and unlocked by separate calls
/// as pshmem's `MPILock` is.
#[pyclass(unsendable, module = "rma_toolkit._native")]
pub(crate) struct Lock {
    /// The hold, while this rank has the lock. Declared before `lock` so
    /// that it is dropped first.
    guard: Option<MpiLockGuard<'static>>,
    /// Boxed so that its address, which `guard` borrows, never moves.
    lock: Option<Box<MpiLock>>,
}

impl Lock {
    fn inner(&self) -> PyResult<&MpiLock> {
        self.lock
            .as_deref()
            .ok_or_else(|| errors::raise(Kind::Other, "the MPILock is closed"))
    }
}

#[pymethods]
impl Lock {
    /// Creates the lock (collective over `comm`; a process-local lock when
    /// `comm` is None). `root` keeps the lock's state.
    #[new]
    #[pyo3(signature = (comm=None, root=0))]
    fn new(comm: Option<&Bound<'_, PyAny>>, root: i32) -> PyResult<Self> {
        let lock = match comm {
            None => MpiLock::local(),
            Some(c) => MpiLock::with_root(&*comm::borrow(c)?, root).map_err(errors::lock)?,
        };
        Ok(Lock {
            guard: None,
            lock: Some(Box::new(lock)),
        })
    }

    /// Waits for the lock, in the order ranks asked for it.
    fn lock(&mut self) -> PyResult<()> {
        if self.guard.is_some() {
            return Err(errors::raise(
                Kind::Invalid,
                "this process already holds the MPILock",
            ));
        }
        let lock: *const MpiLock = self.inner()?;
        // SAFETY: `lock` points into the Box owned by `self.lock`, which is
        // neither moved nor dropped while `self.guard` is Some: `close` and
        // Drop take the guard first.
        let lock: &'static MpiLock = unsafe { &*lock };
        self.guard = Some(lock.lock().map_err(errors::lock)?);
        Ok(())
    }

    /// Releases the lock to the next rank waiting.
    fn unlock(&mut self) -> PyResult<()> {
        match self.guard.take() {
            Some(g) => g.unlock().map_err(errors::lock),
            None => Err(errors::raise(
                Kind::Invalid,
                "this process does not hold the MPILock",
            )),
        }
    }

    /// `True` while this process holds the lock.
    #[getter]
    fn held(&self) -> bool {
        self.guard.is_some()
    }

    /// Frees the lock (collective). A hold still taken is released first.
    fn close(&mut self) -> PyResult<()> {
        if let Some(g) = self.guard.take() {
            g.unlock().map_err(errors::lock)?;
        }
        match self.lock.take() {
            Some(l) => l.close().map_err(errors::lock),
            None => Ok(()),
        }
    }
}

/// An atomic counter of the ranks of a communicator (mpi4py's `Counter`).
#[pyclass(unsendable, module = "rma_toolkit._native")]
pub(crate) struct Counter(Option<mpi_lock::Counter<i64>>);

impl Counter {
    fn get(&self) -> PyResult<&mpi_lock::Counter<i64>> {
        self.0
            .as_ref()
            .ok_or_else(|| errors::raise(Kind::Other, "the Counter is closed"))
    }
}

#[pymethods]
impl Counter {
    /// Creates the counter (collective over `comm`; local when None).
    #[new]
    #[pyo3(signature = (comm=None, start=0, step=1, root=0))]
    fn new(comm: Option<&Bound<'_, PyAny>>, start: i64, step: i64, root: i32) -> PyResult<Self> {
        let options = mpi_lock::Counter::<i64>::options()
            .start(start)
            .step(step)
            .root(root);
        let counter = match comm {
            None => options.local(),
            Some(c) => options.create(&*comm::borrow(c)?),
        };
        Ok(Counter(Some(counter.map_err(errors::lock)?)))
    }

    /// The next value (one atomic fetch-and-add).
    fn next(&self) -> PyResult<i64> {
        self.get()?.next().map_err(errors::lock)
    }

    /// Takes `n` values at once and returns the first.
    fn fetch_add(&self, n: i64) -> PyResult<i64> {
        self.get()?.fetch_add(n).map_err(errors::lock)
    }

    /// The value the next call would return.
    fn value(&self) -> PyResult<i64> {
        self.get()?.value().map_err(errors::lock)
    }

    /// Frees the counter (collective).
    fn close(&mut self) -> PyResult<()> {
        match self.0.take() {
            Some(c) => c.close().map_err(errors::lock),
            None => Ok(()),
        }
    }
}

/// A counting semaphore of the ranks of a communicator (mpi4py's
/// `Semaphore`).
#[pyclass(unsendable, module = "rma_toolkit._native")]
pub(crate) struct Semaphore(Option<mpi_lock::Semaphore>);

impl Semaphore {
    fn get(&self) -> PyResult<&mpi_lock::Semaphore> {
        self.0
            .as_ref()
            .ok_or_else(|| errors::raise(Kind::Other, "the Semaphore is closed"))
    }
}

#[pymethods]
impl Semaphore {
    /// Creates a semaphore of `count` permits (collective; local when
    /// `comm` is None). Bounded: releasing more than was acquired is an
    /// error.
    #[new]
    #[pyo3(signature = (comm=None, count=1, root=0))]
    fn new(comm: Option<&Bound<'_, PyAny>>, count: u32, root: i32) -> PyResult<Self> {
        let options = mpi_lock::Semaphore::options(count).root(root);
        let semaphore = match comm {
            None => options.local(),
            Some(c) => options.create(&*comm::borrow(c)?),
        };
        Ok(Semaphore(Some(semaphore.map_err(errors::lock)?)))
    }

    /// Waits for a permit.
    fn acquire(&self) -> PyResult<()> {
        self.get()?.acquire_permit().map_err(errors::lock)
    }

    /// Takes a permit if one is free now.
    fn try_acquire(&self) -> PyResult<bool> {
        self.get()?.try_acquire_permit().map_err(errors::lock)
    }

    /// Gives a permit back.
    fn release(&self) -> PyResult<()> {
        self.get()?.release_permit().map_err(errors::lock)
    }

    /// Permits free now (a snapshot).
    fn available(&self) -> PyResult<i64> {
        self.get()?.available().map_err(errors::lock)
    }

    /// Frees the semaphore (collective).
    fn close(&mut self) -> PyResult<()> {
        match self.0.take() {
            Some(s) => s.close().map_err(errors::lock),
            None => Ok(()),
        }
    }
}

/// `n` atomic 64-bit words in rank `root`'s window, reached by every rank
/// with MPI atomics only (never CPU atomics), zero at creation.
#[pyclass(unsendable, module = "rma_toolkit._native")]
pub(crate) struct Words {
    win: Option<LockedWindow<i64>>,
    root: i32,
    len: usize,
}

impl Words {
    fn win(&self, word: usize) -> PyResult<&LockedWindow<i64>> {
        if word >= self.len {
            return Err(errors::raise(
                Kind::Invalid,
                format!("word {word} is out of range ({} words)", self.len),
            ));
        }
        self.win
            .as_ref()
            .ok_or_else(|| errors::raise(Kind::Other, "the words are closed"))
    }
}

#[pymethods]
impl Words {
    /// Allocates the words (collective over `comm`).
    #[new]
    #[pyo3(signature = (comm, len, root=0))]
    fn new(comm: &Bound<'_, PyAny>, len: usize, root: i32) -> PyResult<Self> {
        let comm = comm::borrow(comm)?;
        let size = mpi::topology::Communicator::size(&*comm);
        if !(0..size).contains(&root) {
            return Err(errors::raise(
                Kind::Invalid,
                format!("root {root} is not a rank of the communicator of {size}"),
            ));
        }
        let mine = if mpi::topology::Communicator::rank(&*comm) == root {
            len
        } else {
            0
        };
        let win = Window::<i64>::allocate(&*comm, mine)
            .and_then(|w| w.into_locked(true))
            .map_err(errors::core)?;
        Ok(Words {
            win: Some(win),
            root,
            len,
        })
    }

    /// Reads word `word`.
    fn load(&self, word: usize) -> PyResult<i64> {
        self.win(word)?.load(self.root, word).map_err(errors::core)
    }

    /// Writes word `word`.
    fn store(&self, word: usize, value: i64) -> PyResult<()> {
        self.win(word)?
            .store(self.root, word, value)
            .map_err(errors::core)
    }

    /// Writes `value` if the word holds `compare`; returns the old value.
    fn compare_swap(&self, word: usize, compare: i64, value: i64) -> PyResult<i64> {
        self.win(word)?
            .compare_swap(self.root, word, compare, value)
            .map_err(errors::core)
    }

    /// Adds `value`; returns the old value.
    fn fetch_add(&self, word: usize, value: i64) -> PyResult<i64> {
        self.win(word)?
            .fetch_add(self.root, word, value)
            .map_err(errors::core)
    }

    /// Frees the window (collective).
    fn close(&mut self) {
        self.win = None;
    }
}
