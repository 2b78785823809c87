//! The MCS queue protocol over one window: the words of each rank's
//! segment, enqueueing, hand-off, and the polls that wait for the token.

use crate::stats::Counters;
use shm_core::backoff::Backoff;
use shm_core::window::{LockedWindow, Op, Rma};
use shm_core::OwnedComm;

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

/// The lock's MCS queue, spread over the ranks: its communicator and the
/// window of queue words.
pub(crate) struct Queue {
    // Declared before `comm` so that the window is freed first.
    pub(crate) win: LockedWindow<i32>,
    pub(crate) comm: OwnedComm,
    pub(crate) rank: i32,
    pub(crate) root: i32,
    /// `thread_token()` of the creating thread.
    pub(crate) creator: u64,
    /// `None` when MPI provides `MPI_THREAD_MULTIPLE`, else the level's name.
    pub(crate) single_threaded: Option<&'static str>,
}

impl Queue {
    /// This rank's entry in the queue words (0 means "nobody").
    pub(crate) fn entry(&self) -> i32 {
        self.rank + 1
    }

    /// Joins the waiting list and waits for the token; returns the ticket.
    pub(crate) fn acquire(&self, stats: &Counters) -> shm_core::Result<u32> {
        let me = self.entry();
        // Enqueue: swap ourselves in as the tail.
        let prev = self.win.fetch_and_op(self.root, TAIL, me, Op::Replace)?;
        Counters::add(&stats.remote_ops, 1);
        if prev <= 0 {
            // The list was empty: the lock is ours, `-prev` was the last ticket.
            return Ok(next_ticket(prev.unsigned_abs()));
        }
        // Link behind the predecessor and wait for it to hand us the token.
        let pred = prev - 1;
        self.win.accumulate_flush(pred, NEXT, &[me], Op::Replace)?;
        Counters::add(&stats.remote_ops, 1);
        Counters::add(&stats.remote_flushes, 1);
        let ticket = self.wait_own(FLAG, stats)?;
        Ok(ticket.unsigned_abs())
    }

    /// Takes the lock only if the waiting list is empty.
    pub(crate) fn try_acquire(&self, stats: &Counters) -> shm_core::Result<Option<u32>> {
        let me = self.entry();
        let mut seen = self.win.fetch_and_op(self.root, TAIL, 0, Op::NoOp)?;
        Counters::add(&stats.remote_ops, 1);
        loop {
            if seen > 0 {
                return Ok(None);
            }
            let old = self.win.compare_and_swap(self.root, TAIL, seen, me)?;
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
    /// remembering our ticket), or hand the token to our successor.
    pub(crate) fn release(&self, ticket: u32, stats: &Counters) -> shm_core::Result<()> {
        let me = self.entry();
        let empty = -(ticket as i32);
        let old = self.win.compare_and_swap(self.root, TAIL, me, empty)?;
        Counters::add(&stats.remote_ops, 1);
        if old == me {
            return Ok(());
        }
        // Somebody swapped itself in behind us; wait for its link.
        let next = self.wait_own(NEXT, stats)?;
        let succ = next - 1;
        self.win
            .accumulate_flush(succ, FLAG, &[next_ticket(ticket) as i32], Op::Replace)?;
        Counters::add(&stats.remote_ops, 1);
        Counters::add(&stats.remote_flushes, 1);
        Ok(())
    }

    /// Polls one of our own words until it is non-zero, resetting it to zero
    /// in the same atomic swap (so `NEXT` and `FLAG` are zero whenever this
    /// rank is not in the list). Each poll is an MPI call on the window, which
    /// drives MPI progress; once the backoff gets patient, an `MPI_Iprobe` on
    /// the lock's private communicator drives it further.
    pub(crate) fn wait_own(&self, word: usize, stats: &Counters) -> shm_core::Result<i32> {
        let mut backoff = Backoff::new();
        loop {
            let value = self.win.fetch_and_op(self.rank, word, 0, Op::Replace)?;
            Counters::add(&stats.local_polls, 1);
            if value != 0 {
                return Ok(value);
            }
            if backoff.patient() {
                self.probe();
            }
            backoff.snooze();
        }
    }

    /// `MPI_Iprobe` on the lock's communicator, where nothing is ever sent:
    /// its only effect is to run the progress engine.
    pub(crate) fn probe(&self) {
        let mut flag = 0;
        // SAFETY: the communicator is live (owned by `self`); `flag` is a
        // local int and the status is ignored (MPI_STATUS_IGNORE). The return
        // code is irrelevant: this call is only made for progress.
        unsafe {
            mpi::ffi::MPI_Iprobe(
                mpi::ffi::RSMPI_ANY_SOURCE,
                mpi::ffi::RSMPI_ANY_TAG,
                self.comm.as_raw(),
                &mut flag,
                mpi::ffi::RSMPI_STATUS_IGNORE,
            );
        }
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
