//! The node-batched order of [`MpiLock`](crate::MpiLock): a cohort lock.
//!
//! Ranks of a node queue for the lock in a FIFO ticket lock of their own,
//! in node-shared memory reached with CPU atomics; the rank at the head of
//! a node's queue takes part for the whole node in the lock's MCS queue
//! across nodes (MPI atomics), under the node leader's entry. When it
//! releases, the lock stays on the node and goes to the next local waiter,
//! up to `max_batch` acquisitions in a row; then, or when nobody on the node
//! waits, it goes back to the MCS queue and on to the next node.
//!
//! This is lock cohorting (Dice, Marathe and Shavit, "Lock Cohorting: A
//! General Technique for Designing NUMA Locks", PPoPP 2012) with a ticket
//! lock within the node and the MCS queue between nodes, as in the
//! hierarchical MCS locks (HMCS, Chabbi, Fagan and Mellor-Crummey, PPoPP
//! 2015). Both levels must be *thread-oblivious*: any rank of a node may
//! release the node's MCS entry that another rank of the node acquired,
//! since all its state lives in window words.
//!
//! # Node words (on the node leader, the lowest rank of the node)
//!
//! | word | meaning |
//! |------|---------|
//! | `NEXT` | the next local ticket to draw |
//! | `SERVING` | the local ticket whose turn it is |
//! | `NODE_HOLDS` | 1 while the node holds its MCS entry (the lock stays on the node) |
//! | `RUN` | acquisitions in a row on this node since it took its MCS entry |
//! | `GRANTS` | the number of the last grant (the lock's ticket sequence) |
//!
//! Only the local holder writes `NODE_HOLDS`, `RUN` and `GRANTS`, and it
//! writes them before it serves the next ticket, so the next holder reads
//! them after its turn came (sequentially consistent atomics, or MPI
//! atomics when the node's shared window has the separate memory model).
//!
//! # Fairness
//! Within a node, FIFO. Across nodes, FIFO among the nodes: a node that
//! holds the lock keeps it for at most `max_batch` acquisitions in a row,
//! then passes it to the next node in the MCS queue. A request can
//! therefore be overtaken by at most `max_batch - 1` requests of the node
//! holding the lock, per node ahead of it in the queue.

use crate::queue::{next_ticket, Queue};
use crate::stats::Counters;
use crate::words::{Access, Words};
use shm_core::sync::{poll, AtomicWords};
use shm_core::OwnedComm;
use std::sync::atomic::{AtomicI32, Ordering};

const NEXT: usize = 0;
const SERVING: usize = 1;
const NODE_HOLDS: usize = 2;
const RUN: usize = 3;
const GRANTS: usize = 4;
const NODE_WORDS: usize = 5;
/// The node leader is rank 0 of the node communicator.
const LEADER: i32 = 0;

/// This rank's part of the node-batched order.
pub(crate) struct NodeBatch {
    // Declared before `node`: its window is freed first.
    words: Words<i32>,
    node: OwnedComm,
    /// The node leader's rank in the lock's communicator: the node's entry
    /// in the MCS queue.
    entry: i32,
    max_batch: i32,
    /// The local ticket of this rank's current hold.
    turn: AtomicI32,
}

impl NodeBatch {
    /// Sets up the node words over the nodes of `comm`, reached as `access`
    /// says (collective).
    pub(crate) fn new(comm: &OwnedComm, max_batch: u32, access: Access) -> shm_core::Result<Self> {
        let node = comm.split_shared(comm.rank())?;
        let mut lowest = [i64::from(comm.rank())];
        node.all_reduce_min(&mut lowest)?;
        let words = Words::allocate(&node, NODE_WORDS, access)?;
        Ok(NodeBatch {
            words,
            node,
            entry: lowest[0] as i32,
            max_batch: max_batch.min(i32::MAX as u32) as i32,
            turn: AtomicI32::new(0),
        })
    }

