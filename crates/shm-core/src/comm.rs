//! Communicators owned by this crate, with checked collectives.
//!
//! rsmpi's collectives ignore MPI return codes and its communicators keep
//! `MPI_ERRORS_ARE_FATAL`. Every communicator this crate creates is an
//! [`OwnedComm`] with `MPI_ERRORS_RETURN`, and the few collectives our
//! protocols need are called through `mpi::ffi` with their codes checked, so
//! that a failure is an [`Error`] on the calling rank instead of
//! an abort of the job.

use crate::error::{check, Error, Result};
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

impl OwnedComm {
    /// Duplicates `comm` (collective over `comm`).
    ///
    /// The duplicate has its own communication context, so the messages of the
    /// object that owns it never match anybody else's.
    pub fn duplicate<C: Communicator + ?Sized>(comm: &C) -> Result<Self> {
        let mut raw = sys::COMM_NULL();
        // SAFETY: `comm` is a live communicator (rsmpi guarantees it for the
        // lifetime of the borrow); `raw` receives a new handle that we own.
        check(
            unsafe { ffi::MPI_Comm_dup(comm.as_raw(), &mut raw) },
            "MPI_Comm_dup",
        )?;
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

    /// `MPI_Barrier`.
    pub fn barrier(&self) -> Result<()> {
        raw::barrier(self.as_raw())
    }

    /// In-place `MPI_Allreduce` with `MPI_MIN` over `i64`s.
    ///
    /// Our agreement protocols pack everything they need into one minimum: a
    /// maximum is the minimum of negated values, and "the value of the one
    /// rank that has it" is the minimum when the others send `i64::MAX`.
    pub fn all_reduce_min(&self, values: &mut [i64]) -> Result<()> {
        raw::all_reduce_min(self.as_raw(), values)
    }

    /// `MPI_Allgather` of the same number of `i64`s from every rank.
    pub fn all_gather(&self, mine: &[i64]) -> Result<Vec<i64>> {
        raw::all_gather(self.as_raw(), self.size, mine)
    }

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

    /// Broadcasts a string from `root`; the others' `text` is ignored.
    pub fn broadcast_string(&self, root: i32, text: &str) -> Result<String> {
        raw::broadcast_string(self.as_raw(), root, text)
    }

    /// Collective validation: returns `Ok` on every rank when `local` is `Ok`
    /// on every rank, and otherwise the message of the lowest failing rank as
    /// [`Error::Invalid`] on every rank.
    pub fn agree(&self, local: std::result::Result<(), String>) -> Result<()> {
        raw::agree(self.as_raw(), local)
    }

    /// The second half of [`agree`](Self::agree), for protocols that fold the
    /// lowest failing rank into a larger reduction of their own.
    pub(crate) fn resolve_agreement(&self, lowest: i64, message: Option<String>) -> Result<()> {
        raw::resolve_agreement(self.as_raw(), lowest, message)
    }
}

/// The checked collectives on raw handles, shared by [`OwnedComm`] and by the
/// window constructors, which run on communicators we do not own.
pub(crate) mod raw {
    use super::*;

    /// The rank of this process in `comm`, and the size of `comm`.
    pub(crate) fn rank_and_size(comm: MPI_Comm) -> Result<(i32, i32)> {
        let (mut rank, mut size) = (0, 0);
        // SAFETY: the caller's communicator is live; the outputs are locals.
        check(
            unsafe { ffi::MPI_Comm_rank(comm, &mut rank) },
            "MPI_Comm_rank",
        )?;
        // SAFETY: as above.
        check(
            unsafe { ffi::MPI_Comm_size(comm, &mut size) },
            "MPI_Comm_size",
        )?;
        Ok((rank, size))
    }

    pub(crate) fn barrier(comm: MPI_Comm) -> Result<()> {
        // SAFETY: the caller's communicator is live for its borrow.
        check(unsafe { ffi::MPI_Barrier(comm) }, "MPI_Barrier")
    }

    pub(crate) fn all_reduce_min(comm: MPI_Comm, values: &mut [i64]) -> Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        // Reduce from a copy: MPI_IN_PLACE differs between implementations
        // and the vectors are a few words long.
        let send = values.to_vec();
        // SAFETY: both buffers hold `values.len()` i64s (a handful).
        check(
            unsafe {
                ffi::MPI_Allreduce(
                    send.as_ptr() as *const c_void,
                    values.as_mut_ptr() as *mut c_void,
                    values.len() as c_int,
                    sys::INT64_T(),
                    sys::MIN(),
                    comm,
                )
            },
            "MPI_Allreduce",
        )
    }

    pub(crate) fn all_gather(comm: MPI_Comm, size: i32, mine: &[i64]) -> Result<Vec<i64>> {
        let mut all = vec![0i64; mine.len() * size as usize];
        // SAFETY: `mine` holds `mine.len()` i64s and `all` room for that many
        // from each of the `size` ranks.
        check(
            unsafe {
                ffi::MPI_Allgather(
                    mine.as_ptr() as *const c_void,
                    mine.len() as c_int,
                    sys::INT64_T(),
                    all.as_mut_ptr() as *mut c_void,
                    mine.len() as c_int,
                    sys::INT64_T(),
                    comm,
                )
            },
            "MPI_Allgather",
        )?;
        Ok(all)
    }

    /// # Safety
    /// As [`OwnedComm::broadcast_raw`].
    pub(crate) unsafe fn broadcast(
        comm: MPI_Comm,
        root: i32,
        buf: *mut u8,
        len: usize,
    ) -> Result<()> {
        let mut done = 0;
        while done < len {
            let n = (len - done).min(MAX_CALL_BYTES);
            // SAFETY: `buf[done..done + n]` lies inside the caller's buffer.
            check(
                unsafe {
                    ffi::MPI_Bcast(
                        buf.add(done) as *mut c_void,
                        n as c_int,
                        sys::BYTE(),
                        root,
                        comm,
                    )
                },
                "MPI_Bcast",
            )?;
            done += n;
        }
        Ok(())
    }

    pub(crate) fn broadcast_string(comm: MPI_Comm, root: i32, text: &str) -> Result<String> {
        let mut len = (text.len() as u64).to_ne_bytes();
        // SAFETY: `len` is 8 writable bytes on every rank.
        unsafe { broadcast(comm, root, len.as_mut_ptr(), 8)? };
        let mut bytes = text.as_bytes().to_vec();
        bytes.resize(u64::from_ne_bytes(len) as usize, 0);
        // SAFETY: `bytes` holds exactly the broadcast length on every rank.
        unsafe { broadcast(comm, root, bytes.as_mut_ptr(), bytes.len())? };
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    pub(crate) fn agree(comm: MPI_Comm, local: std::result::Result<(), String>) -> Result<()> {
        let mut rank = 0;
        // SAFETY: the caller's communicator is live.
        check(
            unsafe { ffi::MPI_Comm_rank(comm, &mut rank) },
            "MPI_Comm_rank",
        )?;
        let mut lowest = [if local.is_err() {
            rank as i64
        } else {
            i64::MAX
        }];
        all_reduce_min(comm, &mut lowest)?;
        resolve_agreement(comm, lowest[0], local.err())
    }

    pub(crate) fn resolve_agreement(
        comm: MPI_Comm,
        lowest: i64,
        message: Option<String>,
    ) -> Result<()> {
        if lowest == i64::MAX {
            return Ok(());
        }
        let root = lowest as i32;
        let message = broadcast_string(comm, root, message.as_deref().unwrap_or(""))?;
        Err(Error::Invalid {
            rank: root,
            message,
        })
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
