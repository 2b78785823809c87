//! Typed MPI-3 one-sided windows, with epochs as RAII guards.
//!
//! * [`Window`] wraps `MPI_Win_allocate`: every rank exposes a segment of
//!   `len` elements of `T`, addressed by (target rank, element displacement).
//! * [`SharedWindow`] wraps `MPI_Win_allocate_shared`: the same, plus direct
//!   load/store access to the segments of the other ranks of the node through
//!   [`SharedWindow::segment`].
//!
//! Access happens in epochs, each a guard that closes its epoch when dropped:
//! [`Window::lock`] (`MPI_Win_lock` on one target), [`Window::lock_all`]
//! (`MPI_Win_lock_all`) and [`Window::fence`] (`MPI_Win_fence`). The
//! passive-target epochs implement [`Rma`]: put, get, accumulate,
//! get_accumulate, fetch_and_op, compare_and_swap, flush and sync.
//!
//! # Completion rules
//! Calls of [`Rma`] borrow their buffers only for the duration of the call, so
//! each one completes *locally* (`MPI_Win_flush_local`) before returning: the
//! buffer you passed to `put` may be reused, and the buffer you passed to `get`
//! holds the data. *Remote* completion (other processes can observe a put) is
//! what [`Rma::flush`] or the end of the epoch gives, as in MPI.
//!
//! In a fence epoch, operations complete only at the closing fence, so
//! [`FenceEpoch`] borrows its buffers until it is closed.
//!
//! # Errors
//! Windows use `MPI_ERRORS_RETURN`. Targets and displacements are checked
//! against the segment sizes gathered at creation, so an out-of-range access is
//! an [`Error::Usage`] before it reaches MPI.
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

use crate::census;
use crate::comm::with_errors_return;
use crate::element::Element;
use crate::error::{check, Error, Finding, Resource, Result};
use crate::memory;
use crate::sys;
use mpi::ffi::{self, MPI_Aint, MPI_Win};
use mpi::topology::Communicator;
use std::cell::Cell;
use std::marker::PhantomData;
use std::os::raw::{c_int, c_void};

/// Largest element count passed to one MPI call (MPI counts are C `int`s).
const MAX_CALL_ELEMENTS: usize = 1 << 28;

/// A reduction operation for accumulate and fetch-and-op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `MPI_SUM`.
    Sum,
    /// `MPI_PROD`.
    Prod,
    /// `MPI_MIN`.
    Min,
    /// `MPI_MAX`.
    Max,
    /// `MPI_BAND` (integers only).
    BitAnd,
    /// `MPI_BOR` (integers only).
    BitOr,
    /// `MPI_BXOR` (integers only).
    BitXor,
    /// `MPI_REPLACE`: an atomic write (an atomic swap in fetch-and-op).
    Replace,
    /// `MPI_NO_OP`: an atomic read in fetch-and-op and get-accumulate.
    NoOp,
}

impl Op {
    fn raw(self) -> ffi::MPI_Op {
        match self {
            Op::Sum => sys::SUM(),
            Op::Prod => sys::PROD(),
            Op::Min => sys::MIN(),
            Op::Max => sys::MAX(),
            Op::BitAnd => sys::BAND(),
            Op::BitOr => sys::BOR(),
            Op::BitXor => sys::BXOR(),
            Op::Replace => sys::REPLACE(),
            Op::NoOp => sys::NO_OP(),
        }
    }
}

/// The kind of a passive-target lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// `MPI_LOCK_EXCLUSIVE`.
    Exclusive,
    /// `MPI_LOCK_SHARED`.
    Shared,
}

/// The MPI memory model of a window (`MPI_WIN_MODEL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryModel {
    /// Public and private copies are the same memory (eventually coherent).
    Unified,
    /// Public and private copies are distinct; local stores need a sync.
    Separate,
}

/// Which epoch this process has open on a window, so that conflicting epochs
/// are refused with a clear error rather than an MPI error class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    None,
    Locks(u32),
    All,
    Fence,
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

/// Bytes requested for a segment.
///
/// * At least one element: implementations disagree on zero-size segments.
/// * Rounded up to a multiple of 64 bytes: MPICH 4.0 misdirects RMA between
///   ranks of windows whose segments are not multiples of 16 bytes (found by
///   the `mpi-lock` tests), and a cache line per segment also keeps the
///   segments of neighbouring ranks of a shared window off each other's lines.
fn segment_bytes<T>(len: usize) -> Result<MPI_Aint> {
    const ROUND: usize = 64;
    len.max(1)
        .checked_mul(std::mem::size_of::<T>())
        .and_then(|b| b.checked_next_multiple_of(ROUND))
        .and_then(|b| MPI_Aint::try_from(b).ok())
        .ok_or_else(|| {
            Error::Usage(format!(
                "a segment of {len} elements does not fit in memory"
            ))
        })
}

