//! Collectives that wait without holding a core: started non-blocking and
//! completed by `MPI_Test` in the toolkit's back-off.
//!
//! MPI's blocking collectives busy-poll. When ranks outnumber cores, a rank
//! that polls keeps off the CPU the very rank it waits for, and each
//! collective costs time slices (about 10 ms on MPICH with 4 ranks on 2
//! cores); a waiter that yields lets that rank run. Each `MPI_Test` drives
//! MPI's progress, as the blocking call would. Open MPI's blocking calls
//! yield by themselves when its launcher oversubscribes
//! (`mpi_yield_when_idle`), and cost about 1 µs less than its non-blocking
//! ones (libnbc), so with Open MPI the toolkit's collectives stay blocking
//! ([`collective`]).

use crate::backoff::wait_until;
use crate::comm::OwnedComm;
use crate::error::{check, Result};
use mpi::ffi;
use std::mem::MaybeUninit;
use std::os::raw::c_int;
use std::sync::OnceLock;

/// Whether the MPI's blocking waits give the core away by themselves when
/// ranks outnumber cores (Open MPI's; MPICH's and Intel MPI's poll).
fn blocking_waits_yield() -> bool {
    static YIELDS: OnceLock<bool> = OnceLock::new();
    *YIELDS.get_or_init(|| crate::library::built_against().0 == "Open MPI")
}

/// Runs a collective: `blocking` where the MPI's blocking waits yield, else
/// `start` (its non-blocking form) waited for in the back-off
/// ([`start_and_wait`]). Both closures make the same call.
///
/// # Safety
/// As [`start_and_wait`], for the buffers of either call.
pub(crate) unsafe fn collective(
    blocking: (&'static str, impl FnOnce() -> c_int),
    start: (&'static str, impl FnOnce(*mut ffi::MPI_Request) -> c_int),
) -> Result<()> {
    if blocking_waits_yield() {
        check((blocking.1)(), blocking.0)
    } else {
        // SAFETY: the caller's contract.
        unsafe { start_and_wait(start.0, start.1) }
    }
}

/// Starts a non-blocking operation with `start` (which writes the request
/// handle) and waits for it: spinning, then yielding, then asleep between
/// tests. Not bounded by `RMA_WAIT_DEADLINE`, as MPI's own waits are not.
///
/// # Safety
/// The buffers of the operation `start` starts stay valid and untouched
/// until this returns (it returns once the operation is complete, or on
/// an MPI error, which the toolkit's error handler makes fatal for the
/// operation).
pub(crate) unsafe fn start_and_wait(
    what: &'static str,
    start: impl FnOnce(*mut ffi::MPI_Request) -> c_int,
) -> Result<()> {
    let mut request = MaybeUninit::<ffi::MPI_Request>::uninit();
    check(start(request.as_mut_ptr()), what)?;
    // SAFETY: the start call succeeded, so it wrote the handle.
    let mut request = unsafe { request.assume_init() };
    let mut outcome = Ok(());
    wait_until(|| {
        let mut done = 0;
        // SAFETY: `request` is the active request started above (MPI_Test
        // sets it to MPI_REQUEST_NULL when it completes, and the loop stops
        // then); the status is ignored.
        let code = unsafe { ffi::MPI_Test(&mut request, &mut done, ffi::RSMPI_STATUS_IGNORE) };
        outcome = check(code, "MPI_Test");
        done != 0 || outcome.is_err()
    });
    outcome
}

impl OwnedComm {
    /// `MPI_Barrier` for a rank that may wait long, such as the hosts of a
    /// master-driven program, which wait in the closing barrier for the
    /// whole run: an `MPI_Ibarrier` waited for in the back-off (see the
    /// module), so that the waiting ranks leave the cores to the ranks
    /// still working. It completes within about 20 µs of the last rank's
    /// arrival; like MPI's, the wait is not bounded.
    ///
    /// ```no_run
    /// let universe = mpi::initialize().unwrap();
    /// let comm = shm_core::OwnedComm::duplicate(&universe.world())?;
    /// comm.barrier_idle()?;
    /// # Ok::<(), shm_core::Error>(())
    /// ```
    pub fn barrier_idle(&self) -> Result<()> {
        let comm = self.as_raw();
        // SAFETY: the communicator is live (owned by `self`); a barrier has
        // no buffers.
        unsafe { start_and_wait("MPI_Ibarrier", |req| ffi::MPI_Ibarrier(comm, req)) }
    }
}
