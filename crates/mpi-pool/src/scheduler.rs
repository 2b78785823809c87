//! The driver's bookkeeping: tasks waiting for a worker, which leaders are
//! idle, the outcomes that arrived. Work is handed out when a leader asks
//! for it, a chunk at a time, so a slow task holds back only its own
//! leader; the driver serves requests whenever it calls into the pool
//! (submit, done, wait, map, close).

use crate::error::{PoolError, Result};
use crate::wire::{self, Failure, Job, Order, Ready, TAG_ORDER, TAG_READY};
use mpi::point_to_point::MatchedReceiveVec;
use mpi::traits::*;
use shm_core::OwnedComm;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// How many chunks a leader may hold at once: the one it runs and one
/// queued behind it, so that it starts the next as soon as it has reported
/// the last, without waiting for the driver's answer (the round trip is
/// hidden behind the running chunk). Each leader starts by asking this many
/// times.
pub(crate) const CHUNKS_PER_LEADER: usize = 2;

/// What the driver knows about a task until its outcome is taken.
struct Label {
    /// The index (map) or submission number (submit) errors name.
    task: u64,
    function: String,
}

/// The driver's state, shared by the [`Driver`](crate::Driver) and its
/// [`Future`](crate::Future)s.
pub(crate) struct Scheduler {
    pub(crate) comm: OwnedComm,
    /// Every group's leader, by rank in `comm`.
    leaders: Vec<i32>,
    chunk_size: usize,
    pending: VecDeque<Job>,
    /// One entry per request that found no pending work: a leader that
    /// may be sent a chunk (it appears once per chunk it may take, up to
    /// [`CHUNKS_PER_LEADER`] times).
    idle: Vec<i32>,
    labels: HashMap<u64, Label>,
    outcomes: HashMap<u64, std::result::Result<Vec<u8>, Failure>>,
    /// Futures dropped before their outcome arrived.
    abandoned: HashSet<u64>,
    tasks_run: BTreeMap<i32, u64>,
    next_id: u64,
    closed: bool,
    /// The first error of the machinery itself; every later call returns it.
    broken: Option<PoolError>,
}

impl Scheduler {
    pub(crate) fn new(comm: OwnedComm, leaders: Vec<i32>, chunk_size: usize) -> Self {
        Scheduler {
            tasks_run: leaders.iter().map(|&l| (l, 0)).collect(),
            comm,
            leaders,
            chunk_size,
            pending: VecDeque::new(),
            idle: Vec::new(),
            labels: HashMap::new(),
            outcomes: HashMap::new(),
            abandoned: HashSet::new(),
            next_id: 0,
            closed: false,
            broken: None,
        }
    }

    fn usable(&self) -> Result<()> {
        if let Some(e) = &self.broken {
            return Err(e.clone());
        }
        if self.closed {
            return Err(PoolError::Closed);
        }
        Ok(())
    }

    /// Queues a task; `task` is the number its errors name (its id when
    /// `None`). Returns its id.
    pub(crate) fn submit(
        &mut self,
        function: &str,
        arg: Vec<u8>,
        task: Option<u64>,
    ) -> Result<u64> {
        self.usable()?;
        let id = self.next_id;
        self.next_id += 1;
        let label = Label {
            task: task.unwrap_or(id),
            function: function.to_string(),
        };
        self.labels.insert(id, label);
        self.pending.push_back(Job {
            id,
            function: function.to_string(),
            arg,
        });
        self.hand_out_to_idle()?;
        self.serve_arrived()?;
        Ok(id)
    }

    /// `true` once the outcome of task `id` is here (or will never come).
    pub(crate) fn is_done(&mut self, id: u64) -> bool {
        // An error here breaks the pool (recorded), which makes every
        // future "done": its `result` returns the error.
        let _ = self.serve_arrived();
        self.has_outcome(id)
    }

    /// Serves requests until `done` holds (through the toolkit's polling
    /// loop: back-off, and `RMA_WAIT_DEADLINE`).
    pub(crate) fn wait_until(&mut self, mut done: impl FnMut(&Self) -> bool) -> Result<()> {
        shm_core::sync::poll_with(crate::worker::backoff(), None, || -> Result<_> {
            self.serve_arrived()?;
            Ok(done(self).then_some(()))
        })
        .inspect_err(|e| self.break_with(e))
    }