    /// `true` when the node words are reached with CPU atomics.
    pub(crate) fn is_node(&self) -> bool {
        self.words.is_node()
    }

    /// The bound on acquisitions in a row on one node.
    pub(crate) fn max_batch(&self) -> u32 {
        self.max_batch as u32
    }

    fn wait_turn(&self, ticket: i32) -> shm_core::Result<()> {
        // Progress even over CPU atomics: see `Backing::wait`.
        poll(Some(&self.node), || {
            Ok((self.words.load(LEADER, SERVING)? == ticket).then_some(()))
        })
    }

    /// Takes the lock: first the node's turn, then, unless the lock is on
    /// the node already, the node's place in the MCS queue. Returns the
    /// grant's ticket.
    pub(crate) fn acquire(&self, queue: &Queue, stats: &Counters) -> shm_core::Result<u32> {
        let turn = self.words.fetch_add(LEADER, NEXT, 1)?;
        self.turn.store(turn, Ordering::Relaxed);
        self.wait_turn(turn)?;
        self.hold(queue, |queue| queue.acquire(self.entry, stats).map(Some))
            .map(|ticket| ticket.expect("a blocking acquire always returns a ticket"))
    }

    /// Takes the lock only if nobody on the node holds or waits for it and
    /// the MCS queue is empty.
    pub(crate) fn try_acquire(
        &self,
        queue: &Queue,
        stats: &Counters,
    ) -> shm_core::Result<Option<u32>> {
        let serving = self.words.load(LEADER, SERVING)?;
        let next = serving.wrapping_add(1);
        if self.words.compare_swap(LEADER, NEXT, serving, next)? != serving {
            return Ok(None);
        }
        self.turn.store(serving, Ordering::Relaxed);
        let ticket = self.hold(queue, |queue| queue.try_acquire(self.entry, stats))?;
        if ticket.is_none() {
            // Another node holds the lock: give the node's turn back.
            self.words.fetch_add(LEADER, SERVING, 1)?;
        }
        Ok(ticket)
    }

    /// With the node's turn: keeps the lock if the node holds it, else
    /// takes the node's MCS entry with `take`.
    fn hold(
        &self,
        queue: &Queue,
        take: impl FnOnce(&Queue) -> shm_core::Result<Option<u32>>,
    ) -> shm_core::Result<Option<u32>> {
        let w = &self.words;
        if w.load(LEADER, NODE_HOLDS)? == 1 {
            let ticket = next_ticket(w.load(LEADER, GRANTS)? as u32);
            w.store(LEADER, GRANTS, ticket as i32)?;
            return Ok(Some(ticket));
        }
        let Some(ticket) = take(queue)? else {
            return Ok(None);
        };
        w.store(LEADER, RUN, 1)?;
        w.store(LEADER, GRANTS, ticket as i32)?;
        w.store(LEADER, NODE_HOLDS, 1)?;
        Ok(Some(ticket))
    }

    /// Releases the lock: to the next rank of the node while the run is
    /// shorter than `max_batch` and somebody on the node waits, else to the
    /// next node (through the MCS queue), then serves the next local ticket.
    pub(crate) fn release(
        &self,
        queue: &Queue,
        ticket: u32,
        stats: &Counters,
    ) -> shm_core::Result<()> {
        let w = &self.words;
        let turn = self.turn.load(Ordering::Relaxed);
        let waiting = w.load(LEADER, NEXT)?.wrapping_sub(turn.wrapping_add(1)) > 0;
        let run = w.load(LEADER, RUN)?;
        if waiting && run < self.max_batch {
            w.store(LEADER, RUN, run + 1)?;
            w.complete(LEADER)?;
            w.fetch_add(LEADER, SERVING, 1)?;
            Counters::add(&stats.local_handoffs, 1);
            return Ok(());
        }
        w.store(LEADER, NODE_HOLDS, 0)?;
        queue.release(self.entry, ticket, stats)?;
        w.fetch_add(LEADER, SERVING, 1)?;
        Ok(())
    }
}
