//! The allocation lock of a host: a FIFO ticket lock in words
//! [`LOCK_NEXT`] and [`LOCK_SERVING`] of its window, taken with
//! `MPI_Fetch_and_op` only (no compare-and-swap, see the layout).
//!
//! A ticket, once drawn, must be served and passed on, or every later
//! ticket waits forever. [`HostLock`] therefore passes its turn on whichever
//! way its holder leaves: [`release`](HostLock::release), an error returned
//! while waiting or working under the lock, or a panic (in `Drop`).
//!
//! What it cannot do is pass a turn on when MPI itself fails on the lock's
//! own words: a ticket whose draw returned an error may or may not have been
//! drawn, and a turn cannot be skipped without reading `LOCK_SERVING`. If the
//! library cannot reach the host's window for those two words, the lock
//! stays taken; that host is then lost to every rank anyway, as when a rank
//! dies (which ends the job).

use crate::error::Result;
use crate::layout::{LOCK_NEXT, LOCK_SERVING};
use shm_core::backoff::Backoff;
use shm_core::window::{LockedWindow, Op, Rma};

/// A ticket of `host`'s allocation lock, held or waited for.
pub(crate) struct HostLock<'w> {
    win: &'w LockedWindow<i64>,
    host: i32,
    ticket: i64,
    /// The lock serves this ticket.
    held: bool,
    /// The turn was passed on (or given up on): nothing left to do.
    done: bool,
}

impl<'w> HostLock<'w> {
    /// Draws a ticket and waits for its turn.
    pub(crate) fn acquire(win: &'w LockedWindow<i64>, host: i32) -> Result<HostLock<'w>> {
        let ticket = win.fetch_and_op(host, LOCK_NEXT, 1, Op::Sum)?;
        let mut lock = HostLock {
            win,
            host,
            ticket,
            held: false,
            done: false,
        };
        // On an error the ticket is dropped, which waits for its turn once
        // more to pass it on.
        lock.wait_turn()?;
        Ok(lock)
    }

    fn wait_turn(&mut self) -> Result<()> {
        let mut backoff = Backoff::new();
        while self
            .win
            .fetch_and_op(self.host, LOCK_SERVING, 0, Op::NoOp)?
            != self.ticket
        {
            backoff.snooze();
        }
        self.held = true;
        Ok(())
    }

    /// Completes at the host everything this rank did under the lock, then
    /// serves the next ticket.
    pub(crate) fn release(mut self) -> Result<()> {
        self.pass_turn()
    }

    fn pass_turn(&mut self) -> Result<()> {
        if self.done {
            return Ok(());
        }
        if !self.held {
            if let Err(e) = self.wait_turn() {
                self.done = true;
                return Err(e);
            }
        }
        // Everything done under the lock completes before the release.
        let flushed = self.win.flush(self.host);
        // Once: a failed accumulate may still have served the next ticket.
        self.done = true;
        self.win
            .accumulate_flush(self.host, LOCK_SERVING, &[1], Op::Sum)?;
        Ok(flushed?)
    }
}

impl Drop for HostLock<'_> {
    /// The error and panic paths: pass the turn on. An error here has no one
    /// to go to (the holder is already returning one, or unwinding).
    fn drop(&mut self) {
        let _ = self.pass_turn();
    }
}
