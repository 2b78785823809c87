//! The RwLock's protocol on the words: readers counting themselves in on
//! their own rank, writers announcing themselves everywhere, queueing and
//! waiting for the readers to drain.

use crate::queue::{Queue, WORDS as QUEUE_WORDS};
use crate::stats::Counters;
use shm_core::sync::AtomicWords;

/// The counter word of each rank, after the queue's words.
pub(super) const COUNT: usize = QUEUE_WORDS;
/// Words per rank: the writers' MCS queue, then the counter.
pub(super) const WORDS: usize = QUEUE_WORDS + 1;
/// One announced writer in a counter; the readers count below it.
pub(super) const WRITER: i32 = 1 << 12;
/// The readers' part of a counter.
pub(super) const READER_BITS: i32 = WRITER - 1;

/// Counts this rank in as a reader once no writer is announced (or, with
/// `block` false, returns `false` at once if one is).
pub(super) fn enter_read(q: &Queue, block: bool) -> shm_core::Result<bool> {
    let words = q.backing.words();
    let me = q.backing.rank();
    loop {
        if words.fetch_add(me, COUNT, 1)? < WRITER {
            return Ok(true);
        }
        // A writer waits or writes: take the increment back, so that it sees
        // the readers drain.
        words.fetch_add(me, COUNT, -1)?;
        if !block {
            return Ok(false);
        }
        q.backing.wait_for(me, COUNT, |count| count < WRITER)?;
    }
}

/// Announces this rank as a writer on every counter, takes the writers'
/// queue and waits for the readers to drain; returns the queue ticket, or
/// `None` (with `block` false) when that would wait.
pub(super) fn enter_write(
    q: &Queue,
    block: bool,
    stats: &Counters,
) -> shm_core::Result<Option<u32>> {
    let words = q.backing.words();
    let (me, size) = (q.backing.rank(), q.backing.size());
    announce(q, WRITER)?;
    let ticket = if block {
        q.acquire(me, stats)?
    } else {
        match q.try_acquire(me, stats)? {
            Some(ticket) => ticket,
            None => {
                announce(q, -WRITER)?;
                return Ok(None);
            }
        }
    };
    for rank in 0..size {
        if block {
            q.backing
                .wait_for(rank, COUNT, |count| count & READER_BITS == 0)?;
        } else if words.load(rank, COUNT)? & READER_BITS != 0 {
            leave_write(q, ticket, stats)?;
            return Ok(None);
        }
    }
    Ok(Some(ticket))
}

/// Passes the writers' queue on, then withdraws this rank's announcement.
pub(super) fn leave_write(q: &Queue, ticket: u32, stats: &Counters) -> shm_core::Result<()> {
    q.release(q.backing.rank(), ticket, stats)?;
    announce(q, -WRITER)
}

/// Adds `delta` to every rank's counter.
pub(super) fn announce(q: &Queue, delta: i32) -> shm_core::Result<()> {
    let words = q.backing.words();
    for rank in 0..q.backing.size() {
        words.fetch_add(rank, COUNT, delta)?;
    }
    Ok(())
}
