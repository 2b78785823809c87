//! The collective close of an [`MpiLock`]: `close`, and `drop`, which
//! calls it unless the rank is panicking.

use super::MpiLock;
use crate::error::LockError;

impl MpiLock {
    /// Frees the lock (collective over the lock's communicator).
    ///
    /// Every rank must call it (or drop the lock) at the same point of its
    /// sequence of collective calls. Ranks still waiting for the lock are
    /// served first: `close` returns once every rank has reached it.
    ///
    /// # Errors
    /// [`LockError::HeldAtClose`] on every rank if some rank still held the
    /// lock because its guard was leaked (that rank releases it first, so
    /// nobody is left waiting); [`LockError::Broken`] on every rank (with the
    /// message of the lowest broken rank) if an MPI error broke the protocol
    /// somewhere. The lock's window and communicator are freed in every case.
    pub fn close(mut self) -> Result<(), LockError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), LockError> {
        // `get_mut` works even if a leaked guard left the mutex locked: we
        // own the lock, so no guard can be alive.
        let state = self.local.get_mut();
        let Some(dist) = self.dist.take() else {
            let was_held = std::mem::replace(&mut state.held, false);
            return if was_held {
                Err(LockError::HeldAtClose { rank: 0 })
            } else {
                Ok(())
            };
        };
        let mut local_failure = state.broken.as_ref().map(|e| e.to_string());
        let was_held = state.held;
        if was_held {
            state.held = false;
            if local_failure.is_none() {
                if let Err(e) = dist.release(state.ticket, &self.stats) {
                    local_failure = Some(e.to_string());
                }
            }
        }
        let comm = dist.queue.backing.comm();
        let mut held = [if was_held {
            i64::from(dist.rank())
        } else {
            i64::MAX
        }];
        let reduced = comm.all_reduce_min(&mut held);
        let agreed = comm.agree(local_failure.map_or(Ok(()), Err));
        // Freeing the window is collective; every rank got here.
        drop(dist);
        reduced?;
        if let Err(e) = agreed {
            return Err(match e {
                // The lowest broken rank's error, which every rank got.
                invalid @ shm_core::Error::Invalid { .. } => LockError::Broken(invalid),
                other => other.into(),
            });
        }
        if held[0] != i64::MAX {
            return Err(LockError::HeldAtClose {
                rank: held[0] as i32,
            });
        }
        Ok(())
    }
}

impl Drop for MpiLock {
    fn drop(&mut self) {
        // A panicking rank must not enter collectives the other ranks may
        // never reach; the window and communicator are leaked instead (by
        // `Backing`'s own drop).
        if self.dist.is_none() || std::thread::panicking() {
            return;
        }
        if let Err(e) = self.shutdown() {
            eprintln!(
                "mpi-lock: error while dropping the lock (use MpiLock::close to handle it): {e}"
            );
        }
    }
}
