//! [`AtomicWords`]: the atomic operations on integer words of a window that
//! the synchronisation objects are written in, whether they reach the words
//! through MPI (any [`Rma`] window) or with CPU atomics ([`NodeWords`]).
//!
//! [`NodeWords`]: super::NodeWords

use crate::element::Element;
use crate::error::Result;
use crate::window::{Op, Rma};

/// Atomic access to word `word` of rank `target`'s segment.
///
/// Each call is atomic with respect to every other call on the same word
/// made through the same kind of access: all MPI atomics (MPI-3.1 §11.7.1,
/// accumulate operations on the same location with the same datatype), or
/// all CPU atomics. The toolkit never mixes the two kinds on one word: the
/// kind is chosen once, collectively, when an object is created.
///
/// The implementations are the MPI one, for every [`Rma`] window in a
/// passive-target epoch, and [`NodeWords`](super::NodeWords) (CPU atomics on
/// a node's shared memory).
pub trait AtomicWords<T: Element> {
    /// Adds `value` to the word (wrapping) and returns the old value.
    fn fetch_add(&self, target: i32, word: usize, value: T) -> Result<T>;
    /// Writes `value` and returns the old value.
    fn swap(&self, target: i32, word: usize, value: T) -> Result<T>;
    /// Writes `value` if the word equals `compare`; returns the old value.
    fn compare_swap(&self, target: i32, word: usize, compare: T, value: T) -> Result<T>;
    /// Reads the word.
    fn load(&self, target: i32, word: usize) -> Result<T>;
    /// Writes `value`; the write is visible at `target` when this returns.
    fn store(&self, target: i32, word: usize, value: T) -> Result<()>;
    /// Writes `value` as a lock's release: whoever reads it also sees
    /// everything this rank wrote before, to these words and to shared
    /// memory. Not ordered with this rank's later operations, so it may cost
    /// less than [`store`](Self::store) (a plain store on x86, where `store`
    /// is a locked exchange). Through MPI it is `store`.
    fn release_store(&self, target: i32, word: usize, value: T) -> Result<()> {
        self.store(target, word, value)
    }
    /// Completes at `target` every operation of this rank on this window
    /// (`MPI_Win_flush`; a full fence for CPU atomics), so that whatever
    /// this rank did before is visible to the next rank it signals.
    fn complete(&self, target: i32) -> Result<()>;
}

impl<T: Element, W: Rma<T>> AtomicWords<T> for W {
    fn fetch_add(&self, target: i32, word: usize, value: T) -> Result<T> {
        self.fetch_and_op(target, word, value, Op::Sum)
    }

    fn swap(&self, target: i32, word: usize, value: T) -> Result<T> {
        self.fetch_and_op(target, word, value, Op::Replace)
    }

    fn compare_swap(&self, target: i32, word: usize, compare: T, value: T) -> Result<T> {
        self.compare_and_swap(target, word, compare, value)
    }

    fn load(&self, target: i32, word: usize) -> Result<T> {
        self.fetch_and_op(target, word, T::zeroed(), Op::NoOp)
    }

    fn store(&self, target: i32, word: usize, value: T) -> Result<()> {
        self.accumulate_flush(target, word, &[value], Op::Replace)
    }

    fn complete(&self, target: i32) -> Result<()> {
        self.flush(target)
    }
}
