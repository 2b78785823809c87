//! Typed MPI-3 one-sided windows, with epochs as RAII guards.
//!
//! * [`Window`] wraps `MPI_Win_allocate`: every rank exposes a segment of
//!   `len` elements of `T`, addressed by (target rank, element displacement).
//! * [`SharedWindow`] wraps `MPI_Win_allocate_shared`: the same, plus direct
//!   load/store access to the segments of the other ranks of the node through
//!   [`SharedWindow::segment`].
//!
//! Access happens in epochs. The passive-target ones are guards ([`Epoch`])
//! that close when dropped: [`Window::lock`] (`MPI_Win_lock` on one target)
//! and [`Window::lock_all`] (`MPI_Win_lock_all`); [`LockedWindow`] and
//! [`LockedSharedWindow`] stay in a `lock_all` epoch for their whole life.
//! They implement [`Rma`]: put, get, accumulate, get_accumulate,
//! fetch_and_op, compare_and_swap, flush and sync, and [`Rma::batch`], a
//! scope in which several gets and puts are in flight at once ([`Batch`]).
//! Active-target fences are a scope, [`Window::fence_scope`].
//!
//! The module's parts: `alloc` (creating windows and the checks before),
//! `epoch`, `rma` (the operations), `batch` (operations completed
//! together), `locked`, `shared` (shared windows and their segments),
//! `completion` (counts of completion calls).
//!
//! # Completion rules
//! Calls of [`Rma`] borrow their buffers only for the duration of the call, so
//! each one completes *locally* (`MPI_Win_flush_local`) before returning: the
//! buffer you passed to `put` may be reused, and the buffer you passed to `get`
//! holds the data. A [`Batch`] borrows its buffers for its whole scope
//! instead, and completes them all at its end with one `MPI_Win_flush_all`
//! (remotely, which MPICH 4.0 needs: see [`Batch`]). *Remote* completion
//! (other processes can observe a put) is what [`Rma::flush`] or the end of
//! the epoch gives, as in MPI.
//!
//! In a fence epoch, operations complete only at the closing fence, so
//! [`FenceScope`] borrows its buffers for the whole scope.
//!
//! # Errors
//! Windows use `MPI_ERRORS_RETURN`. Targets and displacements are checked
//! against the segment sizes gathered at creation, so an out-of-range access is
//! an [`Error::OutOfRange`](crate::Error::OutOfRange) (or
//! [`Error::NoSuchRank`](crate::Error::NoSuchRank)) before it reaches MPI.
//!
//! ```no_run
//! use shm_core::window::{Rma, Window};
//! use mpi::traits::*;
//! let universe = mpi::initialize().unwrap();
//! let world = universe.world();
//! let win = Window::<i64>::allocate(&world, 1)?;
//! {
//!     let epoch = win.lock_all()?;
//!     // Every rank adds one to rank 0's counter.
//!     epoch.accumulate(0, 0, &[1], shm_core::Op::Sum)?;
//!     epoch.flush(0)?;
//! }
//! world.barrier();
//! # Ok::<(), shm_core::Error>(())
//! ```

mod alloc;
mod batch;
mod completion;
mod epoch;
mod locked;
mod rma;
mod shared;

pub use batch::{batch, Batch};
pub use completion::Completions;
pub use epoch::{
    AllTargets, Epoch, EpochKind, FenceScope, LockAllEpoch, LockEpoch, LockKind, OneTarget,
};
pub use locked::{Lockable, Locked, LockedSharedWindow, LockedWindow};
pub use rma::{Op, Rma};
pub use shared::{SharedSegment, SharedWindow};

use crate::census;
use crate::element::Element;
use crate::error::{check, Result};
use crate::sys;
use epoch::Access;
use mpi::ffi::{self, MPI_Win};
use std::cell::Cell;
use std::marker::PhantomData;
use std::os::raw::{c_int, c_void};

/// The MPI memory model of a window (`MPI_WIN_MODEL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryModel {
    /// Public and private copies are the same memory (eventually coherent).
    Unified,
    /// Public and private copies are distinct; local stores need a sync.
    Separate,
}

/// A window of `T` elements created by `MPI_Win_allocate`.
///
/// Every rank exposes its own segment. Creating and dropping a window are
/// collective over the communicator it was created on.
///
/// Not `Send` or `Sync`: the objects built on windows decide, with a written
/// argument, whether they may cross threads.
pub struct Window<T: Element> {
    raw: MPI_Win,
    base: *mut T,
    lens: Vec<usize>,
    rank: i32,
    access: Cell<Access>,
    completions: Completions,
    _marker: PhantomData<*mut T>,
}

impl<T: Element> std::fmt::Debug for Window<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Window")
            .field("type", &T::NAME)
            .field("rank", &self.rank)
            .field("len", &self.len())
            .finish()
    }
}

impl<T: Element> Window<T> {
    /// The number of elements of this rank's segment.
    pub fn len(&self) -> usize {
        self.lens.get(self.rank as usize).copied().unwrap_or(0)
    }

    /// `true` when this rank's segment has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of elements of `rank`'s segment.
    pub fn len_of(&self, rank: i32) -> Option<usize> {
        self.lens.get(usize::try_from(rank).ok()?).copied()
    }

    /// The number of ranks of the window's group.
    pub fn size(&self) -> i32 {
        self.lens.len() as i32
    }

    /// This process's rank in the window's group.
    pub fn rank(&self) -> i32 {
        self.rank
    }

    /// The raw handle, for calls this layer does not wrap.
    pub fn as_raw(&self) -> MPI_Win {
        self.raw
    }

    /// The start of this rank's segment. Accesses through it follow the MPI
    /// memory model: in the unified model, a local load or store must be
    /// separated from remote accesses by `MPI_Win_sync` plus a process
    /// synchronisation (or be done with [`Rma`] calls targeting this rank).
    pub fn local_ptr(&self) -> *mut T {
        self.base
    }

    /// How many completion calls this process made on the window, per
    /// target (for tests of completion).
    pub fn completions(&self) -> &Completions {
        &self.completions
    }

    /// The memory model of this window.
    pub fn memory_model(&self) -> Result<MemoryModel> {
        let mut value: *mut c_int = std::ptr::null_mut();
        let mut flag: c_int = 0;
        // SAFETY: MPI_WIN_MODEL is a predefined attribute whose value is a
        // pointer to an int owned by MPI, valid for the window's lifetime.
        check(
            unsafe {
                ffi::MPI_Win_get_attr(
                    self.raw,
                    sys::WIN_MODEL(),
                    &mut value as *mut *mut c_int as *mut c_void,
                    &mut flag,
                )
            },
            "MPI_Win_get_attr",
        )?;
        // SAFETY: when `flag` is set, `value` points to the model as above.
        if flag != 0 && !value.is_null() && unsafe { *value } == sys::WIN_UNIFIED() {
            Ok(MemoryModel::Unified)
        } else {
            Ok(MemoryModel::Separate)
        }
    }
}

impl<T: Element> Drop for Window<T> {
    fn drop(&mut self) {
        // Freeing is collective; a rank that unwinds from a panic must not
        // wait for the others there, so it leaks the window instead (the
        // panic hook or MPI_Abort ends the job anyway).
        if std::thread::panicking() || self.raw == sys::WIN_NULL() {
            return;
        }
        // SAFETY: the window is live and no epoch guard can outlive `self`.
        unsafe { ffi::MPI_Win_free(&mut self.raw) };
        census::window_freed();
    }
}