    /// `true` when the outcome of `id` is here, or cannot come.
    pub(crate) fn has_outcome(&self, id: u64) -> bool {
        self.outcomes.contains_key(&id) || !self.labels.contains_key(&id) || self.broken.is_some()
    }

    /// Waits for task `id` and takes its outcome.
    pub(crate) fn take(&mut self, id: u64) -> Result<Vec<u8>> {
        if !self.labels.contains_key(&id) {
            return Err(PoolError::Closed);
        }
        self.wait_until(|s| s.has_outcome(id))?;
        if let Some(e) = &self.broken {
            return Err(e.clone());
        }
        let label = self
            .labels
            .remove(&id)
            .expect("a task waited for has a label");
        match self.outcomes.remove(&id).expect("waited for until present") {
            Ok(bytes) => Ok(bytes),
            Err(failure) => Err(PoolError::Task {
                task: label.task,
                function: label.function,
                kind: failure.kind,
                rank: failure.rank,
                message: failure.message,
            }),
        }
    }

    /// Forgets task `id`: its outcome is dropped now or when it arrives.
    pub(crate) fn abandon(&mut self, id: u64) {
        if self.labels.remove(&id).is_some() && self.outcomes.remove(&id).is_none() {
            self.abandoned.insert(id);
        }
    }

    /// How many tasks each group's leader has run (reported so far).
    pub(crate) fn tasks_per_worker(&self) -> Vec<(i32, u64)> {
        self.tasks_run.iter().map(|(&r, &n)| (r, n)).collect()
    }

    /// Waits until every queued task has run and every leader has asked for
    /// more as often as it may (so none holds a chunk), then stops them
    /// all. Idempotent.
    pub(crate) fn close(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        // A broken pool fails the wait at once, and still stops the workers.
        let requests = self.leaders.len() * CHUNKS_PER_LEADER;
        let drained = self.wait_until(|s| s.pending.is_empty() && s.idle.len() == requests);
        self.closed = true;
        // After a failed wait, stop every leader anyway: a busy one reads
        // the stop after reporting its chunk (a small, eager send), so no
        // worker is left waiting for an order.
        let stop = wire::encode(&Order::Stop, "encode a stop")?;
        for &leader in &self.leaders {
            self.comm
                .communicator()
                .process_at_rank(leader)
                .send_with_tag(&stop[..], TAG_ORDER);
        }
        self.idle.clear();
        drained
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    fn break_with(&mut self, e: &PoolError) {
        self.broken.get_or_insert_with(|| e.clone());
    }

    /// Receives every request that has arrived, storing outcomes and
    /// answering each with the next chunk (or parking the leader as idle).
    fn serve_arrived(&mut self) -> Result<()> {
        if let Some(e) = &self.broken {
            return Err(e.clone());
        }
        self.serve_arrived_unchecked()
            .inspect_err(|e| self.break_with(e))
    }

    fn serve_arrived_unchecked(&mut self) -> Result<()> {
        while let Some((leader, bytes)) = self.receive_request() {
            let Ready(outcomes) = wire::decode(&bytes, "decode a request")?;
            *self.tasks_run.entry(leader).or_default() += outcomes.len() as u64;
            for outcome in outcomes {
                if !self.abandoned.remove(&outcome.id) {
                    self.outcomes.insert(outcome.id, outcome.result);
                }
            }
            self.idle.push(leader);
            self.hand_out_to_idle()?;
        }
        Ok(())
    }

    /// A request that has arrived, if any: its sender and bytes.
    fn receive_request(&self) -> Option<(i32, Vec<u8>)> {
        let comm = self.comm.communicator();
        let probed = comm
            .any_process()
            .immediate_matched_probe_with_tag(TAG_READY)?;
        let (bytes, status) = probed.matched_receive_vec::<u8>();
        Some((status.source_rank(), bytes))
    }

    /// Sends a chunk of pending tasks for each idle entry while both last
    /// (the entries are popped last first, so the leader that asked last
    /// is served first; every leader is served in turn when work is
    /// plenty).
    fn hand_out_to_idle(&mut self) -> Result<()> {
        while !self.pending.is_empty() {
            let Some(leader) = self.idle.pop() else { break };
            let take = self.chunk_size.min(self.pending.len());
            let chunk: Vec<Job> = self.pending.drain(..take).collect();
            let bytes = wire::encode(&Order::Run(chunk), "encode an order")?;
            self.comm
                .communicator()
                .process_at_rank(leader)
                .send_with_tag(&bytes[..], TAG_ORDER);
        }
        Ok(())
    }
}
