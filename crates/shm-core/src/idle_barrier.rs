//! [`OwnedComm::barrier_idle`]: a barrier that waits without holding a core.

use crate::backoff::wait_until;
use crate::comm::OwnedComm;
use crate::error::{check, Result};
use mpi::ffi;
use std::mem::MaybeUninit;

impl OwnedComm {
    /// `MPI_Barrier` for a rank that may wait long: an `MPI_Ibarrier`
    /// completed by `MPI_Test` in the toolkit's back-off, which sleeps after
    /// a short spin.
    ///
    /// MPI's own barrier busy-polls (Open MPI yields between polls when
    /// oversubscribed, MPICH does not), so ranks that wait in it take cores
    /// from the ranks still working: the hosts of a master-driven program,
    /// which wait in the closing barrier for the whole run, slow the master
    /// down whenever ranks outnumber cores. Each `MPI_Test` drives MPI's
    /// progress, as the blocking barrier would. The barrier completes within
    /// about 20 µs of the last rank's arrival; like MPI's, the wait is not
    /// bounded (not by `RMA_WAIT_DEADLINE` either: a host waits as long as
    /// its master works).
    ///
    /// ```no_run
    /// let universe = mpi::initialize().unwrap();
    /// let comm = shm_core::OwnedComm::duplicate(&universe.world())?;
    /// comm.barrier_idle()?;
    /// # Ok::<(), shm_core::Error>(())
    /// ```
    pub fn barrier_idle(&self) -> Result<()> {
        let mut request = MaybeUninit::<ffi::MPI_Request>::uninit();
        // SAFETY: the communicator is live (owned by `self`); MPI writes the
        // request handle.
        check(
            unsafe { ffi::MPI_Ibarrier(self.as_raw(), request.as_mut_ptr()) },
            "MPI_Ibarrier",
        )?;
        // SAFETY: MPI_Ibarrier succeeded, so it wrote the handle.
        let mut request = unsafe { request.assume_init() };
        let mut outcome = Ok(());
        wait_until(|| {
            let mut done = 0;
            // SAFETY: `request` is the active request started above (MPI_Test
            // sets it to MPI_REQUEST_NULL when it completes, and the loop
            // stops then); the status is ignored.
            let code = unsafe { ffi::MPI_Test(&mut request, &mut done, ffi::RSMPI_STATUS_IGNORE) };
            outcome = check(code, "MPI_Test");
            done != 0 || outcome.is_err()
        });
        outcome
    }
}
