//! Communicators owned by this crate, with checked collectives.
//!
//! The collectives and the agreement helpers of [`OwnedComm`] are shared by
//! the toolkit's crates and hidden from the documented API.
//!
//! rsmpi's collectives ignore MPI return codes and its communicators keep
//! `MPI_ERRORS_ARE_FATAL`. Every communicator this crate creates is an
//! [`OwnedComm`] with `MPI_ERRORS_RETURN`, and the few collectives our
//! protocols need are called through `mpi::ffi` with their codes checked, so
//! that a failure is an [`Error`] on the calling rank instead of
//! an abort of the job.

pub(crate) mod raw;

use crate::census;
use crate::error::{check, Error, Finding, Result};
use crate::sys;
use mpi::ffi::{self, MPI_Comm};
use mpi::raw::AsRaw;
use mpi::topology::{Communicator, SimpleCommunicator};
use std::marker::PhantomData;
use std::os::raw::{c_int, c_void};

/// Largest number of bytes handed to one MPI call: MPI counts are C `int`s.
pub(crate) const MAX_CALL_BYTES: usize = 1 << 30;

/// A communicator created (duplicated or split) by this crate.
///
/// It uses `MPI_ERRORS_RETURN`, caches its rank and size, and is freed when
/// dropped. It is neither `Send` nor `Sync`: the types built on it decide,
/// with a written argument, whether they may cross threads.
pub struct OwnedComm {
    comm: SimpleCommunicator,
    rank: i32,
    size: i32,
    _not_send: PhantomData<*const ()>,
}

impl std::fmt::Debug for OwnedComm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedComm")
            .field("rank", &self.rank)
            .field("size", &self.size)
            .finish()
    }
}

impl Drop for OwnedComm {
    fn drop(&mut self) {
        // rsmpi's `SimpleCommunicator` frees the handle right after this.
        census::communicator_freed();
    }
}

impl OwnedComm {
    /// Duplicates `comm` (collective over `comm`).
    ///
    /// The duplicate has its own communication context, so the messages of the
    /// object that owns it never match anybody else's.
    pub fn duplicate<C: Communicator + ?Sized>(comm: &C) -> Result<Self> {
        crate::check_mpi_library()?;
        let mut raw = sys::COMM_NULL();
        // The caller's communicator may have MPI_ERRORS_ARE_FATAL: a failed
        // duplication (MPI out of contexts, say) must return, not abort.
        with_errors_return(comm.as_raw(), || {
            check(
                // SAFETY: `comm` is live for the borrow; `raw` receives a handle we own.
                unsafe { ffi::MPI_Comm_dup(comm.as_raw(), &mut raw) },
                "MPI_Comm_dup",
            )
        })?;
        // SAFETY: `raw` was just created by MPI_Comm_dup and nobody else owns it.
        unsafe { Self::adopt(raw) }
    }

    /// Takes ownership of a freshly created communicator handle.
    ///
    /// # Safety
    /// `raw` must be a live intra-communicator (not `MPI_COMM_WORLD`,
    /// `MPI_COMM_SELF` or `MPI_COMM_NULL`) that nothing else will free.
    pub(crate) unsafe fn adopt(raw: MPI_Comm) -> Result<Self> {
        // SAFETY: `raw` is live by the caller's contract.
        check(
            unsafe { ffi::MPI_Comm_set_errhandler(raw, sys::ERRORS_RETURN()) },
            "MPI_Comm_set_errhandler",
        )?;
        let (rank, size) = raw::rank_and_size(raw)?;
        // SAFETY: `raw` is live and owned by us; rsmpi frees it on drop.
        let comm = unsafe { <SimpleCommunicator as mpi::raw::FromRaw>::from_raw(raw) };
        census::communicator_created();
        Ok(OwnedComm {
            comm,
            rank,
            size,
            _not_send: PhantomData,
        })
    }

    /// The rank of this process.
    pub fn rank(&self) -> i32 {
        self.rank
    }

    /// The number of processes.
    pub fn size(&self) -> i32 {
        self.size
    }

    /// The rsmpi communicator, for the caller's own collectives.
    pub fn communicator(&self) -> &SimpleCommunicator {
        &self.comm
    }

    /// The raw handle.
    pub fn as_raw(&self) -> MPI_Comm {
        self.comm.as_raw()
    }

    /// `MPI_Comm_split`; `None` as colour gives `MPI_UNDEFINED` and returns
    /// `None` on this rank (collective).
    pub fn split(&self, color: Option<i32>, key: i32) -> Result<Option<OwnedComm>> {
        let mut raw = sys::COMM_NULL();
        let color = color.unwrap_or_else(sys::UNDEFINED);
        // SAFETY: our communicator is live; `raw` receives a new handle.
        check(
            unsafe { ffi::MPI_Comm_split(self.as_raw(), color, key, &mut raw) },
            "MPI_Comm_split",
        )?;
        if raw == sys::COMM_NULL() {
            return Ok(None);
        }
        // SAFETY: a new communicator that only we hold.
        unsafe { Self::adopt(raw) }.map(Some)
    }

    /// `MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)`: the processes that can
    /// share memory with this one (collective).
    pub fn split_shared(&self, key: i32) -> Result<OwnedComm> {
        let mut raw = sys::COMM_NULL();
        // SAFETY: our communicator is live; `raw` receives a new handle.
        check(
            unsafe {
                ffi::MPI_Comm_split_type(
                    self.as_raw(),
                    sys::COMM_TYPE_SHARED(),
                    key,
                    sys::INFO_NULL(),
                    &mut raw,
                )
            },
            "MPI_Comm_split_type",
        )?;
        // SAFETY: a new communicator that only we hold.
        unsafe { Self::adopt(raw) }
    }