impl<T: Element> Window<T> {
    /// Creates a window with `len` elements on this rank (collective over
    /// `comm`; `len` may differ between ranks and may be zero). The local
    /// segment is zero-initialised before any rank can access it.
    pub fn allocate<C: Communicator + ?Sized>(comm: &C, len: usize) -> Result<Self> {
        let raw_comm = mpi::raw::AsRaw::as_raw(comm);
        let bytes = prepare_allocation(raw_comm, segment_bytes::<T>(len))?;
        let mut base: *mut T = std::ptr::null_mut();
        let mut raw = sys::WIN_NULL();
        with_errors_return(raw_comm, || {
            // SAFETY: `raw_comm` is live for the borrow of `comm`; `base` and
            // `raw` receive the segment address and the new window handle.
            check(
                unsafe {
                    ffi::MPI_Win_allocate(
                        bytes,
                        std::mem::size_of::<T>() as c_int,
                        sys::INFO_NULL(),
                        raw_comm,
                        &mut base as *mut *mut T as *mut c_void,
                        &mut raw,
                    )
                },
                "MPI_Win_allocate",
            )
        })?;
        // SAFETY: `raw` is the window we just created, `base` its segment of
        // `bytes` bytes, which `finish` zeroes.
        unsafe { Self::finish(raw, base, len, Some(bytes as usize), raw_comm) }
    }

    /// Completes the construction of a freshly allocated window: error
    /// handler, rank, the zeroing of this rank's segment when `zero_bytes`
    /// is given, and the all-gather of segment lengths, which doubles as the
    /// synchronisation that orders each rank's zeroing before any access and
    /// as the agreement on whether every rank could touch its memory.
    ///
    /// # Safety
    /// `raw` must be a live window created over `comm` with `base` as the
    /// start of this rank's segment of (at least) `len` elements and
    /// `zero_bytes` bytes, which no other process accesses before this
    /// function returns.
    unsafe fn finish(
        raw: MPI_Win,
        base: *mut T,
        len: usize,
        zero_bytes: Option<usize>,
        comm: ffi::MPI_Comm,
    ) -> Result<Self> {
        // Owning `raw` from here on means a failure below frees it in `Drop`.
        let mut win = Window {
            raw,
            base,
            lens: Vec::new(),
            rank: 0,
            access: Cell::new(Access::None),
            _marker: PhantomData,
        };
        census::window_created();
        // SAFETY: `raw` is live by the caller's contract.
        check(
            unsafe { ffi::MPI_Win_set_errhandler(raw, sys::ERRORS_RETURN()) },
            "MPI_Win_set_errhandler",
        )?;
        let (rank, size) = crate::comm::raw::rank_and_size(comm)?;
        win.rank = rank;
        // Touch the pages before storing to them: a page the system cannot
        // provide is then an error here instead of a SIGBUS below.
        let touched = match zero_bytes {
            Some(bytes) => memory::populate(base as *mut u8, bytes).inspect(|_| {
                // SAFETY: our own segment of `bytes` bytes, resident now;
                // nobody else accesses it before the all-gather below.
                unsafe { std::ptr::write_bytes(base as *mut u8, 0, bytes) }
            }),
            None => Ok(()),
        };
        // The release fence orders our zeroing stores before the all-gather
        // that every other rank must pass before it may access the segment.
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        let mine = [len as i64, touched.is_err() as i64];
        let table = with_errors_return(comm, || crate::comm::raw::all_gather(comm, size, &mine))?;
        if let Some(first) = table.chunks(2).position(|row| row[1] != 0) {
            let finding = touched
                .err()
                .map(|m| Finding::Exhausted(Resource::NodeMemory, m));
            return Err(with_errors_return(comm, || {
                crate::comm::raw::broadcast_finding(comm, first as i32, finding)
            })?
            .into_error(first as i32));
        }
        win.lens = table.chunks(2).map(|row| row[0] as usize).collect();
        Ok(win)
    }

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

    fn begin(&self, want: Access) -> Result<()> {
        let next = match (self.access.get(), want) {
            (Access::None, w) => w,
            (Access::Locks(n), Access::Locks(_)) => Access::Locks(n + 1),
            (open, _) => {
                return Err(Error::Usage(format!(
                    "cannot open a {want:?} epoch while a {open:?} epoch is open on this window"
                )))
            }
        };
        self.access.set(next);
        Ok(())
    }

    fn end(&self) {
        let next = match self.access.get() {
            Access::Locks(n) if n > 1 => Access::Locks(n - 1),
            _ => Access::None,
        };
        self.access.set(next);
    }

