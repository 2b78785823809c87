//! [`NodeWords`]: words of a node's shared memory, reached with CPU atomics
//! by every process of the node.

use super::words::AtomicWords;
use crate::comm::OwnedComm;
use crate::element::Element;
use crate::error::{Error, Result};
use crate::window::{MemoryModel, SharedWindow};
use std::sync::atomic::{fence, Ordering};

/// An integer type with a CPU atomic of the same size: `i32`, `u32`, `i64`
/// and `u64`.
///
/// Every operation is sequentially consistent except
/// [`AtomicWords::release_store`]: the protocols built on these
/// words (ticket and queue locks, reader counts against a writer flag)
/// reason about one total order of their operations, as they do with MPI
/// atomics. On x86 every read-modify-write is sequentially consistent
/// anyway, and a sequentially consistent load is a plain load.
pub trait CpuAtomic: Element {
    /// Atomic add (wrapping); returns the old value.
    ///
    /// # Safety
    /// `ptr` is valid and aligned for the whole call, and every concurrent
    /// access to `*ptr` (from any process) is atomic.
    #[doc(hidden)]
    unsafe fn atomic_add(ptr: *mut Self, value: Self) -> Self;
    /// Atomic swap; returns the old value.
    ///
    /// # Safety
    /// As [`atomic_add`](Self::atomic_add).
    #[doc(hidden)]
    unsafe fn atomic_swap(ptr: *mut Self, value: Self) -> Self;
    /// Atomic compare-and-swap; returns the old value.
    ///
    /// # Safety
    /// As [`atomic_add`](Self::atomic_add).
    #[doc(hidden)]
    unsafe fn atomic_compare_swap(ptr: *mut Self, current: Self, new: Self) -> Self;
    /// Atomic load.
    ///
    /// # Safety
    /// As [`atomic_add`](Self::atomic_add).
    #[doc(hidden)]
    unsafe fn atomic_load(ptr: *mut Self) -> Self;
    /// Atomic store, sequentially consistent (`release` false) or with
    /// release ordering only (`release` true).
    ///
    /// # Safety
    /// As [`atomic_add`](Self::atomic_add).
    #[doc(hidden)]
    unsafe fn atomic_store(ptr: *mut Self, value: Self, release: bool);
}

macro_rules! cpu_atomics {
    ($($t:ty => $atomic:ty;)*) => {$(
        impl CpuAtomic for $t {
            #[inline]
            unsafe fn atomic_add(ptr: *mut $t, value: $t) -> $t {
                // (Here and below) the atomic type has the integer's size and
                // alignment.
                // SAFETY: the caller guarantees a valid, aligned, atomic-only word.
                unsafe { <$atomic>::from_ptr(ptr) }.fetch_add(value, Ordering::SeqCst)
            }
            #[inline]
            unsafe fn atomic_swap(ptr: *mut $t, value: $t) -> $t {
                // SAFETY: as in `atomic_add`.
                unsafe { <$atomic>::from_ptr(ptr) }.swap(value, Ordering::SeqCst)
            }
            #[inline]
            unsafe fn atomic_compare_swap(ptr: *mut $t, current: $t, new: $t) -> $t {
                // SAFETY: as in `atomic_add`.
                let word = unsafe { <$atomic>::from_ptr(ptr) };
                match word.compare_exchange(current, new, Ordering::SeqCst, Ordering::SeqCst) {
                    Ok(old) | Err(old) => old,
                }
            }
            #[inline]
            unsafe fn atomic_load(ptr: *mut $t) -> $t {
                // SAFETY: as in `atomic_add`.
                unsafe { <$atomic>::from_ptr(ptr) }.load(Ordering::SeqCst)
            }
            #[inline]
            unsafe fn atomic_store(ptr: *mut $t, value: $t, release: bool) {
                // A release store is a plain store on x86 (no locked
                // instruction): what a lock's release needs, and all it needs.
                let order = if release { Ordering::Release } else { Ordering::SeqCst };
                // SAFETY: as in `atomic_add`.
                unsafe { <$atomic>::from_ptr(ptr) }.store(value, order)
            }
        }
    )*};
}

cpu_atomics! {
    i32 => std::sync::atomic::AtomicI32;
    u32 => std::sync::atomic::AtomicU32;
    i64 => std::sync::atomic::AtomicI64;
    u64 => std::sync::atomic::AtomicU64;
}

/// `len` words per rank in an `MPI_Win_allocate_shared` window over a
/// communicator whose processes all share one node, reached by every process
/// with CPU atomics on the mapped memory: no MPI call on any operation.
///
/// # Memory model
/// The words are only used when the window's memory model is
/// `MPI_WIN_UNIFIED` (MPI-3.1 §11.4: the public and private copies are the
/// same memory, so a store is seen by other processes as the hardware's
/// memory model says) and are only ever accessed atomically (never by MPI
/// operations, never by plain loads and stores). Sequentially consistent
/// CPU atomics then order the words among themselves and order this
/// process's plain loads and stores of other shared memory around them, the
/// job `MPI_Win_sync` does in the separate model. Data that other processes
/// reach through MPI RMA calls must still be completed (`MPI_Win_flush`)
/// before a process signals through these words.
pub struct NodeWords<T: CpuAtomic> {
    // Declared first: the window outlives nothing that points into it.
    win: SharedWindow<T>,
    segments: Vec<*mut T>,
    len: usize,
}

