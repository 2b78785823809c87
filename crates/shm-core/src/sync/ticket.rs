//! [`TicketLock`]: a FIFO lock in two words of a window, taken with
//! fetch-and-add only.

use super::AtomicWords;
use crate::element::Element;
use crate::error::{Error, Result};

/// A ticket of a FIFO lock kept in two words at `target`: `next` (the next
/// ticket to draw) and `serving` (the ticket whose turn it is), both zero at
/// first and only ever touched by atomic fetch-and-add and reads (no
/// compare-and-swap, which Open MPI 4.1 gets wrong on 64-bit words), through
/// MPI or CPU atomics ([`AtomicWords`]).
///
/// A ticket, once drawn, must be served and passed on, or every later ticket
/// waits forever. The guard therefore passes its turn on whichever way its
/// holder leaves: [`release`](Self::release), an error returned while
/// waiting or working under the lock, or a panic (in `Drop`). What it cannot
/// do is pass a turn on when MPI fails on the lock's own two words: a ticket
/// whose draw returned an error may or may not have been drawn, and a turn
/// cannot be skipped without reading `serving`. Then the lock stays taken;
/// the target's window is lost to every rank anyway, as when a rank dies.
#[must_use = "the lock is released (and the turn passed on) when the guard is dropped"]
pub struct TicketLock<'w, T: Element, W: AtomicWords<T> + ?Sized> {
    win: &'w W,
    target: i32,
    next: usize,
    serving: usize,
    ticket: T,
    /// The lock serves this ticket.
    held: bool,
    /// The turn was passed on (or given up on): nothing left to do.
    done: bool,
}

impl<'w, T: Element, W: AtomicWords<T> + ?Sized> TicketLock<'w, T, W> {
    /// Draws a ticket of the lock in words `next` and `serving` of
    /// `target`'s segment, and waits for its turn. `T` is an integer type.
    pub fn acquire(win: &'w W, target: i32, next: usize, serving: usize) -> Result<Self> {
        if !T::INTEGER {
            return Err(Error::Unsupported {
                operation: "a ticket lock",
                element: T::NAME,
            });
        }
        let ticket = win.fetch_add(target, next, one::<T>())?;
        let mut lock = TicketLock {
            win,
            target,
            next,
            serving,
            ticket,
            held: false,
            done: false,
        };
        // On an error the guard is dropped, which waits for its turn once
        // more to pass it on.
        lock.wait_turn()?;
        Ok(lock)
    }

    /// The ticket drawn.
    pub fn ticket(&self) -> T {
        self.ticket
    }

    fn wait_turn(&mut self) -> Result<()> {
        let (win, target, serving, ticket) = (self.win, self.target, self.serving, self.ticket);
        super::poll(None, || {
            let now = win.load(target, serving)?;
            Ok((now == ticket).then_some(()))
        })?;
        self.held = true;
        Ok(())
    }

    /// Completes at the target everything this rank did under the lock,
    /// then serves the next ticket.
    pub fn release(mut self) -> Result<()> {
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
        let completed = self.win.complete(self.target);
        // Once: a failed increment may still have served the next ticket.
        self.done = true;
        self.win.fetch_add(self.target, self.serving, one::<T>())?;
        completed
    }
}

impl<T: Element, W: AtomicWords<T> + ?Sized> Drop for TicketLock<'_, T, W> {
    /// The error and panic paths: pass the turn on. An error here has no one
    /// to go to (the holder is already returning one, or unwinding).
    fn drop(&mut self) {
        let _ = self.pass_turn();
    }
}

impl<T: Element, W: AtomicWords<T> + ?Sized> std::fmt::Debug for TicketLock<'_, T, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketLock")
            .field("target", &self.target)
            .field("next", &self.next)
            .field("serving", &self.serving)
            .field("ticket", &self.ticket)
            .field("held", &self.held)
            .finish()
    }
}

fn one<T: Element>() -> T {
    T::from_i64(1)
}