    /// Opens a passive-target epoch on `target` (`MPI_Win_lock`).
    pub fn lock(&self, kind: LockKind, target: i32) -> Result<LockEpoch<'_, T>> {
        self.check_range(target, 0, 0)?;
        self.begin(Access::Locks(1))?;
        let lock_type = match kind {
            LockKind::Exclusive => sys::LOCK_EXCLUSIVE(),
            LockKind::Shared => sys::LOCK_SHARED(),
        };
        // SAFETY: the window is live; the guard unlocks it exactly once.
        let res = check(
            unsafe { ffi::MPI_Win_lock(lock_type, target, 0, self.raw) },
            "MPI_Win_lock",
        );
        if let Err(e) = res {
            self.end();
            return Err(e);
        }
        Ok(LockEpoch {
            win: self,
            target,
            open: true,
        })
    }

    /// Opens a passive-target epoch on every rank (`MPI_Win_lock_all`, shared
    /// locks). This is the usual epoch for lock-free algorithms: keep it open
    /// and order operations with [`Rma::flush`].
    pub fn lock_all(&self) -> Result<LockAllEpoch<'_, T>> {
        self.begin(Access::All)?;
        // SAFETY: the window is live; the guard unlocks it exactly once.
        let res = check(
            unsafe { ffi::MPI_Win_lock_all(0, self.raw) },
            "MPI_Win_lock_all",
        );
        if let Err(e) = res {
            self.end();
            return Err(e);
        }
        Ok(LockAllEpoch {
            win: self,
            open: true,
        })
    }

    /// Opens an active-target fence epoch (collective: every rank of the
    /// window must call it). Buffers passed to the epoch stay borrowed until
    /// it is closed by [`FenceEpoch::close`] or dropped.
    pub fn fence<'b>(&self) -> Result<FenceEpoch<'_, 'b, T>> {
        self.begin(Access::Fence)?;
        // SAFETY: the window is live; the guard closes the epoch exactly once.
        let res = check(
            unsafe { ffi::MPI_Win_fence(sys::MODE_NOPRECEDE(), self.raw) },
            "MPI_Win_fence",
        );
        if let Err(e) = res {
            self.end();
            return Err(e);
        }
        Ok(FenceEpoch {
            win: self,
            open: true,
            _buffers: PhantomData,
        })
    }

    fn check_range(&self, target: i32, disp: usize, count: usize) -> Result<()> {
        let len = self.len_of(target).ok_or_else(|| {
            Error::Usage(format!(
                "target rank {target} is outside the window's group of {} ranks",
                self.size()
            ))
        })?;
        match disp.checked_add(count) {
            Some(end) if end <= len => Ok(()),
            _ => Err(Error::Usage(format!(
                "elements {disp}..{} are outside rank {target}'s segment of {len}",
                disp.saturating_add(count)
            ))),
        }
    }

    /// Splits `count` elements into calls of at most `MAX_CALL_ELEMENTS`.
    fn chunked(count: usize, mut f: impl FnMut(usize, c_int) -> Result<()>) -> Result<()> {
        let mut done = 0;
        while done < count {
            let n = (count - done).min(MAX_CALL_ELEMENTS);
            f(done, n as c_int)?;
            done += n;
        }
        Ok(())
    }

    // The raw operations below start an RMA operation and return: the caller
    // (an epoch) completes it before the borrowed buffers are released.

    fn start_put(&self, target: i32, disp: usize, data: &[T]) -> Result<()> {
        self.check_range(target, disp, data.len())?;
        Self::chunked(data.len(), |off, n| {
            // SAFETY: `data[off..off + n]` is readable and stays borrowed until
            // the epoch completes the operation; the target range was checked.
            check(
                unsafe {
                    ffi::MPI_Put(
                        data.as_ptr().add(off) as *const c_void,
                        n,
                        T::datatype(),
                        target,
                        (disp + off) as MPI_Aint,
                        n,
                        T::datatype(),
                        self.raw,
                    )
                },
                "MPI_Put",
            )
        })
    }

    fn start_get(&self, target: i32, disp: usize, out: &mut [T]) -> Result<()> {
        self.check_range(target, disp, out.len())?;
        let ptr = out.as_mut_ptr();
        Self::chunked(out.len(), |off, n| {
            // SAFETY: `out[off..off + n]` is writable and stays borrowed until
            // the epoch completes the operation; the target range was checked.
            check(
                unsafe {
                    ffi::MPI_Get(
                        ptr.add(off) as *mut c_void,
                        n,
                        T::datatype(),
                        target,
                        (disp + off) as MPI_Aint,
                        n,
                        T::datatype(),
                        self.raw,
                    )
                },
                "MPI_Get",
            )
        })
    }

    fn start_accumulate(&self, target: i32, disp: usize, data: &[T], op: Op) -> Result<()> {
        self.check_op(op)?;
        self.check_range(target, disp, data.len())?;
        Self::chunked(data.len(), |off, n| {
            // SAFETY: as in `start_put`.
            check(
                unsafe {
                    ffi::MPI_Accumulate(
                        data.as_ptr().add(off) as *const c_void,
                        n,
                        T::datatype(),
                        target,
                        (disp + off) as MPI_Aint,
                        n,
                        T::datatype(),
                        op.raw(),
                        self.raw,
                    )
                },
                "MPI_Accumulate",
            )
        })
    }

    fn check_op(&self, op: Op) -> Result<()> {
        if !T::INTEGER && matches!(op, Op::BitAnd | Op::BitOr | Op::BitXor) {
            return Err(Error::Usage(format!(
                "{op:?} is only defined for integer types, not {}",
                T::NAME
            )));
        }
        Ok(())
    }

    fn flush_local_raw(&self, target: i32) -> Result<()> {
        // SAFETY: the window is live and inside a passive-target epoch.
        check(
            unsafe { ffi::MPI_Win_flush_local(target, self.raw) },
            "MPI_Win_flush_local",
        )
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

/// The checks every window allocation makes before calling MPI, agreed over
/// `comm` so that no rank enters the collective allocation alone: the
/// segment size fits, the node has the memory left, and MPI can create one
/// more window. Returns the segment size in bytes.
///
/// MPI implementations give every window a communicator context of its own,
/// from a pool shared with communicators (MPICH: about 2,000 per process).
/// MPICH aborts the job inside `MPI_Win_allocate_shared` when that pool is
/// empty, while making a communicator returns an error: so a communicator
/// made and freed just before (a canary) turns the abort into an error.
fn prepare_allocation(comm: ffi::MPI_Comm, bytes: Result<MPI_Aint>) -> Result<MPI_Aint> {
    crate::check_mpi_library()?;
    let size_finding = match &bytes {
        Err(e) => Some(Finding::Invalid(e.to_string())),
        Ok(b) => memory::check_available(*b as usize)
            .err()
            .map(|m| Finding::Exhausted(Resource::NodeMemory, m)),
    };
    let context = with_errors_return(comm, || crate::comm::raw::probe_context(comm));
    let context_finding = context.err().map(|e| {
        // MPICH's message is a call stack: its last line says what ran out.
        let reason = match &e {
            Error::Mpi { call, message, .. } => {
                format!("{call}: {}", message.lines().last().unwrap_or("").trim())
            }
            other => other.to_string(),
        };
        Finding::Exhausted(
            Resource::MpiContexts,
            format!(
                "MPI cannot create another window ({reason}); {}",
                census::describe()
            ),
        )
    });
    let finding = size_finding.or(context_finding);
    with_errors_return(comm, || crate::comm::raw::agree_finding(comm, finding))?;
    Ok(bytes.expect("agreed above"))
}

mod sealed {
    pub trait Sealed {}
}

/// One-sided operations inside a passive-target epoch.
///
/// Each call completes locally before it returns (see the module
/// documentation); [`flush`](Rma::flush) completes it remotely.
pub trait Rma<T: Element>: sealed::Sealed {
    /// The window this epoch belongs to.
    fn window(&self) -> &Window<T>;

    /// Checks that `target` may be accessed in this epoch.
    #[doc(hidden)]
    fn check_target(&self, target: i32) -> Result<()>;

    /// `MPI_Put` of `data` to `target`'s segment at element `disp`.
    fn put(&self, target: i32, disp: usize, data: &[T]) -> Result<()> {
        self.check_target(target)?;
        self.window().start_put(target, disp, data)?;
        self.window().flush_local_raw(target)
    }

    /// `MPI_Get` of `out.len()` elements from `target`'s segment at `disp`.
    fn get(&self, target: i32, disp: usize, out: &mut [T]) -> Result<()> {
        self.check_target(target)?;
        self.window().start_get(target, disp, out)?;
        self.window().flush_local_raw(target)
    }

    /// `MPI_Accumulate` of `data` into `target`'s segment at `disp`
    /// (element-wise atomic with respect to other accumulates).
    fn accumulate(&self, target: i32, disp: usize, data: &[T], op: Op) -> Result<()> {
        self.check_target(target)?;
        self.window().start_accumulate(target, disp, data, op)?;
        self.window().flush_local_raw(target)
    }

    /// [`put`](Rma::put) completed remotely: one `MPI_Put` and one
    /// `MPI_Win_flush`, which also completes it locally, so this is one MPI
    /// call cheaper than `put` followed by [`flush`](Rma::flush).
    fn put_flush(&self, target: i32, disp: usize, data: &[T]) -> Result<()> {
        self.check_target(target)?;
        self.window().start_put(target, disp, data)?;
        self.flush(target)
    }

    /// [`accumulate`](Rma::accumulate) completed remotely, with one flush
    /// (see [`put_flush`](Rma::put_flush)).
    fn accumulate_flush(&self, target: i32, disp: usize, data: &[T], op: Op) -> Result<()> {
        self.check_target(target)?;
        self.window().start_accumulate(target, disp, data, op)?;
        self.flush(target)
    }

    /// `MPI_Get_accumulate`: atomically fetches the old values into `result`
    /// and combines `data` into them. `data` and `result` have the same length.
    fn get_accumulate(
        &self,
        target: i32,
        disp: usize,
        data: &[T],
        result: &mut [T],
        op: Op,
    ) -> Result<()> {
        self.check_target(target)?;
        let win = self.window();
        win.check_op(op)?;
        if data.len() != result.len() {
            return Err(Error::Usage(format!(
                "get_accumulate needs equal lengths, got {} and {}",
                data.len(),
                result.len()
            )));
        }
        win.check_range(target, disp, data.len())?;
        let out = result.as_mut_ptr();
        Window::<T>::chunked(data.len(), |off, n| {
            // SAFETY: both buffers hold `off + n` elements and stay borrowed
            // until the flush below; the target range was checked.
            check(
                unsafe {
                    ffi::MPI_Get_accumulate(
                        data.as_ptr().add(off) as *const c_void,
                        n,
                        T::datatype(),
                        out.add(off) as *mut c_void,
                        n,
                        T::datatype(),
                        target,
                        (disp + off) as MPI_Aint,
                        n,
                        T::datatype(),
                        op.raw(),
                        win.raw,
                    )
                },
                "MPI_Get_accumulate",
            )
        })?;
        win.flush_local_raw(target)
    }

    /// `MPI_Fetch_and_op` on one element: returns the old value. With
    /// [`Op::NoOp`] it is an atomic read, with [`Op::Replace`] an atomic swap.
    fn fetch_and_op(&self, target: i32, disp: usize, value: T, op: Op) -> Result<T> {
        self.check_target(target)?;
        let win = self.window();
        win.check_op(op)?;
        win.check_range(target, disp, 1)?;
        let mut old = T::zeroed();
        // SAFETY: `value` and `old` are live locals until the flush below.
        check(
            unsafe {
                ffi::MPI_Fetch_and_op(
                    &value as *const T as *const c_void,
                    &mut old as *mut T as *mut c_void,
                    T::datatype(),
                    target,
                    disp as MPI_Aint,
                    op.raw(),
                    win.raw,
                )
            },
            "MPI_Fetch_and_op",
        )?;
        win.flush_local_raw(target)?;
        Ok(old)
    }

    /// `MPI_Compare_and_swap` on one element: writes `value` if the element
    /// equals `compare`, and returns the old value either way. Integer types
    /// only.
    ///
    /// Open MPI 4.1's default one-node component (`osc/rdma`) crashes the
    /// target of an 8-byte compare-and-swap; run with `OMPI_MCA_osc=sm,pt2pt`
    /// (see `docs/architecture.md`).
    fn compare_and_swap(&self, target: i32, disp: usize, compare: T, value: T) -> Result<T> {
        self.check_target(target)?;
        let win = self.window();
        if !T::INTEGER {
            return Err(Error::Usage(format!(
                "compare_and_swap is only defined for integer types, not {}",
                T::NAME
            )));
        }
        win.check_range(target, disp, 1)?;
        let mut old = T::zeroed();
        // SAFETY: the three locals live until the flush below.
        check(
            unsafe {
                ffi::MPI_Compare_and_swap(
                    &value as *const T as *const c_void,
                    &compare as *const T as *const c_void,
                    &mut old as *mut T as *mut c_void,
                    T::datatype(),
                    target,
                    disp as MPI_Aint,
                    win.raw,
                )
            },
            "MPI_Compare_and_swap",
        )?;
        win.flush_local_raw(target)?;
        Ok(old)
    }

    /// `MPI_Win_flush`: completes every operation to `target` remotely.
    fn flush(&self, target: i32) -> Result<()> {
        self.check_target(target)?;
        // SAFETY: the window is live and inside a passive-target epoch.
        check(
            unsafe { ffi::MPI_Win_flush(target, self.window().raw) },
            "MPI_Win_flush",
        )
    }

    /// `MPI_Win_flush_all`.
    fn flush_all(&self) -> Result<()> {
        // SAFETY: as in `flush`.
        check(
            unsafe { ffi::MPI_Win_flush_all(self.window().raw) },
            "MPI_Win_flush_all",
        )
    }

    /// `MPI_Win_sync`: synchronises the public and private copies of this
    /// rank's segment (a memory barrier for direct loads and stores).
    fn sync(&self) -> Result<()> {
        // SAFETY: as in `flush`.
        check(
            unsafe { ffi::MPI_Win_sync(self.window().raw) },
            "MPI_Win_sync",
        )
    }
}

/// A passive-target epoch on one target, from [`Window::lock`].
#[must_use = "the epoch ends as soon as the guard is dropped"]
pub struct LockEpoch<'w, T: Element> {
    win: &'w Window<T>,
    target: i32,
    open: bool,
}

