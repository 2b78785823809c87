//! [`SharedWindow`]: a window whose segments the processes of a node reach by
//! direct loads and stores, and its [`SharedSegment`]s.

use super::Window;
use crate::element::Element;
use crate::error::{check, Error, Result};
use mpi::ffi::{self, MPI_Aint};
use std::marker::PhantomData;
use std::os::raw::{c_int, c_void};

/// A window created by `MPI_Win_allocate_shared`: every rank's segment can
/// also be reached by direct loads and stores from the other ranks of the
/// node (the communicator must only span processes that can share memory,
/// such as the one from `MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)`).
///
/// It dereferences to [`Window`] for the RMA interface.
pub struct SharedWindow<T: Element> {
    pub(super) win: Window<T>,
}

impl<T: Element> std::fmt::Debug for SharedWindow<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SharedWindow").field(&self.win).finish()
    }
}

impl<T: Element> std::ops::Deref for SharedWindow<T> {
    type Target = Window<T>;
    fn deref(&self) -> &Window<T> {
        &self.win
    }
}

/// A segment of a shared window, reachable by direct loads and stores.
///
/// This is a raw view: it does not prove that nobody writes the memory, so
/// element access is `unsafe` and follows the memory-model rules of the
/// window (`MPI_Win_sync` and a process synchronisation between a store on
/// one rank and a load on another).
///
/// It borrows the window (lifetime `'w`), so it cannot outlive it.
#[derive(Debug, Clone, Copy)]
pub struct SharedSegment<'w, T> {
    ptr: *mut T,
    len: usize,
    _window: PhantomData<&'w ()>,
}

impl<T: Element> SharedSegment<'_, T> {
    /// The first element.
    pub fn as_ptr(&self) -> *mut T {
        self.ptr
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` when the segment has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads element `index` with a volatile load.
    ///
    /// # Safety
    /// `index < len`, and no process may store to this element between the
    /// last synchronisation that ordered its write before this load (for
    /// instance `MPI_Win_sync` + barrier + `MPI_Win_sync`) and the load.
    pub unsafe fn read(&self, index: usize) -> T {
        debug_assert!(index < self.len);
        // SAFETY: in bounds and race-free by the caller's contract; `ptr` is
        // aligned for `T` (checked when the segment was queried).
        unsafe { self.ptr.add(index).read_volatile() }
    }

    /// Writes element `index` with a volatile store.
    ///
    /// # Safety
    /// `index < len`, and no other process may load or store this element
    /// until a synchronisation orders this store before their access.
    pub unsafe fn write(&self, index: usize, value: T) {
        debug_assert!(index < self.len);
        // SAFETY: as in `read`.
        unsafe { self.ptr.add(index).write_volatile(value) }
    }
}

impl<T: Element> SharedWindow<T> {
    /// The segment of `rank` (a rank of this window's group), for direct
    /// loads and stores (`MPI_Win_shared_query`).
    pub fn segment(&self, rank: i32) -> Result<SharedSegment<'_, T>> {
        let Some(len) = self.len_of(rank) else {
            return Err(Error::NoSuchRank {
                rank,
                size: self.size(),
            });
        };
        let mut size: MPI_Aint = 0;
        let mut disp_unit: c_int = 0;
        let mut ptr: *mut T = std::ptr::null_mut();
        // SAFETY: the window is live; the outputs are plain locals.
        check(
            unsafe {
                ffi::MPI_Win_shared_query(
                    self.win.raw,
                    rank,
                    &mut size,
                    &mut disp_unit,
                    &mut ptr as *mut *mut T as *mut c_void,
                )
            },
            "MPI_Win_shared_query",
        )?;
        if ptr.is_null() || (ptr as usize) % std::mem::align_of::<T>() != 0 {
            return Err(Error::Usage(format!(
                "MPI returned a shared segment at {ptr:p}, not aligned for {}",
                T::NAME
            )));
        }
        Ok(SharedSegment {
            ptr,
            len,
            _window: PhantomData,
        })
    }
}
