//! [`RwLock`]: a readers-writer lock across the ranks of a communicator,
//! with writer preference, and its guards. Its algorithm, words, costs and
//! fairness are documented on the type, where the rendered documentation
//! shows them.

use crate::error::LockError;
use crate::queue::Queue;
use crate::stats::Counters;
use mpi::topology::Communicator;
use shm_core::sync::AtomicWords;
use std::cell::{Cell, RefCell};
use std::marker::PhantomData;

mod guard;
mod options;
mod protocol;
#[cfg(test)]
mod tests;

pub use guard::{RwLockReadGuard, RwLockWriteGuard};
pub use options::RwLockOptions;
use protocol::{enter_read, enter_write, leave_write, COUNT, WRITER};

/// A readers-writer lock over a communicator with writer preference, or an
/// in-process one for one thread ([`RwLock::local`]); its algorithm and
/// costs follow the example.
///
/// ```no_run
/// use mpi_lock::RwLock;
/// let universe = mpi::initialize().unwrap();
/// let world = universe.world();
/// let lock = RwLock::new(&world)?;
/// {
///     let _reading = lock.read()?; // many ranks at once
/// }
/// {
///     let _writing = lock.write()?; // one rank, no readers
/// }
/// lock.close()?; // collective
/// # Ok::<(), mpi_lock::LockError>(())
/// ```
///
/// # Algorithm
/// A simpler variant of the RMA-RW lock of Schmid, Besta and Hoefler
/// ("High-Performance Distributed RMA Locks", HPDC 2016): readers count
/// themselves in a counter of their own rank, writers queue in an MCS lock
/// (the [`MpiLock`](crate::MpiLock) queue of `queue.rs`) and announce
/// themselves in every counter, then wait for the readers to drain. RMA-RW
/// has one counter per node and a tree of per-node MCS queues; we have one
/// counter per rank and one queue. The code is our own.
///
/// Each rank's counter word holds `readers + WRITER * writers`: the readers
/// inside (or trying to get in) on this rank in its low 12 bits, and the
/// writers that announced themselves (waiting or writing) above them.
///
/// | word | name    | on        | meaning |
/// |------|---------|-----------|---------|
/// | 0    | `tail`  | root only | the writers' MCS queue ([`MpiLock`](crate::MpiLock)'s `tail`) |
/// | 1    | `next`  | each rank | the writers' MCS queue link |
/// | 2    | `flag`  | each rank | the writers' MCS queue hand-off |
/// | 3    | `count` | each rank | `readers + 4096 * writers` for this rank |
///
/// **Read** (rank `r`): `old = fetch_add(r.count, 1)`. If `old < 4096` no
/// writer is announced: the rank reads. Otherwise it takes its increment
/// back, polls its own counter until the writers are gone, and tries again.
/// Uncontended: **one atomic on the rank's own word**, no remote traffic and
/// no central word. Unlock: `fetch_add(r.count, -1)`.
///
/// **Write** (rank `w`): `fetch_add(r.count, 4096)` on every rank `r`
/// (announce), take the MCS queue (1 or 2 remote operations), then poll each
/// rank's counter until its reader bits are 0. Unlock: release the queue (1
/// or 2), then `fetch_add(r.count, -4096)` on every rank. So a write costs
/// `3 * size + 2` to `3 * size + 4` operations: writes pay for cheap reads.
///
/// # Correctness, fairness and progress
/// A reader increments then reads the writer bits (one atomic); a writer
/// increments the writer bits then reads the reader bits. Each atomic is
/// performed at its word before the next is issued, so a reader and a writer
/// cannot both miss each other: readers and a writer never overlap, and the
/// queue admits one writer at a time.
///
/// *Writer preference*: from the moment a writer's announcement reaches a
/// rank's counter, new readers on that rank wait until no writer is
/// announced there. A waiting writer thus waits only for the readers already
/// inside and the writers ahead of it in the FIFO queue: writers do not
/// starve, writers are served in request order, and a continuous stream of
/// writers may starve readers. Consecutive writers hand the queue on while
/// their announcements keep readers out.
///
/// Waiting readers poll only their own counter; writers poll the counters
/// they wait for. Polls drive MPI progress (see [`shm_core::sync::poll`]).
///
/// # Use
/// Each rank reads or writes through guards. A rank that reads may read
/// again (a local count, no remote operation); reading while writing, or
/// writing while reading or writing, is [`LockError::SelfDeadlock`]. The
/// lock orders only its own words: complete your RMA on other windows
/// (`MPI_Win_flush`) before releasing, as with [`MpiLock`](crate::MpiLock).
/// `RwLock` is neither `Send` nor `Sync`: one thread per rank uses it.
///
/// [`RwLock::local`] gives the interface without MPI, for one thread.
#[must_use = "dropping the lock frees it (collectively)"]
pub struct RwLock {
    /// The words and the writers' queue; `None` in local mode and after
    /// `close`.
    queue: Option<Queue>,
    /// Read guards alive on this rank.
    readers: Cell<u32>,
    /// The ticket of this rank's write, while it writes.
    writing: Cell<Option<u32>>,
    /// Set when an MPI error left this rank's part of the lock unknown.
    broken: RefCell<Option<shm_core::Error>>,
    stats: Counters,
    _not_send: PhantomData<*const ()>,
}

