//! The result of a submitted task, to come.

use crate::error::{PoolError, Result};
use crate::scheduler::Scheduler;
use crate::wire;
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;

/// The result of a task given to [`Driver::submit`](crate::Driver::submit),
/// to come (a `concurrent.futures.Future`, as in pympipool).
///
/// The driver hands out work and collects results whenever it calls into
/// the pool, so [`done`](Self::done) itself makes progress: no separate
/// `update()` call is needed. Dropping a future that is not done discards
/// its result when it arrives.
pub struct Future<R> {
    id: u64,
    scheduler: Rc<RefCell<Scheduler>>,
    result: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for Future<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Future").field("id", &self.id).finish()
    }
}

impl<R: DeserializeOwned> Future<R> {
    pub(crate) fn new(id: u64, scheduler: Rc<RefCell<Scheduler>>) -> Self {
        Future {
            id,
            scheduler,
            result: PhantomData,
        }
    }

    /// `true` once the task's outcome (a result or an error) is here; never
    /// waits. Serves the workers' requests that have arrived.
    pub fn done(&self) -> bool {
        self.scheduler.borrow_mut().is_done(self.id)
    }

    /// Waits until the task's outcome is here. An error here is one of the
    /// pool itself (such as a wait past `RMA_WAIT_DEADLINE`); the task's own
    /// failure comes from [`result`](Self::result).
    pub fn wait(&self) -> Result<()> {
        let id = self.id;
        self.scheduler
            .borrow_mut()
            .wait_until(|s| s.has_outcome(id))
    }

    /// Waits for the task and returns its result, or [`PoolError::Task`]
    /// when it panicked or returned an error.
    pub fn result(self) -> Result<R> {
        let bytes = self.scheduler.borrow_mut().take(self.id)?;
        wire::decode(&bytes, "decode a result")
    }
}

impl<R> Drop for Future<R> {
    fn drop(&mut self) {
        // After `result` the task is already forgotten and this does nothing.
        if let Ok(mut scheduler) = self.scheduler.try_borrow_mut() {
            scheduler.abandon(self.id);
        }
    }
}

/// Waits until every one of `futures` is done.
pub fn wait_all<R: DeserializeOwned>(futures: &[Future<R>]) -> Result<()> {
    futures.iter().try_for_each(Future::wait)
}

/// Waits until one of `futures` is done and returns its index (the lowest
/// such one); `None` when `futures` is empty. All must come from one pool.
pub fn wait_any<R: DeserializeOwned>(futures: &[Future<R>]) -> Result<Option<usize>> {
    let Some(first) = futures.first() else {
        return Ok(None);
    };
    let mut found = None;
    first.scheduler.borrow_mut().wait_until(|s| {
        found = futures.iter().position(|f| s.has_outcome(f.id));
        found.is_some()
    })?;
    found.map(Some).ok_or(PoolError::Closed)
}