impl<T: Element> LockEpoch<'_, T> {
    /// Ends the epoch (`MPI_Win_unlock`), completing every operation.
    pub fn unlock(mut self) -> Result<()> {
        self.close()
    }

    fn close(&mut self) -> Result<()> {
        if !std::mem::replace(&mut self.open, false) {
            return Ok(());
        }
        self.win.end();
        // SAFETY: the epoch on `target` was opened by `Window::lock`.
        check(
            unsafe { ffi::MPI_Win_unlock(self.target, self.win.raw) },
            "MPI_Win_unlock",
        )
    }
}

impl<T: Element> Drop for LockEpoch<'_, T> {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl<T: Element> sealed::Sealed for LockEpoch<'_, T> {}
impl<T: Element> Rma<T> for LockEpoch<'_, T> {
    fn window(&self) -> &Window<T> {
        self.win
    }
    fn check_target(&self, target: i32) -> Result<()> {
        if target == self.target {
            Ok(())
        } else {
            Err(Error::Usage(format!(
                "this epoch locks rank {}, not rank {target}",
                self.target
            )))
        }
    }
}

/// A passive-target epoch on every rank, from [`Window::lock_all`].
#[must_use = "the epoch ends as soon as the guard is dropped"]
pub struct LockAllEpoch<'w, T: Element> {
    win: &'w Window<T>,
    open: bool,
}

