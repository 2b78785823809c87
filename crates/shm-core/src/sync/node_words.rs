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
pub trait CpuAtomic: Element {
    /// # Safety
    /// `ptr` is valid and aligned for the whole call, and every concurrent
    /// access to `*ptr` (from any process) is atomic.
    #[doc(hidden)]
    unsafe fn rmw(ptr: *mut Self, op: Rmw<Self>) -> Self;
}

/// An atomic read-modify-write (or read, or write) of one word.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum Rmw<T> {
    Add(T),
    Swap(T),
    CompareSwap(T, T),
    Load,
    Store(T),
}

macro_rules! cpu_atomics {
    ($($t:ty => $atomic:ty;)*) => {$(
        impl CpuAtomic for $t {
            unsafe fn rmw(ptr: *mut $t, op: Rmw<$t>) -> $t {
                // SAFETY: the caller guarantees a valid, aligned word that is
                // only ever accessed atomically; the atomic type has the same
                // size and alignment as the integer.
                let word = unsafe { <$atomic>::from_ptr(ptr) };
                // Sequential consistency everywhere: the protocols built on
                // these words (ticket and queue locks, reader counts against
                // a writer flag) reason about one total order of their
                // operations, as they do with MPI atomics. On x86 every
                // read-modify-write is sequentially consistent anyway.
                let order = Ordering::SeqCst;
                match op {
                    Rmw::Add(v) => word.fetch_add(v, order),
                    Rmw::Swap(v) => word.swap(v, order),
                    Rmw::CompareSwap(current, new) => {
                        match word.compare_exchange(current, new, order, order) {
                            Ok(old) | Err(old) => old,
                        }
                    }
                    Rmw::Load => word.load(order),
                    Rmw::Store(v) => {
                        word.store(v, order);
                        v
                    }
                }
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

    fn word(&self, target: i32, word: usize) -> Result<*mut T> {
        let segment = usize::try_from(target)
            .ok()
            .and_then(|t| self.segments.get(t))
            .ok_or(Error::NoSuchRank {
                rank: target,
                size: self.segments.len() as i32,
            })?;
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

    fn rmw(&self, target: i32, word: usize, op: Rmw<T>) -> Result<T> {
        let ptr = self.word(target, word)?;
        // SAFETY: `ptr` is an aligned word of the window, which `self` keeps
        // alive; every access to these words, from every process, goes
        // through `CpuAtomic::rmw` (see the type's memory-model notes).
        Ok(unsafe { T::rmw(ptr, op) })
    }
}

impl<T: CpuAtomic> AtomicWords<T> for NodeWords<T> {
    fn fetch_add(&self, target: i32, word: usize, value: T) -> Result<T> {
        self.rmw(target, word, Rmw::Add(value))
    }

    fn swap(&self, target: i32, word: usize, value: T) -> Result<T> {
        self.rmw(target, word, Rmw::Swap(value))
    }

    fn compare_swap(&self, target: i32, word: usize, compare: T, value: T) -> Result<T> {
        self.rmw(target, word, Rmw::CompareSwap(compare, value))
    }

    fn load(&self, target: i32, word: usize) -> Result<T> {
        self.rmw(target, word, Rmw::Load)
    }

    fn store(&self, target: i32, word: usize, value: T) -> Result<()> {
        self.rmw(target, word, Rmw::Store(value)).map(drop)
    }

    fn complete(&self, _target: i32) -> Result<()> {
        fence(Ordering::SeqCst);
        Ok(())
    }
}
