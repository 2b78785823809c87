//! The driver's side of a pool: what the code given to
//! [`Pool::run`](crate::Pool::run) calls.

use crate::error::{PoolError, Result};
use crate::future::Future;
use crate::registry::{Registry, Task};
use crate::scheduler::Scheduler;
use crate::wire;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::cell::RefCell;
use std::rc::Rc;

/// The driver rank's handle on a pool: maps and submits tasks to the
/// workers. Only the driver rank has one, inside [`Pool::run`](crate::Pool::run).
pub struct Driver {
    scheduler: Rc<RefCell<Scheduler>>,
    registry: Rc<Registry>,
    groups: usize,
    progress: bool,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("groups", &self.groups)
            .finish()
    }
}

impl Driver {
    pub(crate) fn new(
        scheduler: Scheduler,
        registry: Registry,
        groups: usize,
        progress: bool,
    ) -> Self {
        Driver {
            scheduler: Rc::new(RefCell::new(scheduler)),
            registry: Rc::new(registry),
            groups,
            progress,
        }
    }

    /// Encodes `arg` for `task`, checking that the pool knows the function.
    fn encode_arg<A: Serialize, R>(&self, task: &Task<A, R>, arg: &A) -> Result<Vec<u8>> {
        if !self.registry.contains(task.name()) {
            return Err(PoolError::UnknownFunction(task.name().to_string()));
        }
        wire::encode(arg, "encode an argument")
    }

    fn submit_labelled<A: Serialize, R: DeserializeOwned>(
        &self,
        task: &Task<A, R>,
        arg: &A,
        label: Option<u64>,
    ) -> Result<Future<R>> {
        let bytes = self.encode_arg(task, arg)?;
        let id = self
            .scheduler
            .borrow_mut()
            .submit(task.name(), bytes, label)?;
        Ok(Future::new(id, Rc::clone(&self.scheduler)))
    }

    /// Runs `task` on every item and returns the results in the items'
    /// order; the first failed task (lowest index) is the error,
    /// [`PoolError::Task`] naming the item's index and the worker.
    ///
    /// On a terminal, a progress bar shows on stderr while it runs
    /// ([`PoolOptions::progress`](crate::PoolOptions::progress)).
    ///
    /// Workers take the items a chunk at a time
    /// ([`PoolOptions::chunk_size`](crate::PoolOptions::chunk_size)), each
    /// when it has finished its last, so fast workers take more.
    pub fn map<A, R>(&self, task: &Task<A, R>, items: impl IntoIterator<Item = A>) -> Result<Vec<R>>
    where
        A: Serialize,
        R: DeserializeOwned,
    {
        self.map_each(task, items)?.into_iter().collect()
    }

    /// [`map`](Self::map), with each task's own outcome: a failed task is
    /// an `Err` at its index, and the others' results are all there. The
    /// outer error is the pool's own (such as [`PoolError::Closed`]).
    pub fn map_each<A, R>(
        &self,
        task: &Task<A, R>,
        items: impl IntoIterator<Item = A>,
    ) -> Result<Vec<Result<R>>>
    where
        A: Serialize,
        R: DeserializeOwned,
    {
        let futures = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| self.submit_labelled(task, &item, Some(i as u64)))
            .collect::<Result<Vec<_>>>()?;
        // In input order: the bar may lag behind tasks done out of order.
        let bar = crate::progress::bar(futures.len(), self.progress);
        for future in &futures {
            future.wait()?;
            bar.inc(1);
        }
        bar.finish_and_clear();
        Ok(futures.into_iter().map(Future::result).collect())
    }

    /// Queues `task` on `arg` and returns at once with its [`Future`];
    /// errors of the task come from [`Future::result`] and name its
    /// submission number (0, 1, ... over all tasks of this pool).
    pub fn submit<A, R>(&self, task: &Task<A, R>, arg: A) -> Result<Future<R>>
    where
        A: Serialize,
        R: DeserializeOwned,
    {
        self.submit_labelled(task, &arg, None)
    }

    /// Waits for every queued task, then ends the workers' loops. After
    /// it, [`map`](Self::map) and [`submit`](Self::submit) return
    /// [`PoolError::Closed`]. [`Pool::run`](crate::Pool::run) closes the
    /// pool when the driver's code returns, and so does dropping the
    /// driver; closing twice does nothing.
    pub fn close(&self) -> Result<()> {
        self.scheduler.borrow_mut().close()
    }

    /// `true` after [`close`](Self::close).
    pub fn is_closed(&self) -> bool {
        self.scheduler.borrow().is_closed()
    }

    /// How many groups of workers run tasks (the worker ranks divided by
    /// `cores_per_task`).
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// How many tasks each group ran so far, as (rank of the group's first
    /// rank in the pool's communicator, tasks), by rank.
    pub fn tasks_per_worker(&self) -> Vec<(i32, u64)> {
        self.scheduler.borrow().tasks_per_worker()
    }

    /// The ranks agree on how the run went (see [`Pool::run`](crate::Pool::run)).
    pub(crate) fn agree(&self, local: std::result::Result<(), String>) -> Result<()> {
        Ok(self.scheduler.borrow().comm.agree(local)?)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The workers wait for a stop; without it they would wait forever.
        if let Ok(mut scheduler) = self.scheduler.try_borrow_mut() {
            let _ = scheduler.close();
        }
    }
}
