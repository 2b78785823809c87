//! How the ranks of a distributed [`MpiLock`](crate::MpiLock) take turns:
//! the protocol chosen at creation, and the dispatch to it.

use crate::batch::NodeBatch;
use crate::queue::{Queue, TAIL};
use crate::stats::Counters;
use crate::ticket;
use shm_core::sync::AtomicWords;

/// How the ranks take turns.
pub(crate) enum Protocol {
    /// FIFO over MPI atomics: the MCS queue.
    Queue,
    /// FIFO over CPU atomics, every rank on one node: a ticket lock.
    Ticket,
    /// The node-batched order.
    Batched(NodeBatch),
}

/// The distributed part of the lock.
pub(crate) struct Distributed {
    pub(crate) protocol: Protocol,
    /// The lock's words (and the MCS queue's protocol over them).
    pub(crate) queue: Queue,
    /// `thread_token()` of the creating thread.
    pub(crate) creator: u64,
    /// `None` when MPI provides `MPI_THREAD_MULTIPLE`, else the level's name.
    pub(crate) single_threaded: Option<&'static str>,
}

impl Distributed {
    pub(super) fn rank(&self) -> i32 {
        self.queue.backing.rank()
    }

    #[inline]
    pub(super) fn acquire(&self, stats: &Counters) -> shm_core::Result<u32> {
        let q = &self.queue;
        match &self.protocol {
            Protocol::Queue => q.acquire(self.rank(), stats),
            Protocol::Ticket => ticket::acquire(&q.backing, q.root, stats),
            Protocol::Batched(batch) => batch.acquire(q, stats),
        }
    }

    #[inline]
    pub(super) fn try_acquire(&self, stats: &Counters) -> shm_core::Result<Option<u32>> {
        let q = &self.queue;
        let got = match &self.protocol {
            Protocol::Queue => return q.try_acquire(self.rank(), stats),
            Protocol::Ticket => ticket::try_acquire(&q.backing, q.root, stats),
            Protocol::Batched(batch) => batch.try_acquire(q, stats),
        };
        if matches!(got, Ok(None)) {
            q.backing.refused();
        }
        got
    }

    #[inline]
    pub(super) fn release(&self, granted: u32, stats: &Counters) -> shm_core::Result<()> {
        let q = &self.queue;
        match &self.protocol {
            Protocol::Queue => q.release(self.rank(), granted, stats).map(drop),
            Protocol::Ticket => ticket::release(&q.backing, q.root, granted, stats),
            Protocol::Batched(batch) => batch.release(q, granted, stats),
        }
    }

    pub(super) fn is_locked(&self) -> shm_core::Result<bool> {
        let q = &self.queue;
        match &self.protocol {
            Protocol::Ticket => ticket::is_locked(&q.backing, q.root),
            Protocol::Queue | Protocol::Batched(_) => Ok(q.backing.words().load(q.root, TAIL)? > 0),
        }
    }
}
