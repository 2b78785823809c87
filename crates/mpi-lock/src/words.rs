//! [`Words`]: the window words of a synchronisation object, reached with CPU
//! atomics when every rank shares one node and with MPI atomics otherwise,
//! and [`Access`], the user's say in that choice.

use shm_core::sync::{AtomicWords, CpuAtomic, NodeWords};
use shm_core::window::{LockedWindow, Window};
use shm_core::OwnedComm;

/// How a synchronisation object reaches its words.
///
/// The choice is made once, collectively, when the object is created, and
/// every rank then uses the same kind of atomics on every word: CPU and MPI
/// atomics are never mixed on one word.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access {
    /// CPU atomics on a node-shared window when every rank of the
    /// communicator shares one node and MPI gives that window the unified
    /// memory model; MPI atomics otherwise. No MPI call on the object's own
    /// words in the first case.
    #[default]
    Auto,
    /// MPI atomics (`MPI_Fetch_and_op`, `MPI_Compare_and_swap`,
    /// `MPI_Accumulate`) in an `MPI_Win_allocate` window, whatever the
    /// layout: the portable path, and the way to measure or test it on one
    /// node.
    Mpi,
}

/// The words of one object: `len` per rank, zero at first.
pub(crate) enum Words<T: CpuAtomic> {
    /// Over MPI, in a `MPI_Win_lock_all` epoch kept for the object's life.
    Mpi(LockedWindow<T>),
    /// With CPU atomics in node-shared memory.
    Node(NodeWords<T>),
}

impl<T: CpuAtomic> std::fmt::Debug for Words<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_node() {
            "Words(CPU atomics)"
        } else {
            "Words(MPI atomics)"
        })
    }
}

impl<T: CpuAtomic> Words<T> {
    /// Allocates the words over `comm` (collective), as `access` asks.
    pub(crate) fn allocate(comm: &OwnedComm, len: usize, access: Access) -> shm_core::Result<Self> {
        if access == Access::Auto {
            if let Some(words) = NodeWords::allocate(comm, len)? {
                return Ok(Words::Node(words));
            }
        }
        let win = Window::<T>::allocate(comm.communicator(), len)?;
        // No process ever takes an exclusive MPI_Win_lock on this private
        // window, so the lock_all epoch may assert MPI_MODE_NOCHECK.
        Ok(Words::Mpi(win.into_locked(true)?))
    }

    /// `true` when the words are reached with CPU atomics.
    pub(crate) fn is_node(&self) -> bool {
        matches!(self, Words::Node(_))
    }
}

impl<T: CpuAtomic> AtomicWords<T> for Words<T> {
    #[inline]
    fn fetch_add(&self, target: i32, word: usize, value: T) -> shm_core::Result<T> {
        match self {
            Words::Mpi(w) => w.fetch_add(target, word, value),
            Words::Node(w) => w.fetch_add(target, word, value),
        }
    }

    #[inline]
    fn swap(&self, target: i32, word: usize, value: T) -> shm_core::Result<T> {
        match self {
            Words::Mpi(w) => w.swap(target, word, value),
            Words::Node(w) => w.swap(target, word, value),
        }
    }

    #[inline]
    fn compare_swap(&self, target: i32, word: usize, compare: T, value: T) -> shm_core::Result<T> {
        match self {
            Words::Mpi(w) => w.compare_swap(target, word, compare, value),
            Words::Node(w) => w.compare_swap(target, word, compare, value),
        }
    }

    #[inline]
    fn load(&self, target: i32, word: usize) -> shm_core::Result<T> {
        match self {
            Words::Mpi(w) => w.load(target, word),
            Words::Node(w) => w.load(target, word),
        }
    }

    #[inline]
    fn store(&self, target: i32, word: usize, value: T) -> shm_core::Result<()> {
        match self {
            Words::Mpi(w) => w.store(target, word, value),
            Words::Node(w) => w.store(target, word, value),
        }
    }

    #[inline]
    fn release_store(&self, target: i32, word: usize, value: T) -> shm_core::Result<()> {
        match self {
            Words::Mpi(w) => w.release_store(target, word, value),
            Words::Node(w) => w.release_store(target, word, value),
        }
    }

    #[inline]
    fn complete(&self, target: i32) -> shm_core::Result<()> {
        match self {
            Words::Mpi(w) => w.complete(target),
            Words::Node(w) => w.complete(target),
        }
    }
}
