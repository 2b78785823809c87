//! [`Completions`]: how many completion calls a window made, per target.
//!
//! On one node a put lands in the target's memory at once, so a test cannot
//! tell a remote completion (`MPI_Win_flush`) from a local one
//! (`MPI_Win_flush_local`) by the data: it can by these counts, which is how
//! the tests prove that every `*_flush` operation completes remotely.

use std::cell::Cell;

/// Counts of the completion calls of one window made by this process.
/// Cheap: one increment per call.
#[derive(Debug)]
pub struct Completions {
    /// `MPI_Win_flush(target)` calls, by target.
    flushes: Box<[Cell<u64>]>,
    /// `MPI_Win_flush_local(target)` calls, by target.
    local_flushes: Box<[Cell<u64>]>,
    /// Calls that complete everything remotely: `MPI_Win_flush_all` and the
    /// ends of epochs (unlock, unlock_all, fence).
    everything: Cell<u64>,
}

impl Completions {
    pub(super) fn new(size: usize) -> Self {
        Completions {
            flushes: (0..size).map(|_| Cell::new(0)).collect(),
            local_flushes: (0..size).map(|_| Cell::new(0)).collect(),
            everything: Cell::new(0),
        }
    }

    pub(super) fn flushed(&self, target: i32) {
        bump(&self.flushes, target);
    }

    pub(super) fn flushed_locally(&self, target: i32) {
        bump(&self.local_flushes, target);
    }

    pub(super) fn flushed_all(&self) {
        self.everything.set(self.everything.get() + 1);
    }

    pub(super) fn epoch_closed(&self) {
        self.flushed_all();
    }

    /// Calls that completed this process's operations to `target`
    /// remotely: `MPI_Win_flush(target)`, `MPI_Win_flush_all`, and the ends
    /// of epochs.
    pub fn remote(&self, target: i32) -> u64 {
        count(&self.flushes, target) + self.everything.get()
    }

    /// `MPI_Win_flush_local(target)` calls: operations to `target` completed
    /// at the origin only.
    pub fn local(&self, target: i32) -> u64 {
        count(&self.local_flushes, target)
    }
}

fn bump(counts: &[Cell<u64>], target: i32) {
    if let Some(c) = usize::try_from(target).ok().and_then(|t| counts.get(t)) {
        c.set(c.get() + 1);
    }
}

fn count(counts: &[Cell<u64>], target: i32) -> u64 {
    usize::try_from(target)
        .ok()
        .and_then(|t| counts.get(t))
        .map_or(0, Cell::get)
}
