//! The MCS queue protocol over the words of each rank: enqueueing,
//! hand-off, and the polls that wait for the token.

use crate::backing::Backing;
use crate::stats::Counters;
use shm_core::sync::AtomicWords;

/// Word of the root's segment holding the tail of the waiting list.
///
/// `rank + 1` (> 0) while the list is non-empty: the last rank that enqueued.
/// `-t` (<= 0) while it is empty: `t` is the ticket of the last grant, so the
/// zero-initialised window means "empty, no grant yet".
pub(crate) const TAIL: usize = 0;
/// Word of every rank's segment where its successor links itself in
/// (`successor + 1`; 0 = no successor yet).
pub(crate) const NEXT: usize = 1;
/// Word of every rank's segment where its predecessor hands over the token
/// (the ticket granted; 0 = not granted).
pub(crate) const FLAG: usize = 2;
/// Words per segment (every rank has the same layout; `TAIL` is only used on
/// the root). `shm_core` rounds every segment up to 64 bytes, which gives each
/// rank's words a cache line of their own and avoids MPICH 4.0's misdirected
/// RMA on segments that are not a multiple of 16 bytes.
pub(crate) const WORDS: usize = 3;

/// The lock's MCS queue, spread over the ranks: the queue words and the
/// rank of the tail.
///
/// Each member of the queue is named by the rank whose `NEXT` and `FLAG`
/// words it uses (its *entry*): its own rank for [`MpiLock`](crate::MpiLock)'s
/// FIFO order, its node leader's for the node-batched order, where whichever
/// rank of the node holds the node's turn acts for the node.
pub(crate) struct Queue {
    pub(crate) backing: Backing<i32>,
    pub(crate) root: i32,
}

impl Queue {
    /// Joins the waiting list as `entry` and waits for the token; returns
    /// the ticket.
    pub(crate) fn acquire(&self, entry: i32, stats: &Counters) -> shm_core::Result<u32> {
        let me = entry + 1;
        let words = self.backing.words();
        // Enqueue: swap ourselves in as the tail.
        let prev = words.swap(self.root, TAIL, me)?;
        Counters::add(&stats.remote_ops, 1);
        if prev <= 0 {
            // The list was empty: the lock is ours, `-prev` was the last ticket.
            return Ok(next_ticket(prev.unsigned_abs()));
        }
        // Link behind the predecessor and wait for it to hand us the token.
        let pred = prev - 1;
        words.store(pred, NEXT, me)?;
        self.count_handoff(stats);
        let ticket = self.wait_own(entry, FLAG, stats)?;
        Ok(ticket.unsigned_abs())
    }

    /// Takes the lock as `entry` only if the waiting list is empty.
    pub(crate) fn try_acquire(
        &self,
        entry: i32,
        stats: &Counters,
    ) -> shm_core::Result<Option<u32>> {
        let me = entry + 1;
        let words = self.backing.words();
        let mut seen = words.load(self.root, TAIL)?;
        Counters::add(&stats.remote_ops, 1);
        loop {
            if seen > 0 {
                return Ok(None);
            }
            let old = words.compare_swap(self.root, TAIL, seen, me)?;
            Counters::add(&stats.remote_ops, 1);
            if old == seen {
                return Ok(Some(next_ticket(seen.unsigned_abs())));
            }
            // Either somebody enqueued (old > 0: we fail) or a holder released
            // between our read and our swap (old is the new empty value).
            seen = old;
        }
    }

    /// Leaves the lock: either the list had only us (reset the tail to empty,
    /// remembering our ticket), or hand the token to our successor: `true`
    /// in the second case.
    pub(crate) fn release(
        &self,
        entry: i32,
        ticket: u32,
        stats: &Counters,
    ) -> shm_core::Result<bool> {
        let me = entry + 1;
        let words = self.backing.words();
        let empty = -(ticket as i32);
        let old = words.compare_swap(self.root, TAIL, me, empty)?;
        Counters::add(&stats.remote_ops, 1);
        if old == me {
            return Ok(false);
        }
        // Somebody swapped itself in behind us; wait for its link.
        let next = self.wait_own(entry, NEXT, stats)?;
        let succ = next - 1;
        words.store(succ, FLAG, next_ticket(ticket) as i32)?;
        self.count_handoff(stats);
        Counters::add(&stats.handoffs, 1);
        Ok(true)
    }

    /// Counts a write to another member's words (a link or a hand-off),
    /// which is flushed when the words are MPI's.
    fn count_handoff(&self, stats: &Counters) {
        Counters::add(&stats.remote_ops, 1);
        if !self.backing.is_node() {
            Counters::add(&stats.remote_flushes, 1);
        }
    }

    /// Polls one of `entry`'s words until it is non-zero, resetting it to
    /// zero in the same atomic swap (so `NEXT` and `FLAG` are zero whenever
    /// `entry` is not in the list). With MPI words each poll is an MPI call
    /// on the window, which drives MPI progress; once the wait gets long, an
    /// `MPI_Iprobe` on the lock's private communicator drives it further.
    pub(crate) fn wait_own(
        &self,
        entry: i32,
        word: usize,
        stats: &Counters,
    ) -> shm_core::Result<i32> {
        let words = self.backing.words();
        self.backing.wait(|| {
            let value = words.swap(entry, word, 0)?;
            Counters::add(&stats.local_polls, 1);
            Ok((value != 0).then_some(value))
        })
    }
}

/// The ticket after `ticket`, in `1..=i32::MAX` (tickets are stored negated in
/// 32-bit words; 0 means "no grant yet").
pub(crate) fn next_ticket(ticket: u32) -> u32 {
    if ticket >= i32::MAX as u32 {
        1
    } else {
        ticket + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(crate) fn tickets_wrap_to_one() {
        assert_eq!(next_ticket(0), 1);
        assert_eq!(next_ticket(41), 42);
        assert_eq!(next_ticket(i32::MAX as u32), 1);
    }
}
