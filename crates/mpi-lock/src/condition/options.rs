//! [`ConditionOptions`]: how a new [`Condition`] is made, collectively.

use super::{Condition, LockRef, WORDS};
use crate::backing::Backing;
use crate::error::LockError;
use crate::lock::MpiLock;
use crate::words::Access;
use mpi::topology::Communicator;
use std::cell::RefCell;

/// The options of a new [`Condition`], from [`Condition::options`]; every
/// rank must pass the same ones (else the same [`shm_core::Error::Invalid`]
/// on every rank).
#[derive(Debug, Clone, Copy, Default)]
#[must_use = "options do nothing until `create` or `with_lock` is called"]
pub struct ConditionOptions {
    root: i32,
    access: Access,
}

impl ConditionOptions {
    /// The rank holding the head and tail of the FIFO of waiters (and, with
    /// [`create`](Self::create), the tail of the lock's queue); default 0.
    pub fn root(mut self, root: i32) -> Self {
        self.root = root;
        self
    }

    /// How the condition's words (and, with [`create`](Self::create), its
    /// lock's) are reached; default [`Access::Auto`].
    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// Creates a condition with a lock of its own over `comm` (collective).
    pub fn create<C: Communicator + ?Sized>(
        self,
        comm: &C,
    ) -> Result<Condition<'static>, LockError> {
        // The words first: their creation checks that every rank passed the
        // same root and access before the lock is made with them.
        let mut condition = self.build(comm, LockRef::Closed)?;
        condition.lock = LockRef::Owned(Box::new(
            MpiLock::options()
                .root(self.root)
                .access(self.access)
                .create(comm)?,
        ));
        Ok(condition)
    }

    /// Creates a condition over `lock`, on the lock's communicator
    /// (collective over it). `lock` must not be [local](MpiLock::local).
    pub fn with_lock(self, lock: &MpiLock) -> Result<Condition<'_>, LockError> {
        let Some(dist) = &lock.dist else {
            return Err(LockError::Core(shm_core::Error::Usage(
                "a condition needs a lock over MPI: a wait on MpiLock::local() could never be notified"
                    .into(),
            )));
        };
        let comm = dist.queue.backing.comm().communicator();
        self.build(comm, LockRef::Borrowed(lock))
    }

    fn build<'l, C: Communicator + ?Sized>(
        self,
        comm: &C,
        lock: LockRef<'l>,
    ) -> Result<Condition<'l>, LockError> {
        let backing = Backing::create(
            comm,
            WORDS,
            self.access,
            self.root,
            "the condition options",
            &[],
        )?;
        Ok(Condition {
            backing: Some(backing),
            lock,
            root: self.root,
            broken: RefCell::new(None),
        })
    }
}
