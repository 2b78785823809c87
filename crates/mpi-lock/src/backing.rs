//! [`Backing`]: what every synchronisation object of the toolkit stands on,
//! its private communicator and its words, with the collective steps of
//! creating and freeing them.

use crate::error::LockError;
use crate::words::{Access, Words};
use mpi::topology::Communicator;
use shm_core::sync::{poll, AtomicWords, CpuAtomic};
use shm_core::OwnedComm;
use std::mem::ManuallyDrop;

/// An object's own duplicate of the user's communicator and its `len`
/// words per rank.
///
/// Dropping it frees both (collective). A rank that drops it while
/// unwinding from a panic leaks them instead: the other ranks may never
/// reach the collective `MPI_Win_free`, and the job is ending anyway.
pub(crate) struct Backing<T: CpuAtomic> {
    // Freed in this order: the window before the communicator.
    words: ManuallyDrop<Words<T>>,
    comm: ManuallyDrop<OwnedComm>,
}

impl<T: CpuAtomic> std::fmt::Debug for Backing<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backing")
            .field("rank", &self.comm.rank())
            .field("size", &self.comm.size())
            .field("words", &*self.words)
            .finish()
    }
}

impl<T: CpuAtomic> Backing<T> {
    /// Duplicates `comm`, checks that every rank passed the same valid
    /// `root`, the same `access` and the same `params` (else the same
    /// [`shm_core::Error::Invalid`] on every rank, saying that `what`
    /// differ), then allocates the words (collective).
    pub(crate) fn create<C: Communicator + ?Sized>(
        comm: &C,
        len: usize,
        access: Access,
        root: i32,
        what: &str,
        params: &[i64],
    ) -> Result<Self, LockError> {
        let comm = OwnedComm::duplicate(comm)?;
        check_root(&comm, root)?;
        // The access is agreed too: ranks that chose differently would
        // enter different collectives to allocate the words.
        let agreed: Vec<i64> = std::iter::once(access as i64)
            .chain(params.iter().copied())
            .collect();
        comm.agree_same(what, &agreed)?;
        let words = Words::allocate(&comm, len, access)?;
        Ok(Backing {
            words: ManuallyDrop::new(words),
            comm: ManuallyDrop::new(comm),
        })
    }

    /// The words.
    pub(crate) fn words(&self) -> &Words<T> {
        &self.words
    }

    /// The object's communicator.
    pub(crate) fn comm(&self) -> &OwnedComm {
        &self.comm
    }

    /// This rank.
    pub(crate) fn rank(&self) -> i32 {
        self.comm.rank()
    }

    /// The number of ranks.
    pub(crate) fn size(&self) -> i32 {
        self.comm.size()
    }

    /// `true` when the words are reached with CPU atomics.
    pub(crate) fn is_node(&self) -> bool {
        self.words.is_node()
    }

    /// After a failed try (`try_lock` and the like): drives MPI progress once
    /// when the attempt made no MPI call. A rank that polls a try in a loop
    /// must still let MPI progress: with MPICH, RMA aimed at this rank (by
    /// the holder, on the data it protects) completes only when this rank
    /// calls MPI, and over CPU atomics the attempt itself calls nothing.
    #[inline]
    pub(crate) fn refused(&self) {
        self.comm.progress();
    }

    /// Waits until `attempt` returns `Some` ([`shm_core::sync::poll`]),
    /// driving MPI progress on the object's communicator.
    ///
    /// Progress is driven even when the words are CPU atomics, which need
    /// none: while a rank waits here, other ranks may be doing RMA on its
    /// windows (the data a lock protects), and with MPICH those operations
    /// complete only when the target rank calls MPI.
    pub(crate) fn wait<R, E: From<shm_core::Error>>(
        &self,
        attempt: impl FnMut() -> Result<Option<R>, E>,
    ) -> Result<R, E> {
        poll(Some(&self.comm), attempt)
    }

    /// Waits until word `word` of `target` satisfies `ready`; returns it.
    #[allow(dead_code)] // for the primitives that wait on one word
    pub(crate) fn wait_for(
        &self,
        target: i32,
        word: usize,
        mut ready: impl FnMut(T) -> bool,
    ) -> shm_core::Result<T> {
        self.wait(|| {
            let value = self.words.load(target, word)?;
            Ok(ready(value).then_some(value))
        })
    }
}

impl<T: CpuAtomic> Drop for Backing<T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        // SAFETY: each field is dropped exactly once, here, in declaration
        // order, and never used again.
        unsafe {
            ManuallyDrop::drop(&mut self.words);
            ManuallyDrop::drop(&mut self.comm);
        }
    }
}

/// Checks collectively that `root` is the same rank of `comm` everywhere.
pub(crate) fn check_root(comm: &OwnedComm, root: i32) -> Result<(), LockError> {
    comm.agree_same("the root ranks", &[i64::from(root)])?;
    let size = comm.size();
    let verdict = if (0..size).contains(&root) {
        Ok(())
    } else {
        Err(format!(
            "root rank {root} is outside the communicator of {size} ranks"
        ))
    };
    comm.agree(verdict)?;
    Ok(())
}