    /// For each rank of `comm`, its rank in this communicator, or `None`
    /// when that process is not in this one (a local call:
    /// `MPI_Group_translate_ranks`).
    pub fn ranks_of<C: Communicator + ?Sized>(&self, comm: &C) -> Result<Vec<Option<i32>>> {
        raw::translate_ranks(comm.as_raw(), self.as_raw())
    }

    /// Drives MPI's progress engine once: an `MPI_Iprobe` on this
    /// communicator, where the toolkit never sends anything, so nothing is
    /// ever received. Waiting loops call it (see [`crate::sync::poll`]).
    pub fn progress(&self) {
        let mut flag = 0;
        // SAFETY: the communicator is live (owned by `self`); `flag` is a
        // local int and the status is ignored. The return code does not
        // matter: the call is made for its progress only.
        unsafe {
            ffi::MPI_Iprobe(
                sys::ANY_SOURCE(),
                sys::ANY_TAG(),
                self.as_raw(),
                &mut flag,
                ffi::RSMPI_STATUS_IGNORE,
            );
        }
    }

    /// Checks that every rank passed the same `values` (collective, one
    /// `MPI_Allreduce` of twice their number): else the same
    /// [`Error::Invalid`] on every rank, saying that `what` (a plural, such as
    /// "the root ranks") differ.
    pub fn agree_same(&self, what: &str, values: &[i64]) -> Result<()> {
        let mut both: Vec<i64> = values.iter().flat_map(|&v| [v, !v]).collect();
        self.all_reduce_min(&mut both)?;
        let differs = both.chunks(2).any(|pair| pair[0] != !pair[1]);
        if differs {
            return Err(Error::Invalid {
                rank: None,
                message: format!("{what} differ between the ranks"),
            });
        }
        Ok(())
    }

    /// `MPI_Barrier`.
    pub fn barrier(&self) -> Result<()> {
        raw::barrier(self.as_raw())
    }

    #[doc(hidden)]
    /// In-place `MPI_Allreduce` with `MPI_MIN` over `i64`s (where MPI's own
    /// wait would poll, started non-blocking and waited for with yields, so
    /// that oversubscribed ranks do not poll each other off the cores).
    ///
    /// Our agreement protocols pack everything they need into one minimum: a
    /// maximum is the minimum of negated values, and "the value of the one
    /// rank that has it" is the minimum when the others send `i64::MAX`.
    pub fn all_reduce_min(&self, values: &mut [i64]) -> Result<()> {
        raw::all_reduce_min(self.as_raw(), values)
    }

    #[doc(hidden)]
    /// `MPI_Allgather` of the same number of `i64`s from every rank (waited
    /// for as [`all_reduce_min`](Self::all_reduce_min) is).
    pub fn all_gather(&self, mine: &[i64]) -> Result<Vec<i64>> {
        raw::all_gather(self.as_raw(), self.size, mine)
    }

    #[doc(hidden)]
    /// `MPI_Bcast` of raw bytes from `root`, split into calls of at most
    /// 2^30 bytes so that buffers beyond `int` range work.
    ///
    /// # Safety
    /// `buf` must be valid for reads (on `root`) or writes (elsewhere) of
    /// `len` bytes, and nobody else may access those bytes during the call.
    pub unsafe fn broadcast_raw(&self, root: i32, buf: *mut u8, len: usize) -> Result<()> {
        // SAFETY: forwarded contract.
        unsafe { raw::broadcast(self.as_raw(), root, buf, len) }
    }

    #[doc(hidden)]
    /// Broadcasts a string from `root`; the others' `text` is ignored.
    pub fn broadcast_string(&self, root: i32, text: &str) -> Result<String> {
        raw::broadcast_string(self.as_raw(), root, text)
    }

    #[doc(hidden)]
    /// Collective validation: returns `Ok` on every rank when `local` is `Ok`
    /// on every rank, and otherwise the message of the lowest failing rank as
    /// [`Error::Invalid`] on every rank.
    pub fn agree(&self, local: std::result::Result<(), String>) -> Result<()> {
        raw::agree(self.as_raw(), local)
    }

    /// [`agree`](Self::agree) on a finding of any kind.
    pub(crate) fn agree_finding(&self, local: Option<Finding>) -> Result<()> {
        raw::agree_finding(self.as_raw(), local)
    }

    /// The second half of [`agree`](Self::agree), for protocols that fold the
    /// lowest failing rank into a larger reduction of their own.
    pub(crate) fn resolve_agreement(&self, lowest: i64, message: Option<String>) -> Result<()> {
        raw::resolve_agreement(self.as_raw(), lowest, message)
    }
}

/// Runs `f` with `MPI_ERRORS_RETURN` installed on a communicator we do not
/// own, restoring the caller's error handler afterwards, so that a failing
/// collective creation call (a window, say) returns an error instead of
/// aborting the job.
pub(crate) fn with_errors_return<T>(comm: MPI_Comm, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let mut previous = sys::ERRHANDLER_NULL();
    // SAFETY: `comm` is live for the duration of the caller's borrow;
    // MPI_Comm_get_errhandler gives us a reference we must free below.
    check(
        unsafe { ffi::MPI_Comm_get_errhandler(comm, &mut previous) },
        "MPI_Comm_get_errhandler",
    )?;
    // SAFETY: as above.
    check(
        unsafe { ffi::MPI_Comm_set_errhandler(comm, sys::ERRORS_RETURN()) },
        "MPI_Comm_set_errhandler",
    )?;
    let result = f();
    // SAFETY: restore the handler we read, then release our reference to it.
    unsafe {
        ffi::MPI_Comm_set_errhandler(comm, previous);
        ffi::MPI_Errhandler_free(&mut previous);
    }
    result
}