// SAFETY: `NodeWords` holds MPI handles and raw pointers into the window's
// shared memory. The pointers are only dereferenced as CPU atomics, which
// any thread may use concurrently; the window is only freed by `Drop`, which
// needs ownership. MPI handles are valid on every thread.
unsafe impl<T: CpuAtomic> Send for NodeWords<T> {}
// SAFETY: as for `Send`: `&NodeWords` only gives atomic access to the words.
unsafe impl<T: CpuAtomic> Sync for NodeWords<T> {}

impl<T: CpuAtomic> std::fmt::Debug for NodeWords<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeWords")
            .field("ranks", &self.segments.len())
            .field("words", &self.len)
            .finish()
    }
}

impl<T: CpuAtomic> NodeWords<T> {
    /// Allocates `len` zeroed words per rank (collective over `comm`), or
    /// returns `Ok(None)` on every rank when CPU atomics cannot be used: the
    /// ranks of `comm` do not all share one node, or MPI gives the shared
    /// window the separate memory model.
    pub fn allocate(comm: &OwnedComm, len: usize) -> Result<Option<Self>> {
        let node = comm.split_shared(comm.rank())?;
        // The same answer on every rank: either every rank's node group is
        // the whole communicator, or none is.
        let one_node = node.size() == comm.size();
        drop(node);
        if !one_node {
            return Ok(None);
        }
        let win = SharedWindow::<T>::allocate_shared(comm.communicator(), len)?;
        let unified = matches!(win.memory_model(), Ok(MemoryModel::Unified));
        let mut flag = [i64::from(unified)];
        comm.all_reduce_min(&mut flag)?;
        if flag[0] == 0 {
            return Ok(None);
        }
        let segments = (0..comm.size())
            .map(|rank| win.segment(rank).map(|s| s.as_ptr()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(NodeWords { win, segments, len }))
    }

    /// Words per rank.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` when there are no words.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The shared window under the words.
    pub fn window(&self) -> &SharedWindow<T> {
        &self.win
    }

    #[inline]
    fn word(&self, target: i32, word: usize) -> Result<*mut T> {
        // Not `ok_or`: an error built eagerly (it has drop glue) would be
        // built and dropped on every call of this hot path.
        let Some(segment) = usize::try_from(target)
            .ok()
            .and_then(|t| self.segments.get(t))
        else {
            return Err(Error::NoSuchRank {
                rank: target,
                size: self.segments.len() as i32,
            });
        };
        if word >= self.len {
            return Err(Error::OutOfRange {
                target,
                disp: word,
                count: 1,
                len: self.len,
            });
        }
        // SAFETY: `word < len` and every segment holds `len` elements.
        Ok(unsafe { segment.add(word) })
    }

    /// Runs `op` on the word.
    #[inline]
    fn with_word<R>(&self, target: i32, word: usize, op: impl FnOnce(*mut T) -> R) -> Result<R> {
        // Every access to these words, from every process, is a CPU atomic
        // of `CpuAtomic` on a word `word()` checked to lie in the window,
        // which `self` keeps alive (see the type's memory-model notes).
        Ok(op(self.word(target, word)?))
    }
}

impl<T: CpuAtomic> AtomicWords<T> for NodeWords<T> {
    #[inline]
    fn fetch_add(&self, target: i32, word: usize, value: T) -> Result<T> {
        // SAFETY (all six): `with_word` passes an aligned word of the live
        // window that every process only ever accesses atomically.
        self.with_word(target, word, |p| unsafe { T::atomic_add(p, value) })
    }

    #[inline]
    fn swap(&self, target: i32, word: usize, value: T) -> Result<T> {
        // SAFETY: as in `fetch_add`.
        self.with_word(target, word, |p| unsafe { T::atomic_swap(p, value) })
    }

    #[inline]
    fn compare_swap(&self, target: i32, word: usize, compare: T, value: T) -> Result<T> {
        // SAFETY: as in `fetch_add`.
        self.with_word(target, word, |p| unsafe {
            T::atomic_compare_swap(p, compare, value)
        })
    }

    #[inline]
    fn load(&self, target: i32, word: usize) -> Result<T> {
        // SAFETY: as in `fetch_add`.
        self.with_word(target, word, |p| unsafe { T::atomic_load(p) })
    }

    #[inline]
    fn store(&self, target: i32, word: usize, value: T) -> Result<()> {
        // SAFETY: as in `fetch_add`.
        self.with_word(target, word, |p| unsafe {
            T::atomic_store(p, value, false)
        })
    }

    #[inline]
    fn release_store(&self, target: i32, word: usize, value: T) -> Result<()> {
        // SAFETY: as in `fetch_add`.
        self.with_word(target, word, |p| unsafe { T::atomic_store(p, value, true) })
    }

    #[inline]
    fn complete(&self, _target: i32) -> Result<()> {
        fence(Ordering::SeqCst);
        Ok(())
    }
}