impl<T: Element> LockAllEpoch<'_, T> {
    /// Ends the epoch (`MPI_Win_unlock_all`), completing every operation.
    pub fn unlock_all(mut self) -> Result<()> {
        self.close()
    }

    fn close(&mut self) -> Result<()> {
        if !std::mem::replace(&mut self.open, false) {
            return Ok(());
        }
        self.win.end();
        // SAFETY: the epoch was opened by `Window::lock_all`.
        check(
            unsafe { ffi::MPI_Win_unlock_all(self.win.raw) },
            "MPI_Win_unlock_all",
        )
    }
}

impl<T: Element> Drop for LockAllEpoch<'_, T> {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl<T: Element> sealed::Sealed for LockAllEpoch<'_, T> {}
impl<T: Element> Rma<T> for LockAllEpoch<'_, T> {
    fn window(&self) -> &Window<T> {
        self.win
    }
    fn check_target(&self, target: i32) -> Result<()> {
        self.win.check_range(target, 0, 0)
    }
}

/// A window that stays in a `MPI_Win_lock_all` epoch for its whole life,
/// from [`Window::into_locked`]: the usual shape for lock-free algorithms and
/// for objects (locks, stores) that keep a window and issue RMA at any time.
///
/// The epoch is closed (`MPI_Win_unlock_all`) before the window is freed.
pub struct LockedWindow<T: Element> {
    win: Window<T>,
}

