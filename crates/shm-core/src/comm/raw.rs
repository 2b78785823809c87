//! The checked collectives on raw handles, shared by [`OwnedComm`] and by
//! the window constructors, which run on communicators we do not own.

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
pub(crate) unsafe fn broadcast(comm: MPI_Comm, root: i32, buf: *mut u8, len: usize) -> Result<()> {
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
