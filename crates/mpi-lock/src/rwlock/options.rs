//! [`RwLockOptions`]: how a new [`RwLock`] is made, collectively.

use super::protocol::{WORDS, WRITER};
use super::RwLock;
use crate::backing::Backing;
use crate::error::LockError;
use crate::queue::Queue;
use crate::words::Access;
use mpi::topology::Communicator;

/// The options of a new [`RwLock`], from [`RwLock::options`]; every rank
/// must pass the same ones (else the same [`shm_core::Error::Invalid`] on
/// every rank).
#[derive(Debug, Clone, Copy, Default)]
#[must_use = "options do nothing until `create` is called"]
pub struct RwLockOptions {
    root: i32,
    access: Access,
}

impl RwLockOptions {
    /// The rank holding the tail of the writers' queue (default 0).
    pub fn root(mut self, root: i32) -> Self {
        self.root = root;
        self
    }

    /// How the lock's words are reached (default [`Access::Auto`]).
    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// Creates the lock over `comm` (collective over `comm`).
    ///
    /// # Errors
    /// The same [`shm_core::Error::Invalid`] on every rank for a bad or
    /// differing root or access, or a communicator of more than 524,286
    /// ranks (the counters' writer bits would overflow); the MPI errors of
    /// the allocation.
    pub fn create<C: Communicator + ?Sized>(self, comm: &C) -> Result<RwLock, LockError> {
        // Every rank has the same size: the same answer everywhere, before
        // any collective.
        if comm.size() >= i32::MAX / WRITER {
            return Err(LockError::Core(shm_core::Error::Invalid {
                rank: None,
                message: format!(
                    "an RwLock supports at most {} ranks, not {}",
                    i32::MAX / WRITER - 1,
                    comm.size()
                ),
            }));
        }
        let backing = Backing::create(
            comm,
            WORDS,
            self.access,
            self.root,
            "the rwlock options",
            &[],
        )?;
        Ok(RwLock::with_queue(Some(Queue {
            backing,
            root: self.root,
        })))
    }
}
