//! [`MpiMutexGuard`]: the holder's typed access to the data.

use super::{MpiMutex, Storage};
use crate::error::LockError;
use crate::guard::MpiLockGuard;
use shm_core::window::Rma;
use shm_core::{Element, Error};
use std::cell::Cell;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};

/// Proof of holding an [`MpiMutex`], and the way to its data. Dropping it
/// completes this rank's writes at the root and releases the lock
/// ([`unlock`](Self::unlock) reports errors). Neither `Send` nor `Sync`.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MpiMutexGuard<'a, T: Element> {
    pub(super) mutex: &'a MpiMutex<T>,
    pub(super) guard: Option<MpiLockGuard<'a>>,
    /// Puts not yet completed at the root.
    pub(super) dirty: Cell<bool>,
    pub(super) _not_send: PhantomData<*const ()>,
}

impl<T: Element> std::fmt::Debug for MpiMutexGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiMutexGuard")
            .field("mutex", self.mutex)
            .field("dirty", &self.dirty.get())
            .finish()
    }
}

impl<T: Element> MpiMutexGuard<'_, T> {
    /// The number of elements protected.
    pub fn len(&self) -> usize {
        self.mutex.len
    }

    /// `true` when the mutex protects no elements.
    pub fn is_empty(&self) -> bool {
        self.mutex.len == 0
    }

    /// The elements in `range` (`..`, `a..b`, `a..=b`, ...).
    ///
    /// # Errors
    /// [`shm_core::Error::OutOfRange`] when the range is not inside
    /// `0..len`; MPI errors.
    pub fn get(&self, range: impl RangeBounds<usize>) -> Result<Vec<T>, LockError> {
        let (start, end) = self.resolve(range)?;
        let mut out = vec![T::from_i64(0); end - start];
        self.get_into(start, &mut out)?;
        Ok(out)
    }

    /// The element at `index`.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn get_at(&self, index: usize) -> Result<T, LockError> {
        let mut out = [T::from_i64(0)];
        self.get_into(index, &mut out)?;
        Ok(out[0])
    }

    /// Every element.
    ///
    /// # Errors
    /// MPI errors.
    pub fn read_all(&self) -> Result<Vec<T>, LockError> {
        self.get(..)
    }

    /// Reads `out.len()` elements from `offset` into `out`.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn get_into(&self, offset: usize, out: &mut [T]) -> Result<(), LockError> {
        self.check(offset, out.len())?;
        match self.mutex.storage() {
            Storage::Window { win, root } => {
                // MPI does not order our earlier puts before this get.
                self.complete()?;
                win.get(*root, offset, out)?;
            }
            Storage::Local(data) => out.copy_from_slice(&data.borrow()[offset..offset + out.len()]),
        }
        Ok(())
    }

    /// Writes `values` from `offset` on.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn put(&self, offset: usize, values: &[T]) -> Result<(), LockError> {
        self.check(offset, values.len())?;
        match self.mutex.storage() {
            Storage::Window { win, root } => {
                self.dirty.set(true);
                win.put(*root, offset, values)?;
            }
            Storage::Local(data) => {
                data.borrow_mut()[offset..offset + values.len()].copy_from_slice(values)
            }
        }
        Ok(())
    }

    /// Reads every element into a local vector, lets `change` modify it, and
    /// writes it all back; returns what `change` returns.
    ///
    /// # Errors
    /// MPI errors (then the data may be partly written).
    pub fn update<R>(&self, change: impl FnOnce(&mut [T]) -> R) -> Result<R, LockError> {
        let mut data = self.read_all()?;
        let result = change(&mut data);
        self.put(0, &data)?;
        Ok(result)
    }

    /// Completes the writes made through this guard at the root, releases
    /// the lock, and reports an MPI failure of either.
    pub fn unlock(mut self) -> Result<(), LockError> {
        self.finish()
    }

    fn resolve(&self, range: impl RangeBounds<usize>) -> Result<(usize, usize), LockError> {
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => e.saturating_add(1),
            Bound::Excluded(&e) => e,
            Bound::Unbounded => self.mutex.len,
        };
        self.check(start, end.saturating_sub(start))?;
        if end < start {
            return Err(self.out_of_range(start, 0));
        }
        Ok((start, end))
    }

    fn check(&self, offset: usize, count: usize) -> Result<(), LockError> {
        match offset.checked_add(count) {
            Some(end) if end <= self.mutex.len => Ok(()),
            _ => Err(self.out_of_range(offset, count)),
        }
    }

    fn out_of_range(&self, disp: usize, count: usize) -> LockError {
        let target = match self.mutex.storage() {
            Storage::Window { root, .. } => *root,
            Storage::Local(_) => 0,
        };
        LockError::Core(Error::OutOfRange {
            target,
            disp,
            count,
            len: self.mutex.len,
        })
    }

    /// Completes this guard's puts at the root (`MPI_Win_flush`).
    fn complete(&self) -> Result<(), LockError> {
        if let (true, Storage::Window { win, root }) = (self.dirty.get(), self.mutex.storage()) {
            win.flush(*root)?;
            self.dirty.set(false);
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), LockError> {
        let Some(guard) = self.guard.take() else {
            return Ok(());
        };
        // The lock is released even if the flush failed: the other ranks
        // must not wait forever; the flush error is reported first.
        let completed = self.complete();
        let released = guard.unlock();
        completed.and(released)
    }
}

impl<T: Element> Drop for MpiMutexGuard<'_, T> {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            eprintln!("mpi-lock: error while releasing an MpiMutex (use MpiMutexGuard::unlock to handle it): {e}");
        }
    }
}