impl std::fmt::Debug for RwLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("RwLock");
        match &self.queue {
            None => s.field("mode", &"local"),
            Some(q) => s.field("root", &q.root).field("words", q.backing.words()),
        };
        s.field("readers", &self.readers.get())
            .field("writing", &self.writing.get().is_some())
            .finish()
    }
}

impl RwLock {
    /// Creates a readers-writer lock over `comm`, its writers' queue on
    /// rank 0 (collective over `comm`).
    pub fn new<C: Communicator + ?Sized>(comm: &C) -> Result<Self, LockError> {
        RwLockOptions::default().create(comm)
    }

    /// The options of a new lock: root rank and access.
    pub fn options() -> RwLockOptions {
        RwLockOptions::default()
    }

    /// An in-process lock with the same interface and no MPI (pshmem's
    /// `comm = None`), for the one thread that owns it: reads nest; a
    /// conflicting request is [`LockError::SelfDeadlock`].
    pub fn local() -> Self {
        Self::with_queue(None)
    }

    fn with_queue(queue: Option<Queue>) -> Self {
        RwLock {
            queue,
            readers: Cell::new(0),
            writing: Cell::new(None),
            broken: RefCell::new(None),
            stats: Counters::default(),
            _not_send: PhantomData,
        }
    }

    /// `true` for a lock made by [`RwLock::local`].
    pub fn is_local(&self) -> bool {
        self.queue.is_none()
    }

    /// This process's rank in the lock's communicator (0 in local mode).
    pub fn rank(&self) -> i32 {
        self.queue.as_ref().map_or(0, |q| q.backing.rank())
    }

    /// The number of ranks (1 in local mode).
    pub fn size(&self) -> i32 {
        self.queue.as_ref().map_or(1, |q| q.backing.size())
    }

    /// `true` when this rank holds read guards.
    pub fn is_reading(&self) -> bool {
        self.readers.get() > 0
    }

    /// `true` when this rank holds the write guard.
    pub fn is_writing(&self) -> bool {
        self.writing.get().is_some()
    }

    /// `true` when some writer has announced itself to this rank (it waits
    /// for the lock or writes), at the moment of one atomic read of this
    /// rank's counter: a read started after this returned `true` waits for
    /// that writer.
    ///
    /// # Errors
    /// The MPI error of the read.
    pub fn is_write_pending(&self) -> Result<bool, LockError> {
        match &self.queue {
            None => Ok(self.is_writing()),
            Some(q) => {
                let count = q.backing.words().load(q.backing.rank(), COUNT)?;
                Ok(count >= WRITER)
            }
        }
    }

    fn check(&self, requested: &'static str) -> Result<(), LockError> {
        if let Some(error) = &*self.broken.borrow() {
            return Err(LockError::Broken(error.clone()));
        }
        let held = if self.is_writing() {
            "writing"
        } else if requested == "writing" && self.is_reading() {
            "reading"
        } else {
            return Ok(());
        };
        Err(LockError::SelfDeadlock { held, requested })
    }

    /// Passes `result` on, remembering an error as the lock's breakage.
    fn record<R>(&self, result: shm_core::Result<R>) -> Result<R, LockError> {
        result.map_err(|e| {
            *self.broken.borrow_mut() = Some(e.clone());
            e.into()
        })
    }