impl<T: Element> std::fmt::Debug for LockedWindow<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LockedWindow").field(&self.win).finish()
    }
}

impl<T: Element> Window<T> {
    /// Opens a `MPI_Win_lock_all` epoch that lasts as long as the returned
    /// window. `assert_nocheck` passes `MPI_MODE_NOCHECK`, promising that no
    /// process will ever take an exclusive `MPI_Win_lock` on this window
    /// (which lets implementations skip lock traffic entirely).
    pub fn into_locked(self, assert_nocheck: bool) -> Result<LockedWindow<T>> {
        self.lock_for_life(assert_nocheck)?;
        Ok(LockedWindow { win: self })
    }

    /// The `MPI_Win_lock_all` of the locked forms, closed by their `Drop`.
    fn lock_for_life(&self, assert_nocheck: bool) -> Result<()> {
        self.begin(Access::All)?;
        let mode = if assert_nocheck {
            sys::MODE_NOCHECK()
        } else {
            0
        };
        // SAFETY: the window is live; the locked form unlocks it once.
        let res = check(
            unsafe { ffi::MPI_Win_lock_all(mode, self.raw) },
            "MPI_Win_lock_all",
        );
        if res.is_err() {
            self.end();
        }
        res
    }

    /// The `MPI_Win_unlock_all` of the locked forms' `Drop`.
    fn unlock_for_life(&self) {
        if std::thread::panicking() {
            return;
        }
        self.end();
        // SAFETY: the epoch opened by `lock_for_life`; the window is freed
        // right after, by `Window::drop`.
        unsafe { ffi::MPI_Win_unlock_all(self.raw) };
    }

    /// `MPI_Win_sync`, for the locked forms.
    fn sync_raw(&self) -> Result<()> {
        // SAFETY: the window is live and inside its lifelong lock_all epoch.
        check(unsafe { ffi::MPI_Win_sync(self.raw) }, "MPI_Win_sync")
    }
}

