//! Ending the whole job when one rank panics.

use std::io::Write;

/// Installs a panic hook that, after the usual panic message, calls
/// `MPI_Abort(MPI_COMM_WORLD, 1)` so that the job ends instead of the other
/// ranks waiting forever in their next collective call.
///
/// Call it once, after initialising MPI. The previous hook still runs first,
/// so the message and backtrace are printed as usual. When MPI is not
/// initialised (or already finalised) the hook only prints.
///
/// ```no_run
/// let universe = mpi::initialize().unwrap();
/// shm_core::abort_on_panic();
/// ```
pub fn abort_on_panic() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        let _ = std::io::stderr().flush();
        let (mut initialized, mut finalized) = (0, 0);
        // SAFETY: MPI_Initialized and MPI_Finalized may be called at any
        // time, even before MPI_Init and after MPI_Finalize.
        unsafe {
            mpi::ffi::MPI_Initialized(&mut initialized);
            mpi::ffi::MPI_Finalized(&mut finalized);
        }
        if initialized != 0 && finalized == 0 {
            // SAFETY: MPI is initialised and not finalised; MPI_Abort may be
            // called from any thread in that state.
            unsafe { mpi::ffi::MPI_Abort(mpi::ffi::RSMPI_COMM_WORLD, 1) };
        }
    }));
}
