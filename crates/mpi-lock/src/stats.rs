//! [`LockStats`]: what one lock has cost this rank.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of the work done by one [`MpiLock`](crate::MpiLock) on this rank, for checking
/// that the cost of an acquisition does not grow with the number of ranks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockStats {
    /// Successful acquisitions (`lock` and successful `try_lock`).
    pub acquisitions: u64,
    /// Failed `try_lock` calls.
    pub failed_tries: u64,
    /// Atomic operations on the lock's shared words other than this rank's
    /// own. MCS queue: tail swap, tail compare-and-swap, tail read of
    /// `try_lock`, writing the predecessor's `next` link, handing the token
    /// to the successor; at most 2 per `lock` and 2 per unlock, whatever the
    /// number of ranks. Ticket lock (one node, CPU atomics): drawing a
    /// ticket and serving the next (1 each), a `try_lock`'s read and
    /// compare-and-swap (2).
    pub remote_ops: u64,
    /// `MPI_Win_flush` calls (after the link write and the token hand-off
    /// of the MCS queue; none over CPU atomics).
    pub remote_flushes: u64,
    /// Polls while waiting: of this rank's own `next`/`flag` words in the
    /// MCS queue (local fetch-and-op operations that also drive MPI
    /// progress), of the serving word in the ticket lock.
    pub local_polls: u64,
    /// Releases that handed the lock to a waiter through the waiting list
    /// (in the node-batched order, each one goes to another node).
    pub handoffs: u64,
    /// Node-batched order only: releases that passed the lock to a waiter
    /// of the same node, without the waiting list.
    pub local_handoffs: u64,
}

impl LockStats {
    /// Remote operations per acquisition (lock plus unlock), or 0 before the
    /// first acquisition.
    pub fn remote_ops_per_acquisition(&self) -> f64 {
        if self.acquisitions == 0 {
            0.0
        } else {
            self.remote_ops as f64 / self.acquisitions as f64
        }
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) acquisitions: AtomicU64,
    pub(crate) failed_tries: AtomicU64,
    pub(crate) remote_ops: AtomicU64,
    pub(crate) remote_flushes: AtomicU64,
    pub(crate) local_polls: AtomicU64,
    pub(crate) handoffs: AtomicU64,
    pub(crate) local_handoffs: AtomicU64,
}

impl Counters {
    /// Adds `n` to a counter that only the thread holding the lock's local
    /// turn changes: a plain load and store, no locked instruction (the
    /// turn orders the holders' updates).
    #[inline]
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.store(counter.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }

    /// Adds `n` to a counter that threads may change concurrently.
    pub(crate) fn add_shared(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> LockStats {
        LockStats {
            acquisitions: self.acquisitions.load(Ordering::Relaxed),
            failed_tries: self.failed_tries.load(Ordering::Relaxed),
            remote_ops: self.remote_ops.load(Ordering::Relaxed),
            remote_flushes: self.remote_flushes.load(Ordering::Relaxed),
            local_polls: self.local_polls.load(Ordering::Relaxed),
            handoffs: self.handoffs.load(Ordering::Relaxed),
            local_handoffs: self.local_handoffs.load(Ordering::Relaxed),
        }
    }
}
