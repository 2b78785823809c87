//! The RwLock's guards.

use super::RwLock;
use crate::error::LockError;
use std::marker::PhantomData;

/// Proof that this rank reads an [`RwLock`]; released when dropped (or by
/// [`unlock`](Self::unlock), which reports errors). Neither `Send` nor
/// `Sync`.
#[must_use = "the read lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a> {
    pub(super) lock: &'a RwLock,
    pub(super) done: bool,
    pub(super) _not_send: PhantomData<*const ()>,
}

impl RwLockReadGuard<'_> {
    /// Releases the read lock, reporting an MPI failure.
    pub fn unlock(mut self) -> Result<(), LockError> {
        self.done = true;
        self.lock.release_read()
    }
}

impl std::fmt::Debug for RwLockReadGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RwLockReadGuard")
            .field("rank", &self.lock.rank())
            .finish()
    }
}

impl Drop for RwLockReadGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            if let Err(e) = self.lock.release_read() {
                eprintln!("mpi-lock: error while releasing a read lock (use RwLockReadGuard::unlock to handle it): {e}");
            }
        }
    }
}

/// Proof that this rank writes an [`RwLock`]; released when dropped (or by
/// [`unlock`](Self::unlock), which reports errors). Neither `Send` nor
/// `Sync`.
#[must_use = "the write lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a> {
    pub(super) lock: &'a RwLock,
    pub(super) done: bool,
    pub(super) _not_send: PhantomData<*const ()>,
}

impl RwLockWriteGuard<'_> {
    /// The position of this write among the writes of the lock (1 for the
    /// first; 0 in local mode): writers are served in this order.
    pub fn ticket(&self) -> u64 {
        self.lock.writing.get().map_or(0, u64::from)
    }

    /// Releases the write lock, reporting an MPI failure.
    pub fn unlock(mut self) -> Result<(), LockError> {
        self.done = true;
        self.lock.release_write()
    }
}

impl std::fmt::Debug for RwLockWriteGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RwLockWriteGuard")
            .field("rank", &self.lock.rank())
            .field("ticket", &self.ticket())
            .finish()
    }
}

impl Drop for RwLockWriteGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            if let Err(e) = self.lock.release_write() {
                eprintln!("mpi-lock: error while releasing a write lock (use RwLockWriteGuard::unlock to handle it): {e}");
            }
        }
    }
}
