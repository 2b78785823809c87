//! [`Sequential`]: a section that the ranks run one at a time, in rank
//! order (mpi4py's `mpi4py.util.sync.Sequential`, on RMA words).

use crate::backing::Backing;
use crate::error::LockError;
use crate::words::Access;
use mpi::topology::Communicator;
use shm_core::sync::AtomicWords;
use std::cell::{Cell, RefCell};

/// The word of each rank's segment through which its predecessor lets it
/// in: the number of rounds for which it has been let in (rank 0's counts
/// the rounds the last rank has finished).
const GO: usize = 0;

/// What the section entered and left cannot be.
const WHAT: &str = "the sequential section";

/// A section that the ranks of a communicator run one at a time, in rank
/// order: rank 0 first, then rank 1, and so on to the last rank, round
/// after round (mpi4py's `Sequential`, for printing in rank order, appending
/// to a file, or any work whose order must be the ranks').
///
/// ```no_run
/// use mpi_lock::Sequential;
/// let universe = mpi::initialize().unwrap();
/// let world = universe.world();
/// let seq = Sequential::new(&world)?;
/// for step in 0..3 {
///     let turn = seq.begin()?; // waits for the ranks below, this round
///     println!("step {step}: rank {}", seq.rank());
///     turn.end()?; // lets the next rank in (dropping the guard does too)
/// }
/// seq.close()?; // collective
/// # Ok::<(), mpi_lock::LockError>(())
/// ```
///
/// Every rank takes part in every round: rank `r` is let in once rank
/// `r - 1` left in the same round, and rank 0 once the last rank left the
/// round before. A rank that skips a round holds up every rank after it.
///
/// # Algorithm
/// One word per rank, zero at first, that only its predecessor writes:
/// rank `r` waits (polling its own word, with back-off) until the word says
/// that it may enter round `m`; leaving round `m`, it writes `m + 1` into
/// the word of rank `r + 1` (or of rank 0, from the last rank) with one
/// remote atomic write. Nobody polls a word of another rank. Unlike
/// mpi4py's, which passes an empty message from rank to rank, the section
/// needs no receive posted in advance and drives no message traffic of the
/// application's communicator.
///
/// The hand-off orders what the ranks do in the section as far as this
/// object can: CPU atomics are sequentially consistent, and over MPI the
/// write is completed at its target before `end` returns. RMA operations
/// on *other* windows made in the section must be completed (flushed) by
/// the section itself before it ends, as for any MPI synchronisation.
///
/// A `Sequential` is used by one thread of each rank (it is neither `Send`
/// nor `Sync`); creating and closing it are collective.
pub struct Sequential {
    backing: Option<Backing<u64>>,
    /// Rounds this rank entered (and so, once it has left, finished).
    round: Cell<u64>,
    /// This rank is in the section.
    inside: Cell<bool>,
    /// The error that interrupted a hand-off: the ranks after this one may
    /// never be let in, so the object refuses further use.
    broken: RefCell<Option<shm_core::Error>>,
}

impl std::fmt::Debug for Sequential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequential")
            .field("rank", &self.rank())
            .field("size", &self.size())
            .field("round", &self.round.get())
            .field("inside", &self.inside.get())
            .finish()
    }
}

impl Sequential {
    /// Creates the section over `comm` (collective over `comm`).
    pub fn new<C: Communicator + ?Sized>(comm: &C) -> Result<Self, LockError> {
        Self::with_access(comm, Access::Auto)
    }

    /// [`new`](Self::new), reaching the words as `access` says (the same
    /// on every rank).
    pub fn with_access<C: Communicator + ?Sized>(
        comm: &C,
        access: Access,
    ) -> Result<Self, LockError> {
        let backing = Backing::create(comm, 1, access, 0, "the sequential options", &[])?;
        Ok(Self::with_backing(Some(backing)))
    }

    /// A section of this process alone, without MPI (mpi4py's
    /// `Sequential` on `COMM_SELF`): `begin` never waits, but entering
    /// twice is still an error.
    pub fn local() -> Self {
        Self::with_backing(None)
    }

    fn with_backing(backing: Option<Backing<u64>>) -> Self {
        Sequential {
            backing,
            round: Cell::new(0),
            inside: Cell::new(false),
            broken: RefCell::new(None),
        }
    }

    /// This process's rank in the section's communicator (0 in local mode).
    pub fn rank(&self) -> i32 {
        self.backing.as_ref().map_or(0, Backing::rank)
    }

    /// The number of ranks (1 in local mode).
    pub fn size(&self) -> i32 {
        self.backing.as_ref().map_or(1, Backing::size)
    }

    /// The number of rounds this rank has entered.
    pub fn rounds(&self) -> u64 {
        self.round.get()
    }

    /// `true` while this rank is in the section.
    pub fn is_inside(&self) -> bool {
        self.inside.get()
    }

    /// `true` for a section made by [`Sequential::local`].
    pub fn is_local(&self) -> bool {
        self.backing.is_none()
    }

    /// `true` when the words are reached with CPU atomics.
    pub fn uses_cpu_atomics(&self) -> bool {
        self.backing.as_ref().is_some_and(Backing::is_node)
    }

