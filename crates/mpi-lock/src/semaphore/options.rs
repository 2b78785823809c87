//! [`SemaphoreOptions`]: how a new [`Semaphore`] is made, collectively.

use super::Semaphore;
use crate::backing::Backing;
use crate::error::LockError;
use crate::queue::{Queue, WORDS};
use crate::words::Access;
use mpi::topology::Communicator;

/// The options of a new [`Semaphore`], from [`Semaphore::options`]; every
/// rank must pass the same ones.
#[derive(Debug, Clone, Copy)]
#[must_use = "options do nothing until `create` is called"]
pub struct SemaphoreOptions {
    pub(super) count: u32,
    pub(super) bounded: bool,
    pub(super) root: i32,
    pub(super) access: Access,
}

impl SemaphoreOptions {
    /// Refuse releases beyond the initial count (default `true`, as
    /// mpi4py's `bounded=True` and `threading.BoundedSemaphore`); `false`
    /// lets each release add a permit (`threading.Semaphore`).
    pub fn bounded(mut self, bounded: bool) -> Self {
        self.bounded = bounded;
        self
    }

    /// The rank holding the permit word and the queue's tail (default 0).
    pub fn root(mut self, root: i32) -> Self {
        self.root = root;
        self
    }

    /// How the words are reached (default [`Access::Auto`]).
    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// Creates the semaphore over `comm` (collective over `comm`).
    ///
    /// # Errors
    /// As [`Semaphore::new`], and a root that is not a rank of `comm`.
    pub fn create<C: Communicator + ?Sized>(self, comm: &C) -> Result<Semaphore, LockError> {
        // 32-bit words: the take and give-back are compare-and-swaps, which
        // Open MPI 4.1 gets wrong on 64-bit words (see the crate docs).
        let backing = Backing::<i32>::create(
            comm,
            WORDS + 1,
            self.access,
            self.root,
            "the semaphore options",
            &[i64::from(self.count), i64::from(self.bounded)],
        )?;
        // The same options everywhere now, so the same verdict; on an error
        // every rank frees the words.
        backing.comm().agree(check_count(self.count))?;
        Ok(Semaphore::with_parts(
            Some(Queue {
                backing,
                root: self.root,
            }),
            self.count,
            self.bounded,
        ))
    }

    /// A semaphore of this process alone, without MPI: [`Semaphore::local`]
    /// with these options (the root and access do not matter).
    ///
    /// # Errors
    /// [`shm_core::Error::Invalid`] when the count exceeds `i32::MAX`.
    pub fn local(self) -> Result<Semaphore, LockError> {
        check_count(self.count).map_err(|message| {
            LockError::Core(shm_core::Error::Invalid {
                rank: Some(0),
                message,
            })
        })?;
        Ok(Semaphore::with_parts(None, self.count, self.bounded))
    }
}

fn check_count(count: u32) -> Result<(), String> {
    if i32::try_from(count).is_err() {
        Err(format!(
            "a semaphore's count of {count} permits exceeds i32::MAX"
        ))
    } else {
        Ok(())
    }
}
