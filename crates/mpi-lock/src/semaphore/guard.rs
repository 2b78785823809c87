//! [`SemaphoreGuard`]: a permit of a [`Semaphore`] held by this rank.

use super::Semaphore;
use crate::error::LockError;

/// A permit of a [`Semaphore`], given back when the guard is dropped (or by
/// [`release`](SemaphoreGuard::release), which reports errors). To keep the
/// permit taken past the guard (and give it back later, maybe on another
/// rank, with [`Semaphore::release_permit`]), `std::mem::forget` the guard.
#[must_use = "the permit is given back as soon as the guard is dropped"]
pub struct SemaphoreGuard<'a> {
    pub(super) sem: Option<&'a Semaphore>,
}

impl std::fmt::Debug for SemaphoreGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SemaphoreGuard")
            .field("rank", &self.sem.map(Semaphore::rank))
            .finish()
    }
}

impl SemaphoreGuard<'_> {
    /// Gives the permit back, reporting a failure (dropping the guard does
    /// the same but can only print it). On a bounded semaphore that
    /// somebody over-released with [`Semaphore::release_permit`], this is
    /// [`LockError::NotHeld`].
    pub fn release(mut self) -> Result<(), LockError> {
        match self.sem.take() {
            Some(sem) => sem.release_permit(),
            None => Ok(()),
        }
    }
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        if let Some(sem) = self.sem.take() {
            if let Err(e) = sem.release_permit() {
                eprintln!("mpi-lock: error while giving a semaphore permit back (use SemaphoreGuard::release to handle it): {e}");
            }
        }
    }
}
