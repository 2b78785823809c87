//! [`MpiMutexOptions`]: how a new [`MpiMutex`] is made, collectively.

use super::{MpiMutex, Storage};
use crate::backing::check_root;
use crate::error::LockError;
use crate::lock::MpiLock;
use crate::words::Access;
use mpi::topology::Communicator;
use shm_core::window::{Rma, Window};
use shm_core::{Element, OwnedComm};
use std::marker::PhantomData;

/// The options of a new [`MpiMutex`], from [`MpiMutex::options`]; every
/// rank must pass the same ones (else the same [`shm_core::Error::Invalid`]
/// on every rank).
#[must_use = "options do nothing until `create` is called"]
pub struct MpiMutexOptions<T: Element> {
    root: i32,
    access: Access,
    _element: PhantomData<fn() -> T>,
}

impl<T: Element> std::fmt::Debug for MpiMutexOptions<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiMutexOptions")
            .field("type", &T::NAME)
            .field("root", &self.root)
            .field("access", &self.access)
            .finish()
    }
}

impl<T: Element> Clone for MpiMutexOptions<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Element> Copy for MpiMutexOptions<T> {}

impl<T: Element> Default for MpiMutexOptions<T> {
    fn default() -> Self {
        MpiMutexOptions {
            root: 0,
            access: Access::default(),
            _element: PhantomData,
        }
    }
}

impl<T: Element> MpiMutexOptions<T> {
    /// The rank keeping the data and the tail of the lock's queue (default
    /// 0).
    pub fn root(mut self, root: i32) -> Self {
        self.root = root;
        self
    }

    /// How the lock's words are reached (default [`Access::Auto`]); the
    /// data is always reached with MPI RMA.
    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// Creates a mutex over `comm` protecting `len` zeros (collective; every
    /// rank passes the same `len`).
    pub fn create<C: Communicator + ?Sized>(
        self,
        comm: &C,
        len: usize,
    ) -> Result<MpiMutex<T>, LockError> {
        self.build(comm, len, None)
    }

    /// Creates a mutex over `comm` protecting a copy of the root's
    /// `initial` (collective; every rank passes the same `len`, and the
    /// root's `initial` has `len` elements; the other ranks' is ignored).
    pub fn create_with<C: Communicator + ?Sized>(
        self,
        comm: &C,
        len: usize,
        initial: &[T],
    ) -> Result<MpiMutex<T>, LockError> {
        self.build(comm, len, Some(initial))
    }

    fn build<C: Communicator + ?Sized>(
        self,
        comm: &C,
        len: usize,
        initial: Option<&[T]>,
    ) -> Result<MpiMutex<T>, LockError> {
        let comm = OwnedComm::duplicate(comm)?;
        let own = &comm;
        // Every rank passed the same options before any of them is used.
        check_root(own, self.root)?;
        own.agree_same(
            "the mutex options (length, element type, access, initial data)",
            &[
                len as i64,
                T::CODE,
                self.access as i64,
                i64::from(initial.is_some()),
            ],
        )?;
        let root = self.root;
        let is_root = own.rank() == root;
        let verdict = match initial {
            Some(values) if is_root && values.len() != len => Err(format!(
                "the initial data on the root has {} elements, not {len}",
                values.len()
            )),
            _ => Ok(()),
        };
        own.agree(verdict)?;
        let lock = MpiLock::options()
            .root(root)
            .access(self.access)
            .create(own.communicator())?;
        let mine = if is_root { len } else { 0 };
        // Nobody ever takes an exclusive MPI_Win_lock on this private window.
        let win = Window::<T>::allocate(own.communicator(), mine)?.into_locked(true)?;
        if let Some(values) = initial {
            let put = if is_root {
                win.put_flush(root, 0, values).map_err(|e| e.to_string())
            } else {
                Ok(())
            };
            own.agree(put)?;
        }
        // Nobody reads before the root's initial data is in place.
        own.barrier()?;
        Ok(MpiMutex {
            data: Some(Storage::Window { win, root }),
            lock: Some(lock),
            comm: Some(comm),
            len,
            _not_send: PhantomData,
        })
    }
}
