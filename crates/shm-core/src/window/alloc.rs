//! Creating windows: the checks every allocation makes before it calls MPI
//! (agreed over the communicator), the allocation, and the zeroing and
//! gathering that end it.

use super::epoch::Access;
use super::{Completions, SharedWindow, Window};
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
            completions: Completions::new(0),
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
        win.completions = Completions::new(win.lens.len());
        Ok(win)
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
}
