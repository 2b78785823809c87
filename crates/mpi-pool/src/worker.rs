//! The worker side: the loop a worker rank runs inside
//! [`Pool::run`](crate::Pool::run) until the driver closes the pool.
//!
//! Workers are grouped `cores_per_task` at a time. A group's rank 0, its
//! *leader*, talks to the driver: it asks for work ([`Ready`], carrying the
//! outcomes of its last chunk), waits for an [`Order`], and passes the order
//! on to the rest of its group by a broadcast on the group's communicator.
//! Every rank of the group runs each task with that communicator; the
//! others send their outcomes to the leader, which reports the leader's
//! result, or the failure of the lowest failing rank.

use crate::catch::{run_catching, TaskPanicHook};
use crate::error::{FailureKind, Result};
use crate::registry::Registry;
use crate::scheduler::CHUNKS_PER_LEADER;
use crate::wire::{self, Failure, Job, Order, Outcome, Ready, TAG_ORDER, TAG_OUTCOMES, TAG_READY};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use shm_core::backoff::Backoff;
use shm_core::OwnedComm;
use std::time::Duration;

/// How long a waiter of the pool yields before the back-off's sleeps: the
/// answers it waits for (an order after a request, a chunk's outcomes)
/// usually come within a round trip of a few µs, and a sleep costs at least
/// the kernel's timer slack (about 50 µs); when both sides of the exchange
/// sleep, every task paid it (about 200 µs per task with one worker and
/// chunks of 1). Yielding gives the core away to any process that wants it,
/// so oversubscribed ranks lose little.
const ROUND_TRIP_WINDOW: Duration = Duration::from_micros(100);

/// The back-off of the pool's waits (see [`ROUND_TRIP_WINDOW`]).
pub(crate) fn backoff() -> Backoff {
    Backoff::yielding_for(ROUND_TRIP_WINDOW)
}

/// Waits (through the toolkit's polling loop, so `RMA_WAIT_DEADLINE`
/// applies) for a message with `tag` from `source` and receives it.
pub(crate) fn receive(comm: &OwnedComm, source: i32, tag: i32) -> Result<Vec<u8>> {
    let from = comm.communicator().process_at_rank(source);
    shm_core::sync::poll_with(backoff(), None, || -> Result<_> {
        Ok(from.immediate_probe_with_tag(tag))
    })?;
    Ok(from.receive_vec_with_tag::<u8>(tag).0)
}

/// Broadcasts `bytes` from the group's rank 0 to the rest of the group,
/// whose `bytes` are replaced.
fn broadcast_bytes(group: &SimpleCommunicator, bytes: &mut Vec<u8>) {
    let root = group.process_at_rank(0);
    let mut len = bytes.len() as u64;
    root.broadcast_into(&mut len);
    bytes.resize(len as usize, 0);
    root.broadcast_into(&mut bytes[..]);
}

/// Runs the worker loop of this rank until the driver stops the pool;
/// returns how many tasks this rank ran.
pub(crate) fn serve(
    comm: &OwnedComm,
    group: &OwnedComm,
    driver: i32,
    registry: &Registry,
) -> Result<u64> {
    let _hook = TaskPanicHook::install();
    let leader = group.rank() == 0;
    let mut outcomes = Vec::new();
    let mut tasks = 0;
    if leader {
        // Ask ahead: the loop's first request plus these make
        // `CHUNKS_PER_LEADER`, so that a chunk is queued here while the
        // last one runs.
        for _ in 1..CHUNKS_PER_LEADER {
            send_ready(comm, driver, Vec::new())?;
        }
    }
    loop {
        let mut order_bytes = if leader {
            send_ready(comm, driver, std::mem::take(&mut outcomes))?;
            receive(comm, driver, TAG_ORDER)?
        } else {
            Vec::new()
        };
        if group.size() > 1 {
            broadcast_bytes(group.communicator(), &mut order_bytes);
        }
        let jobs = match wire::decode::<Order>(&order_bytes, "decode an order")? {
            Order::Stop => return Ok(tasks),
            Order::Run(jobs) => jobs,
        };
        tasks += jobs.len() as u64;
        outcomes = run_jobs(jobs, registry, group, comm.rank());
        if !leader {
            let bytes = wire::encode(&outcomes, "encode outcomes")?;
            group
                .communicator()
                .process_at_rank(0)
                .send_with_tag(&bytes[..], TAG_OUTCOMES);
            outcomes.clear();
        } else {
            for member in 1..group.size() {
                let bytes = receive(group, member, TAG_OUTCOMES)?;
                let theirs: Vec<Outcome> = wire::decode(&bytes, "decode outcomes")?;
                for (mine, their) in outcomes.iter_mut().zip(theirs) {
                    if mine.result.is_ok() && their.result.is_err() {
                        mine.result = their.result;
                    }
                }
            }
        }
    }
}

/// Sends the driver a request for a chunk, with the outcomes of the last.
fn send_ready(comm: &OwnedComm, driver: i32, outcomes: Vec<Outcome>) -> Result<()> {
    let ready = wire::encode(&Ready(outcomes), "encode a request")?;
    comm.communicator()
        .process_at_rank(driver)
        .send_with_tag(&ready[..], TAG_READY);
    Ok(())
}

/// Runs `jobs` in order with the group's communicator; `rank` is this
/// rank in the pool's communicator, for the failures.
fn run_jobs(jobs: Vec<Job>, registry: &Registry, group: &OwnedComm, rank: i32) -> Vec<Outcome> {
    jobs.into_iter()
        .map(|job| {
            let fail = |kind, message| Failure {
                kind,
                rank,
                message,
            };
            let result = match registry.get(&job.function) {
                // Registries agree at creation, and the driver checks names.
                None => Err(fail(
                    FailureKind::Returned,
                    format!("no function named {:?} on this worker", job.function),
                )),
                Some(run) => match run_catching(|| run(&job.arg, group.communicator())) {
                    Ok(Ok(bytes)) => Ok(bytes),
                    Ok(Err((kind, message))) => Err(fail(kind, message)),
                    Err(message) => Err(fail(FailureKind::Panicked, message)),
                },
            };
            Outcome { id: job.id, result }
        })
        .collect()
}
