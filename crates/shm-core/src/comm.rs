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
        // and the vectors are a few words long. Waited for with yields
        // where MPI's own wait would poll (`idle_wait`): the agreements of
        // collective constructors run one after another (thousands of
        // arrays), and oversubscribed ranks polling in MPI_Allreduce would
        // cost a time slice each.
        let copy = values.to_vec();
        let (n, recv) = (values.len() as c_int, values.as_mut_ptr() as *mut c_void);
        let send = copy.as_ptr() as *const c_void;
        // SAFETY: both buffers hold `n` i64s (a handful) and stay untouched
        // until the reduction completes (`collective` returns).
        unsafe {
            crate::idle_wait::collective(
                ("MPI_Allreduce", || {
                    ffi::MPI_Allreduce(send, recv, n, sys::INT64_T(), sys::MIN(), comm)
                }),
                ("MPI_Iallreduce", |request| {
                    ffi::MPI_Iallreduce(send, recv, n, sys::INT64_T(), sys::MIN(), comm, request)
                }),
            )
        }
    }

    pub(crate) fn all_gather(comm: MPI_Comm, size: i32, mine: &[i64]) -> Result<Vec<i64>> {
        let mut all = vec![0i64; mine.len() * size as usize];
        let (n, send) = (mine.len() as c_int, mine.as_ptr() as *const c_void);
        let recv = all.as_mut_ptr() as *mut c_void;
        let int64 = sys::INT64_T();
        // SAFETY: `mine` holds `n` i64s and `all` room for that many from
        // each of the `size` ranks; both stay untouched until the gather
        // completes. Waited for as `all_reduce_min`.
        unsafe {
            crate::idle_wait::collective(
                ("MPI_Allgather", || {
                    ffi::MPI_Allgather(send, n, int64, recv, n, int64, comm)
                }),
                ("MPI_Iallgather", |request| {
                    ffi::MPI_Iallgather(send, n, int64, recv, n, int64, comm, request)
                }),
            )?;
        }
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
        agree_finding(comm, local.err().map(Finding::Invalid))
    }

    /// Collective validation: `Ok` on every rank when no rank has a
    /// finding, else the finding of the lowest rank that has one, as an
    /// error on every rank.
    pub(crate) fn agree_finding(comm: MPI_Comm, local: Option<Finding>) -> Result<()> {
        let (rank, _) = rank_and_size(comm)?;
        let mut lowest = [if local.is_some() {
            rank as i64
        } else {
            i64::MAX
        }];
        all_reduce_min(comm, &mut lowest)?;
        if lowest[0] == i64::MAX {
            return Ok(());
        }
        let root = lowest[0] as i32;
        Err(broadcast_finding(comm, root, local)?.into_error(root))
    }

    /// Sends `root`'s finding (kind and message) to every rank; the others'
    /// `finding` is ignored.
    pub(crate) fn broadcast_finding(
        comm: MPI_Comm,
        root: i32,
        finding: Option<Finding>,
    ) -> Result<Finding> {
        let mut code = finding.as_ref().map_or(0, Finding::code).to_ne_bytes();
        // SAFETY: `code` is 8 writable bytes on every rank.
        unsafe { broadcast(comm, root, code.as_mut_ptr(), 8)? };
        let message = broadcast_string(comm, root, finding.as_ref().map_or("", Finding::message))?;
        Ok(Finding::from_code(i64::from_ne_bytes(code), message))
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
            rank: Some(root),
            message,
        })
    }

    /// Checks that MPI can still create a communicator context on `comm`
    /// (collective): makes a communicator and frees it at once. A split,
    /// not a duplicate, so that the caller's attributes are not copied.
    pub(crate) fn probe_context(comm: MPI_Comm) -> Result<()> {
        let (rank, _) = rank_and_size(comm)?;
        let mut probe = sys::COMM_NULL();
        // SAFETY: `comm` is live for the caller's borrow; `probe` receives a
        // new handle, freed just below.
        check(
            unsafe { ffi::MPI_Comm_split(comm, 0, rank, &mut probe) },
            "MPI_Comm_split",
        )?;
        // SAFETY: `probe` was created above and nothing else refers to it.
        check(unsafe { ffi::MPI_Comm_free(&mut probe) }, "MPI_Comm_free")
    }

    /// For each rank of `from`, its rank in `to`, or `None`.
    pub(crate) fn translate_ranks(from: MPI_Comm, to: MPI_Comm) -> Result<Vec<Option<i32>>> {
        let (_, size) = rank_and_size(from)?;
        let source = group(from)?;
        let target = group(to)?;
        let ranks: Vec<c_int> = (0..size).collect();
        let mut out = vec![0 as c_int; ranks.len()];
        // SAFETY: both groups are live (freed by their guards); `ranks` and
        // `out` hold `size` ints each.
        check(
            unsafe {
                ffi::MPI_Group_translate_ranks(
                    source.0,
                    size,
                    ranks.as_ptr(),
                    target.0,
                    out.as_mut_ptr(),
                )
            },
            "MPI_Group_translate_ranks",
        )?;
        Ok(out
            .into_iter()
            .map(|r| (r != sys::UNDEFINED()).then_some(r))
            .collect())
    }

    /// The group of `comm`, freed when the guard is dropped.
    pub(crate) struct Group(pub(crate) ffi::MPI_Group);

    impl Drop for Group {
        fn drop(&mut self) {
            // SAFETY: a group handle from MPI_Comm_group, freed once.
            unsafe { ffi::MPI_Group_free(&mut self.0) };
        }
    }

    pub(crate) fn group(comm: MPI_Comm) -> Result<Group> {
        // SAFETY: an all-zero handle is a valid placeholder for the output.
        let mut group: ffi::MPI_Group = unsafe { std::mem::zeroed() };
        // SAFETY: `comm` is live; `group` receives a new group handle.
        check(
            unsafe { ffi::MPI_Comm_group(comm, &mut group) },
            "MPI_Comm_group",
        )?;
        Ok(Group(group))
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
