//! How many MPI objects this library holds, so that an error about an MPI
//! limit can say how many objects are alive.

use std::sync::atomic::{AtomicUsize, Ordering};

static COMMUNICATORS: AtomicUsize = AtomicUsize::new(0);
static WINDOWS: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn communicator_created() {
    COMMUNICATORS.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn communicator_freed() {
    COMMUNICATORS.fetch_sub(1, Ordering::Relaxed);
}

pub(crate) fn window_created() {
    WINDOWS.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn window_freed() {
    WINDOWS.fetch_sub(1, Ordering::Relaxed);
}

/// The communicators and windows of this library alive in this process.
pub fn alive() -> (usize, usize) {
    (
        COMMUNICATORS.load(Ordering::Relaxed),
        WINDOWS.load(Ordering::Relaxed),
    )
}

/// A sentence on the objects alive, for error messages.
pub(crate) fn describe() -> String {
    let (comms, windows) = alive();
    format!(
        "this process holds {comms} communicators and {windows} windows of the toolkit; \
         MPI libraries limit the communicators and windows alive at once (MPICH to about \
         2,000), and other code of the program may hold some too"
    )
}