impl<T: Element> std::ops::Deref for LockedWindow<T> {
    type Target = Window<T>;
    fn deref(&self) -> &Window<T> {
        &self.win
    }
}

impl<T: Element> Drop for LockedWindow<T> {
    fn drop(&mut self) {
        self.win.unlock_for_life();
    }
}

impl<T: Element> sealed::Sealed for LockedWindow<T> {}
impl<T: Element> Rma<T> for LockedWindow<T> {
    fn window(&self) -> &Window<T> {
        &self.win
    }
    fn check_target(&self, target: i32) -> Result<()> {
        self.win.check_range(target, 0, 0)
    }
}

/// An active-target fence epoch, from [`Window::fence`].
///
/// Operations complete at the closing fence, so every buffer passed to them
/// stays borrowed (lifetime `'b`) until the epoch is closed.
#[must_use = "the epoch ends as soon as the guard is dropped"]
pub struct FenceEpoch<'w, 'b, T: Element> {
    win: &'w Window<T>,
    open: bool,
    _buffers: PhantomData<&'b mut [T]>,
}

impl<'b, T: Element> FenceEpoch<'_, 'b, T> {
    /// `MPI_Put`, completed at the closing fence.
    pub fn put(&self, target: i32, disp: usize, data: &'b [T]) -> Result<()> {
        self.win.start_put(target, disp, data)
    }

    /// `MPI_Get`; `out` holds the data once the epoch is closed.
    pub fn get(&self, target: i32, disp: usize, out: &'b mut [T]) -> Result<()> {
        self.win.start_get(target, disp, out)
    }

    /// `MPI_Accumulate`, completed at the closing fence.
    pub fn accumulate(&self, target: i32, disp: usize, data: &'b [T], op: Op) -> Result<()> {
        self.win.start_accumulate(target, disp, data, op)
    }

    /// Ends the epoch with a closing fence (collective), completing every
    /// operation of every rank on this window.
    pub fn close(mut self) -> Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> Result<()> {
        if !std::mem::replace(&mut self.open, false) {
            return Ok(());
        }
        self.win.end();
        // SAFETY: the fence epoch was opened by `Window::fence`.
        check(
            unsafe { ffi::MPI_Win_fence(sys::MODE_NOSUCCEED(), self.win.raw) },
            "MPI_Win_fence",
        )
    }
}

impl<T: Element> Drop for FenceEpoch<'_, '_, T> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = self.finish();
        }
    }
}

/// A window created by `MPI_Win_allocate_shared`: every rank's segment can
/// also be reached by direct loads and stores from the other ranks of the
/// node (the communicator must only span processes that can share memory,
/// such as the one from `MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)`).
///
/// It dereferences to [`Window`] for the RMA interface.
pub struct SharedWindow<T: Element> {
    win: Window<T>,
}

impl<T: Element> std::fmt::Debug for SharedWindow<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SharedWindow").field(&self.win).finish()
    }
}

impl<T: Element> std::ops::Deref for SharedWindow<T> {
    type Target = Window<T>;
    fn deref(&self) -> &Window<T> {
        &self.win
    }
}

/// A segment of a shared window, reachable by direct loads and stores.
///
/// This is a raw view: it does not prove that nobody writes the memory, so
/// element access is `unsafe` and follows the memory-model rules of the
/// window (`MPI_Win_sync` and a process synchronisation between a store on
/// one rank and a load on another).
#[derive(Debug, Clone, Copy)]
pub struct SharedSegment<T> {
    ptr: *mut T,
    len: usize,
}

