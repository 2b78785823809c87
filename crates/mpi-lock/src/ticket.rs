//! The FIFO order on one node: a ticket lock in two words of the root's
//! segment, reached with CPU atomics.
//!
//! A lock and unlock cost one locked instruction (the ticket draw) and a
//! plain store (serving the next ticket), against two atomics for the MCS
//! queue (the tail swap and the compare-and-swap that empties it): on one
//! node, where every waiter reads `SERVING` from shared memory at the price
//! of a cache miss, the ticket lock is the cheaper FIFO lock (Mellor-Crummey
//! and Scott, 1991, §2.2). Across nodes every waiter would poll one remote
//! word, which is why the MCS queue serves there.
//!
//! | word (root) | meaning |
//! |------|---------|
//! | `NEXT` | the next ticket to draw |
//! | `SERVING` | the ticket whose turn it is |
//!
//! Tickets are drawn from 0 and wrap around after 2^32; the grant's number
//! ([`MpiLockGuard::ticket`](crate::MpiLockGuard::ticket)) is the ticket
//! plus 1.

use crate::backing::Backing;
use crate::stats::Counters;
use shm_core::sync::AtomicWords;

const NEXT: usize = 0;
const SERVING: usize = 1;

/// Draws a ticket on `root` and waits for its turn; returns the grant's
/// number.
#[inline]
pub(crate) fn acquire(
    backing: &Backing<i32>,
    root: i32,
    stats: &Counters,
) -> shm_core::Result<u32> {
    let words = backing.words();
    let ticket = words.fetch_add(root, NEXT, 1)?;
    Counters::add(&stats.remote_ops, 1);
    if words.load(root, SERVING)? != ticket {
        backing.wait(|| {
            Counters::add(&stats.local_polls, 1);
            Ok::<_, shm_core::Error>((words.load(root, SERVING)? == ticket).then_some(()))
        })?;
    }
    Ok(grant(ticket))
}

/// Draws a ticket only if it is served at once.
#[inline]
pub(crate) fn try_acquire(
    backing: &Backing<i32>,
    root: i32,
    stats: &Counters,
) -> shm_core::Result<Option<u32>> {
    let words = backing.words();
    let serving = words.load(root, SERVING)?;
    let drawn = words.compare_swap(root, NEXT, serving, serving.wrapping_add(1))?;
    Counters::add(&stats.remote_ops, 2);
    Ok((drawn == serving).then(|| grant(serving)))
}

/// Serves the ticket after this grant's.
#[inline]
pub(crate) fn release(
    backing: &Backing<i32>,
    root: i32,
    granted: u32,
    stats: &Counters,
) -> shm_core::Result<()> {
    let words = backing.words();
    let next = granted as i32; // the ticket after ours: grant - 1 + 1
    if words.load(root, NEXT)? != next {
        Counters::add(&stats.handoffs, 1);
    }
    words.release_store(root, SERVING, next)?;
    Counters::add(&stats.remote_ops, 1);
    Ok(())
}

/// `true` while some rank holds the lock or waits for it.
pub(crate) fn is_locked(backing: &Backing<i32>, root: i32) -> shm_core::Result<bool> {
    let words = backing.words();
    Ok(words.load(root, NEXT)? != words.load(root, SERVING)?)
}

fn grant(ticket: i32) -> u32 {
    (ticket as u32).wrapping_add(1)
}