    /// Takes the lock for reading, waiting while a writer waits or writes.
    ///
    /// # Errors
    /// [`LockError::SelfDeadlock`] while this rank writes;
    /// [`LockError::Broken`] after an earlier MPI error; the MPI error (or
    /// `RMA_WAIT_DEADLINE` timeout) of the protocol.
    pub fn read(&self) -> Result<RwLockReadGuard<'_>, LockError> {
        self.acquire_read(true)
            .map(|got| got.expect("a blocking read always gets the lock"))
    }

    /// Takes the lock for reading only if no writer waits or writes;
    /// `Ok(None)` otherwise. Never waits.
    ///
    /// # Errors
    /// As [`read`](Self::read).
    pub fn try_read(&self) -> Result<Option<RwLockReadGuard<'_>>, LockError> {
        self.acquire_read(false)
    }

    fn acquire_read(&self, block: bool) -> Result<Option<RwLockReadGuard<'_>>, LockError> {
        self.check("reading")?;
        if let (Some(q), 0) = (&self.queue, self.readers.get()) {
            if !self.record(enter_read(q, block))? {
                q.backing.refused();
                return Ok(None);
            }
        }
        self.readers.set(self.readers.get() + 1);
        Ok(Some(RwLockReadGuard {
            lock: self,
            done: false,
            _not_send: PhantomData,
        }))
    }

    /// Takes the lock for writing: waits for the writers ahead (in request
    /// order) and for the readers inside; new readers wait from the moment
    /// this rank announces itself.
    ///
    /// # Errors
    /// [`LockError::SelfDeadlock`] while this rank reads or writes;
    /// [`LockError::Broken`] after an earlier MPI error; the MPI error (or
    /// `RMA_WAIT_DEADLINE` timeout) of the protocol.
    pub fn write(&self) -> Result<RwLockWriteGuard<'_>, LockError> {
        self.acquire_write(true)
            .map(|got| got.expect("a blocking write always gets the lock"))
    }

    /// Takes the lock for writing only if nobody reads, writes or waits to
    /// write; `Ok(None)` otherwise. Never waits for another rank; it may
    /// fail when it races with another rank's acquisition.
    ///
    /// # Errors
    /// As [`write`](Self::write).
    pub fn try_write(&self) -> Result<Option<RwLockWriteGuard<'_>>, LockError> {
        self.acquire_write(false)
    }

    fn acquire_write(&self, block: bool) -> Result<Option<RwLockWriteGuard<'_>>, LockError> {
        self.check("writing")?;
        let ticket = match &self.queue {
            None => Some(0),
            Some(q) => self.record(enter_write(q, block, &self.stats))?,
        };
        let Some(ticket) = ticket else {
            if let Some(q) = &self.queue {
                q.backing.refused();
            }
            return Ok(None);
        };
        self.writing.set(Some(ticket));
        Ok(Some(RwLockWriteGuard {
            lock: self,
            done: false,
            _not_send: PhantomData,
        }))
    }

    fn release_read(&self) -> Result<(), LockError> {
        let left = self.readers.get().saturating_sub(1);
        self.readers.set(left);
        match &self.queue {
            Some(q) if left == 0 => {
                let me = q.backing.rank();
                self.record(q.backing.words().fetch_add(me, COUNT, -1).map(drop))
            }
            _ => Ok(()),
        }
    }

    fn release_write(&self) -> Result<(), LockError> {
        let Some(ticket) = self.writing.take() else {
            return Ok(());
        };
        match &self.queue {
            Some(q) => self.record(leave_write(q, ticket, &self.stats)),
            None => Ok(()),
        }
    }

    /// Frees the lock (collective over its communicator). A hold leaked with
    /// `std::mem::forget` is released first, so no rank keeps waiting.
    ///
    /// # Errors
    /// [`LockError::HeldAtClose`] on every rank (naming the lowest such
    /// rank) if some rank still held the lock; [`LockError::Broken`] on
    /// every rank if an MPI error broke the lock somewhere. The words are
    /// freed in every case.
    pub fn close(mut self) -> Result<(), LockError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), LockError> {
        let held = self.is_reading() || self.is_writing();
        if held && self.broken.get_mut().is_none() {
            // Errors are recorded as the breakage, reported below.
            if self.is_reading() {
                self.readers.set(1);
                let _ = self.release_read();
            }
            let _ = self.release_write();
        }
        self.readers.set(0);
        let Some(queue) = self.queue.take() else {
            return if held {
                Err(LockError::HeldAtClose { rank: 0 })
            } else {
                Ok(())
            };
        };
        let comm = queue.backing.comm();
        let mut lowest_holder = [if held {
            i64::from(comm.rank())
        } else {
            i64::MAX
        }];
        let reduced = comm.all_reduce_min(&mut lowest_holder);
        let failure = self.broken.get_mut().take().map(|e| e.to_string());
        let agreed = comm.agree(failure.map_or(Ok(()), Err));
        // Freeing is collective; every rank got here.
        drop(queue);
        reduced?;
        agreed.map_err(|e| match e {
            invalid @ shm_core::Error::Invalid { .. } => LockError::Broken(invalid),
            other => other.into(),
        })?;
        if lowest_holder[0] != i64::MAX {
            return Err(LockError::HeldAtClose {
                rank: lowest_holder[0] as i32,
            });
        }
        Ok(())
    }
}

impl Drop for RwLock {
    fn drop(&mut self) {
        // A panicking rank must not enter collectives; the words leak.
        if std::thread::panicking() {
            return;
        }
        if let Err(e) = self.shutdown() {
            eprintln!(
                "mpi-lock: error while dropping an RwLock (use RwLock::close to handle it): {e}"
            );
        }
    }
}
