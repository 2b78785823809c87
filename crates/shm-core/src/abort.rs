//! Ending the whole job when one rank panics.

use std::io::Write;

/// The error code a panicking rank passes to `MPI_Abort`; launchers exit
/// with it (Open MPI) or report it (MPICH).
const PANIC_ABORT_CODE: i32 = 1;

/// How long a panicking rank waits between printing and aborting.
const OUTPUT_GRACE: std::time::Duration = std::time::Duration::from_millis(250);

/// Installs a panic hook that prints the panic and then calls
/// `MPI_Abort(MPI_COMM_WORLD, 1)`, so that the job ends instead of the other
/// ranks waiting forever in their next collective call or lock.
///
/// Call it once, after initialising MPI. A panicking rank first writes one
/// line straight to stderr (never captured by a test harness) that names the
/// rank, the location and the message, since the launcher interleaves the
/// output of all ranks; then the previous hook prints the message and
/// backtrace as usual; a quarter of a second later, which lets the launcher
/// forward that output, the rank calls `MPI_Abort`. The hook aborts from
/// whichever thread panicked, before any unwinding, so no destructor of the
/// dying rank runs collective or one-sided operations (a held
/// `mpi_lock::MpiLock` is not handed on to the next rank).
///
/// When MPI is not initialised (or already finalised) the hook only runs the
/// previous hook, and the panic proceeds as usual.
///
/// ```no_run
/// let universe = mpi::initialize().unwrap();
/// shm_core::abort_on_panic();
/// ```
pub fn abort_on_panic() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !mpi_is_live() {
            previous(info);
            return;
        }
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(a panic payload that is not a string)");
        let location = info
            .location()
            .map_or_else(|| "an unknown location".to_string(), |l| l.to_string());
        let (rank, size) = world_rank_and_size();
        // First and in one write call: the launcher interleaves the ranks'
        // output, and drops what it has not forwarded yet when the job is
        // aborted, so the line that matters goes before the backtrace.
        let line = format!(
            "rank {rank} of {size} panicked at {location}: {message}; \
             calling MPI_Abort(MPI_COMM_WORLD, {PANIC_ABORT_CODE}) to end the job\n"
        );
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().write_all(line.as_bytes());
        previous(info);
        let _ = std::io::stdout().flush();
        // MPICH's Hydra kills the job as soon as it hears of the abort and
        // loses the output still in the pipes; give it time to forward.
        std::thread::sleep(OUTPUT_GRACE);
        // SAFETY: MPI is initialised and not finalised; MPI_Abort may be
        // called from any thread in that state.
        unsafe { mpi::ffi::MPI_Abort(mpi::ffi::RSMPI_COMM_WORLD, PANIC_ABORT_CODE) };
        // MPI_Abort does not return; MPICH 5's did once, from a worker
        // thread on a loaded machine, and the panic then reached `join`.
        // Ending the process is the launcher's cue to end the job.
        std::process::abort();
    }));
}

/// `true` between `MPI_Init` and `MPI_Finalize`.
fn mpi_is_live() -> bool {
    let (mut initialized, mut finalized) = (0, 0);
    // SAFETY: MPI_Initialized and MPI_Finalized may be called at any time,
    // even before MPI_Init and after MPI_Finalize, from any thread.
    unsafe {
        mpi::ffi::MPI_Initialized(&mut initialized);
        mpi::ffi::MPI_Finalized(&mut finalized);
    }
    initialized != 0 && finalized == 0
}

/// This process's rank in `MPI_COMM_WORLD` and the world's size (-1 when
/// MPI cannot tell).
fn world_rank_and_size() -> (i32, i32) {
    let (mut rank, mut size) = (-1, -1);
    // SAFETY: only called while MPI is live; both write one int.
    unsafe {
        mpi::ffi::MPI_Comm_rank(mpi::ffi::RSMPI_COMM_WORLD, &mut rank);
        mpi::ffi::MPI_Comm_size(mpi::ffi::RSMPI_COMM_WORLD, &mut size);
    }
    (rank, size)
}
