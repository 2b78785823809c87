//! [`poll`]: the one loop that waits for a condition another process sets
//! in a window.

use crate::backoff::Backoff;
use crate::comm::OwnedComm;
use crate::error::Error;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Calls `attempt` until it returns `Some`, backing off between calls, and
/// returns that value. An error from `attempt` (of any error type) ends the
/// wait.
///
/// Each attempt is typically an RMA operation (an atomic read or swap of a
/// word), which drives MPI's progress for this window. Some implementations
/// progress other traffic (a passive target's, with Open MPI's `osc/pt2pt`)
/// only inside other MPI calls: once the back-off stops spinning, each round
/// also calls [`OwnedComm::progress`] on `progress`, when given.
///
/// When the environment variable `RMA_WAIT_DEADLINE` holds a number of
/// seconds, a wait that lasts longer returns [`Error::Deadline`] (the test
/// suites set it, so that a protocol bug fails a test instead of hanging
/// it). Without it, waits are unbounded, as MPI's own are.
///
/// ```
/// use std::cell::Cell;
/// let tries = Cell::new(0);
/// let value = shm_core::sync::poll(None, || -> shm_core::Result<_> {
///     tries.set(tries.get() + 1);
///     Ok((tries.get() == 3).then_some(42))
/// })?;
/// assert_eq!((value, tries.get()), (42, 3));
/// # Ok::<(), shm_core::Error>(())
/// ```
#[inline]
pub fn poll<R, E>(
    progress: Option<&OwnedComm>,
    mut attempt: impl FnMut() -> Result<Option<R>, E>,
) -> Result<R, E>
where
    E: From<Error>,
{
    // Most waits are over at the first attempt (a pin on a variable nobody
    // holds, a free lock): that one is made here, inlined into the caller,
    // and the loop with its back-off only set up when it fails (a fifth of
    // dsm-kv's `modify` on a direct memory was the call into the loop).
    if let Some(value) = attempt()? {
        return Ok(value);
    }
    // The loop's first round, as it would have run it: a first back-off
    // step (a spin, never patient yet), then its own attempts.
    let mut backoff = Backoff::new();
    backoff.snooze();
    poll_with(backoff, progress, attempt)
}

/// [`poll`], waiting between attempts with `backoff` (such as
/// [`Backoff::yielding_for`], for an answer expected within a round trip).
pub fn poll_with<R, E>(
    mut backoff: Backoff,
    progress: Option<&OwnedComm>,
    mut attempt: impl FnMut() -> Result<Option<R>, E>,
) -> Result<R, E>
where
    E: From<Error>,
{
    let mut started = None;
    loop {
        if let Some(value) = attempt()? {
            return Ok(value);
        }
        if backoff.patient() {
            if let Some(comm) = progress {
                comm.progress();
            }
            if let Some(deadline) = wait_deadline() {
                let started = *started.get_or_insert_with(Instant::now);
                if started.elapsed() > deadline {
                    return Err(Error::Deadline {
                        millis: deadline.as_millis() as u64,
                    }
                    .into());
                }
            }
        }
        backoff.snooze();
    }
}

/// `RMA_WAIT_DEADLINE`, read once.
fn wait_deadline() -> Option<Duration> {
    static DEADLINE: OnceLock<Option<Duration>> = OnceLock::new();
    *DEADLINE.get_or_init(|| {
        let text = std::env::var("RMA_WAIT_DEADLINE").ok()?;
        let seconds: f64 = text.trim().parse().ok()?;
        (seconds > 0.0).then(|| Duration::from_secs_f64(seconds))
    })
}