impl<T: Element> SharedSegment<T> {
    /// The first element.
    pub fn as_ptr(&self) -> *mut T {
        self.ptr
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` when the segment has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads element `index` with a volatile load.
    ///
    /// # Safety
    /// `index < len`, and no process may store to this element between the
    /// last synchronisation that ordered its write before this load (for
    /// instance `MPI_Win_sync` + barrier + `MPI_Win_sync`) and the load.
    pub unsafe fn read(&self, index: usize) -> T {
        debug_assert!(index < self.len);
        // SAFETY: in bounds and race-free by the caller's contract; `ptr` is
        // aligned for `T` (checked when the segment was queried).
        unsafe { self.ptr.add(index).read_volatile() }
    }

    /// Writes element `index` with a volatile store.
    ///
    /// # Safety
    /// `index < len`, and no other process may load or store this element
    /// until a synchronisation orders this store before their access.
    pub unsafe fn write(&self, index: usize, value: T) {
        debug_assert!(index < self.len);
        // SAFETY: as in `read`.
        unsafe { self.ptr.add(index).write_volatile(value) }
    }
}

impl<T: Element> SharedWindow<T> {
    /// Creates a shared-memory window with `len` elements on this rank
    /// (collective over `comm`); the local segment is zero-initialised.
    pub fn allocate_shared<C: Communicator + ?Sized>(comm: &C, len: usize) -> Result<Self> {
        Self::allocate_shared_raw(mpi::raw::AsRaw::as_raw(comm), len, true)
    }

    /// As [`allocate_shared`](Self::allocate_shared), on a raw handle, with
    /// zeroing optional for callers that initialise the memory themselves.
    pub(crate) fn allocate_shared_raw(comm: ffi::MPI_Comm, len: usize, zero: bool) -> Result<Self> {
        let bytes = prepare_allocation(comm, segment_bytes::<T>(len))?;
        let mut base: *mut T = std::ptr::null_mut();
        let mut raw = sys::WIN_NULL();
        with_errors_return(comm, || {
            // SAFETY: `comm` is live for the caller's borrow; `base` and `raw`
            // receive the local segment address and the new window.
            check(
                unsafe {
                    ffi::MPI_Win_allocate_shared(
                        bytes,
                        std::mem::size_of::<T>() as c_int,
                        sys::INFO_NULL(),
                        comm,
                        &mut base as *mut *mut T as *mut c_void,
                        &mut raw,
                    )
                },
                "MPI_Win_allocate_shared",
            )
        })?;
        let zero_bytes = zero.then_some(bytes as usize);
        // SAFETY: `raw` is the window just created over `comm`, `base` our
        // segment of `bytes` bytes, which nobody touches before `finish`'s
        // all-gather.
        let win = unsafe { Window::finish(raw, base, len, zero_bytes, comm)? };
        Ok(SharedWindow { win })
    }

    /// The segment of `rank` (a rank of this window's group), for direct
    /// loads and stores (`MPI_Win_shared_query`).
    pub fn segment(&self, rank: i32) -> Result<SharedSegment<T>> {
        let len = self.len_of(rank).ok_or_else(|| {
            Error::Usage(format!(
                "rank {rank} is outside the window's group of {} ranks",
                self.size()
            ))
        })?;
        let mut size: MPI_Aint = 0;
        let mut disp_unit: c_int = 0;
        let mut ptr: *mut T = std::ptr::null_mut();
        // SAFETY: the window is live; the outputs are plain locals.
        check(
            unsafe {
                ffi::MPI_Win_shared_query(
                    self.win.raw,
                    rank,
                    &mut size,
                    &mut disp_unit,
                    &mut ptr as *mut *mut T as *mut c_void,
                )
            },
            "MPI_Win_shared_query",
        )?;
        if ptr.is_null() || (ptr as usize) % std::mem::align_of::<T>() != 0 {
            return Err(Error::Usage(format!(
                "MPI returned a shared segment at {ptr:p}, not aligned for {}",
                T::NAME
            )));
        }
        Ok(SharedSegment { ptr, len })
    }
}

/// A shared window that stays in a `MPI_Win_lock_all` epoch for its whole
/// life, from [`SharedWindow::into_locked`]: direct loads and stores through
/// [`segment`](SharedWindow::segment), with [`sync`](Self::sync)
/// (`MPI_Win_sync`) always allowed, as the unified memory model needs it
/// between a store on one process and a load on another.
///
/// The epoch is closed (`MPI_Win_unlock_all`) before the window is freed.
pub struct LockedSharedWindow<T: Element> {
    win: SharedWindow<T>,
}

impl<T: Element> std::fmt::Debug for LockedSharedWindow<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LockedSharedWindow")
            .field(&self.win)
            .finish()
    }
}

impl<T: Element> SharedWindow<T> {
    /// Opens a `MPI_Win_lock_all` epoch that lasts as long as the returned
    /// window (see [`Window::into_locked`] for `assert_nocheck`).
    pub fn into_locked(self, assert_nocheck: bool) -> Result<LockedSharedWindow<T>> {
        self.win.lock_for_life(assert_nocheck)?;
        Ok(LockedSharedWindow { win: self })
    }
}

impl<T: Element> LockedSharedWindow<T> {
    /// `MPI_Win_sync`: a memory barrier between this process's direct
    /// accesses to the window and other processes' (MPI-4.0 §12.7).
    pub fn sync(&self) -> Result<()> {
        self.win.win.sync_raw()
    }
}

impl<T: Element> std::ops::Deref for LockedSharedWindow<T> {
    type Target = SharedWindow<T>;
    fn deref(&self) -> &SharedWindow<T> {
        &self.win
    }
}

impl<T: Element> Drop for LockedSharedWindow<T> {
    fn drop(&mut self) {
        self.win.win.unlock_for_life();
    }
}

impl<T: Element> sealed::Sealed for LockedSharedWindow<T> {}
impl<T: Element> Rma<T> for LockedSharedWindow<T> {
    fn window(&self) -> &Window<T> {
        &self.win.win
    }
    fn check_target(&self, target: i32) -> Result<()> {
        self.win.check_range(target, 0, 0)
    }
}
