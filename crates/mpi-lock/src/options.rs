//! [`LockOptions`]: how a new [`MpiLock`](crate::MpiLock) is made.

use crate::error::LockError;
use crate::lock::MpiLock;
use crate::words::Access;
use mpi::topology::Communicator;

/// The options of a new [`MpiLock`], from [`MpiLock::options`]; every rank
/// must pass the same ones (else the same [`shm_core::Error::Invalid`] on
/// every rank).
#[derive(Debug, Clone, Copy, Default)]
#[must_use = "options do nothing until `create` is called"]
pub struct LockOptions {
    root: i32,
    access: Access,
    recursive: bool,
}

impl LockOptions {
    /// The rank holding the tail of the waiting list (default 0).
    pub fn root(mut self, root: i32) -> Self {
        self.root = root;
        self
    }

    /// How the lock's words are reached (default [`Access::Auto`]: CPU
    /// atomics when every rank shares one node).
    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// Recursive mode (default off): the thread holding the lock may lock it
    /// again, getting another guard; the lock is released when the last of
    /// them is dropped. Off, locking again returns
    /// [`LockError::AlreadyHeld`].
    pub fn recursive(mut self, recursive: bool) -> Self {
        self.recursive = recursive;
        self
    }

    /// Creates the lock over `comm` (collective over `comm`).
    pub fn create<C: Communicator + ?Sized>(self, comm: &C) -> Result<MpiLock, LockError> {
        MpiLock::create(comm, self.root, self.access, self.recursive)
    }
}