    /// Waits for this rank's turn in the next round and enters the section;
    /// the guard lets the next rank in when it is dropped or
    /// [`end`](SequentialGuard::end)ed.
    ///
    /// # Errors
    /// [`LockError::AlreadyEntered`] if this rank is in the section already
    /// (an error instead of waiting for itself); [`LockError::Broken`]
    /// after a failed hand-off; or the error that ended the wait (an MPI
    /// error, or [`shm_core::Error::Deadline`] under `RMA_WAIT_DEADLINE`),
    /// after which this rank is not inside and may try again.
    pub fn begin(&self) -> Result<SequentialGuard<'_>, LockError> {
        if self.inside.get() {
            return Err(LockError::AlreadyEntered { what: WHAT });
        }
        if let Some(error) = &*self.broken.borrow() {
            return Err(LockError::Broken(error.clone()));
        }
        let round = self.round.get();
        if let Some(backing) = &self.backing {
            let rank = backing.rank();
            // Rank 0 enters round m once the last rank finished round m - 1
            // (its word counts those); rank r > 0 once rank r - 1 let it
            // into round m (its word counts those).
            let wanted = if rank == 0 { round } else { round + 1 };
            backing.wait_for(rank, GO, |done| done >= wanted)?;
        }
        self.round.set(round + 1);
        self.inside.set(true);
        Ok(SequentialGuard { seq: Some(self) })
    }

    /// Leaves the section and lets the next rank in.
    fn leave(&self) -> Result<(), LockError> {
        if !self.inside.replace(false) {
            return Ok(());
        }
        let Some(backing) = &self.backing else {
            return Ok(());
        };
        let next = (backing.rank() + 1) % backing.size();
        // Rank r + 1 (or rank 0, from the last rank) may now enter round
        // `round`, the one this rank finished.
        if let Err(e) = backing.words().store(next, GO, self.round.get()) {
            *self.broken.borrow_mut() = Some(e.clone());
            return Err(e.into());
        }
        Ok(())
    }

    /// Frees the section (collective over its communicator; dropping it
    /// does the same).
    ///
    /// # Errors
    /// [`LockError::HeldAtClose`] on every rank when some rank was still in
    /// the section because its guard was leaked (`std::mem::forget`): that
    /// rank lets the next one in first, so no rank is left waiting;
    /// [`LockError::Broken`] on every rank (with the lowest broken rank's
    /// message) after a failed hand-off anywhere. Everything is freed in
    /// every case.
    pub fn close(mut self) -> Result<(), LockError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), LockError> {
        let was_inside = self.inside.get();
        let left = self.leave();
        let Some(backing) = self.backing.take() else {
            return if was_inside {
                Err(LockError::HeldAtClose { rank: 0 })
            } else {
                Ok(())
            };
        };
        let failure = self
            .broken
            .borrow()
            .as_ref()
            .map(ToString::to_string)
            .or(left.err().map(|e| e.to_string()));
        let comm = backing.comm();
        let mut inside = [if was_inside {
            i64::from(backing.rank())
        } else {
            i64::MAX
        }];
        let reduced = comm.all_reduce_min(&mut inside);
        let agreed = comm.agree(failure.map_or(Ok(()), Err));
        drop(backing);
        reduced?;
        if let Err(e) = agreed {
            return Err(match e {
                invalid @ shm_core::Error::Invalid { .. } => LockError::Broken(invalid),
                other => other.into(),
            });
        }
        if inside[0] != i64::MAX {
            return Err(LockError::HeldAtClose {
                rank: inside[0] as i32,
            });
        }
        Ok(())
    }
}

impl Drop for Sequential {
    fn drop(&mut self) {
        if self.backing.is_none() || std::thread::panicking() {
            return;
        }
        if let Err(e) = self.shutdown() {
            eprintln!("mpi-lock: error while dropping a Sequential (use Sequential::close to handle it): {e}");
        }
    }
}

/// This rank's turn in a [`Sequential`] section; the next rank is let in
/// when it is dropped (or by [`end`](SequentialGuard::end), which reports
/// errors).
#[must_use = "the next rank is let in as soon as the guard is dropped"]
pub struct SequentialGuard<'a> {
    seq: Option<&'a Sequential>,
}

impl std::fmt::Debug for SequentialGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SequentialGuard")
            .field("rank", &self.seq.map(Sequential::rank))
            .field("round", &self.seq.map(|s| s.round.get()))
            .finish()
    }
}

impl SequentialGuard<'_> {
    /// The round this turn belongs to (1 for the first).
    pub fn round(&self) -> u64 {
        self.seq.map_or(0, |s| s.round.get())
    }

    /// Leaves the section and lets the next rank in, reporting an MPI
    /// failure of the hand-off (dropping the guard does the same but can
    /// only print the error).
    pub fn end(mut self) -> Result<(), LockError> {
        match self.seq.take() {
            Some(seq) => seq.leave(),
            None => Ok(()),
        }
    }
}

impl Drop for SequentialGuard<'_> {
    fn drop(&mut self) {
        if let Some(seq) = self.seq.take() {
            if let Err(e) = seq.leave() {
                eprintln!("mpi-lock: error while leaving a sequential section (use SequentialGuard::end to handle it): {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_section_enters_and_refuses_reentry() {
        let seq = Sequential::local();
        assert!(seq.is_local() && !seq.is_inside());
        for round in 1..=3 {
            let turn = seq.begin().unwrap();
            assert_eq!(turn.round(), round);
            assert!(seq.is_inside());
            assert_eq!(
                seq.begin().unwrap_err(),
                LockError::AlreadyEntered { what: WHAT }
            );
            turn.end().unwrap();
            assert!(!seq.is_inside());
        }
        assert_eq!(seq.rounds(), 3);
        seq.close().unwrap();
        let seq = Sequential::local();
        std::mem::forget(seq.begin().unwrap());
        assert_eq!(seq.close().unwrap_err(), LockError::HeldAtClose { rank: 0 });
    }
}
