//! [`MpiLockGuard`]: proof of holding an [`MpiLock`](crate::MpiLock).

use crate::error::LockError;
use crate::lock::{MpiLock, State};
use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::atomic::Ordering;

/// Proof of holding an [`MpiLock`]; the lock is released when it is dropped
/// (or by [`MpiLockGuard::unlock`], which reports errors).
///
/// The guard borrows the lock, so the lock cannot be closed or dropped while
/// it is held. It is neither `Send` nor `Sync` (as `lock_api` guards): it must
/// be released by the thread that acquired it.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MpiLockGuard<'a> {
    pub(crate) lock: &'a MpiLock,
    pub(crate) state: Option<parking_lot::ReentrantMutexGuard<'a, RefCell<State>>>,
    pub(crate) ticket: u32,
    pub(crate) _not_send: PhantomData<*const ()>,
}

impl std::fmt::Debug for MpiLockGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiLockGuard")
            .field("rank", &self.lock.rank())
            .field("ticket", &self.ticket)
            .finish()
    }
}

impl MpiLockGuard<'_> {
    /// The request sequence number of this acquisition: the position of this
    /// rank's enqueue among all enqueues of the lock (1 for the first). Since
    /// the lock is FIFO, grants happen in ticket order. Tickets live in 32-bit
    /// window words: after `i32::MAX` (about 2.1 billion) grants they wrap
    /// around to 1.
    pub fn ticket(&self) -> u64 {
        u64::from(self.ticket)
    }

    /// Releases the lock, reporting an MPI failure (dropping the guard does
    /// the same but can only print the error).
    pub fn unlock(mut self) -> Result<(), LockError> {
        self.finish()
    }

    fn finish(&mut self) -> Result<(), LockError> {
        let Some(state) = self.state.take() else {
            return Ok(());
        };
        let result = {
            let mut s = state.borrow_mut();
            // A recursive lock is released with its last guard.
            s.depth = s.depth.saturating_sub(1);
            if s.depth > 0 {
                return Ok(());
            }
            self.lock.release(&mut s)
        };
        // Clear the owner before the local mutex is released, so that the
        // next local holder's token is the only one ever seen while it holds.
        self.lock.owner.store(0, Ordering::Release);
        drop(state);
        result
    }
}

impl Drop for MpiLockGuard<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            eprintln!("mpi-lock: error while releasing the lock (use MpiLockGuard::unlock to handle it): {e}");
        }
    }
}
