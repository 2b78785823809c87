//! [`MpiLockGuard`]: proof of holding an [`MpiLock`](crate::MpiLock).

use crate::error::LockError;
use crate::lock::MpiLock;
use std::marker::PhantomData;

/// Proof of holding an [`MpiLock`]; the lock is released when it is dropped
/// (or by [`MpiLockGuard::unlock`], which reports errors). In recursive mode
/// each re-entry has a guard of its own, and the lock is released with the
/// last of them.
///
/// The guard borrows the lock, so the lock cannot be closed or dropped while
/// it is held. It is neither `Send` nor `Sync` (as `lock_api` guards): it must
/// be released by the thread that acquired it.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MpiLockGuard<'a> {
    // One word, so that a `Result` of a guard stays small on the hot path.
    pub(crate) lock: &'a MpiLock,
    _not_send: PhantomData<*const ()>,
}

impl std::fmt::Debug for MpiLockGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiLockGuard")
            .field("rank", &self.lock.rank())
            .field("ticket", &self.ticket())
            .finish()
    }
}

impl<'a> MpiLockGuard<'a> {
    /// A guard of `lock`, held by the calling thread (which holds the
    /// lock's local turn).
    #[inline]
    pub(crate) fn new(lock: &'a MpiLock) -> Self {
        MpiLockGuard {
            lock,
            _not_send: PhantomData,
        }
    }

    /// The request sequence number of this acquisition: the position of this
    /// rank's enqueue among all enqueues of the lock (1 for the first). Since
    /// the lock is FIFO, grants happen in ticket order (in the node-batched
    /// order, tickets still number the grants one after the other). Tickets
    /// live in 32-bit window words: after about 2.1 billion grants (at least
    /// `i32::MAX`) they wrap around.
    pub fn ticket(&self) -> u64 {
        // SAFETY: a guard exists only on the thread holding the lock's local
        // turn (guards are neither Send nor Sync, and the turn is given back
        // only by the last guard's release), and the reference ends here.
        u64::from(unsafe { self.lock.local.state_mut() }.ticket)
    }

    /// How many guards of the lock the holding thread has (more than 1 only
    /// in recursive mode).
    pub(crate) fn depth(&self) -> u32 {
        // SAFETY: as in `ticket`: only the thread holding the local turn has
        // a guard, and the reference ends here.
        unsafe { self.lock.local.state_mut() }.depth
    }

    /// Releases the lock, reporting an MPI failure (dropping the guard does
    /// the same but can only print the error).
    #[inline]
    pub fn unlock(self) -> Result<(), LockError> {
        let this = std::mem::ManuallyDrop::new(self);
        this.finish()
    }

    /// Releases this guard's hold (called once: by `unlock`, which skips
    /// the drop, or by the drop).
    #[inline]
    fn finish(&self) -> Result<(), LockError> {
        let result = {
            // Guards are neither Send nor Sync; the turn is given back only
            // below, by the last guard.
            // SAFETY: this thread holds the local turn; no other reference to the state is alive.
            let state = unsafe { self.lock.local.state_mut() };
            // A recursive lock is released with its last guard.
            state.depth = state.depth.saturating_sub(1);
            if state.depth > 0 {
                return Ok(());
            }
            self.lock.release(state)
        };
        // The state is not touched after this: the next holder's turn.
        self.lock.local.exit();
        result
    }
}

impl Drop for MpiLockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            eprintln!("mpi-lock: error while releasing the lock (use MpiLockGuard::unlock to handle it): {e}");
        }
    }
}
