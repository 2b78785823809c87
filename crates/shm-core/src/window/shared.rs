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
        self.win.query_segment(rank)?.ok_or_else(|| {
            Error::Usage(format!(
                "MPI_Win_shared_query gave no address for rank {rank} of a shared window"
            ))
        })
    }
}

impl<T: Element> Window<T> {
    /// The segment of `rank` when this process can reach it by loads and
    /// stores, whatever call created the window: MPI-4.0 lets
    /// `MPI_Win_shared_query` answer for any window, with the address of a
    /// segment that shares memory with this process, and with none for the
    /// others. MPICH 5 maps the segments of the ranks on this node for
    /// windows from `MPI_Win_allocate`; Open MPI (4.1, 5.0), Intel MPI
    /// (2021) and MPICH 4.0 answer with an error, which gives `Ok(None)` here.
    /// A segment of no elements is always `Some` (there is nothing to
    /// reach).
    ///
    /// Loads and stores through it follow the memory model of the window
    /// (see [`SharedSegment`]).
    ///
    /// ```no_run
    /// # fn main() -> shm_core::Result<()> {
    /// use shm_core::window::Window;
    /// let universe = mpi::initialize().unwrap();
    /// let world = universe.world();
    /// let win = Window::<i64>::allocate(&world, 1024)?;
    /// let mapped = (0..win.size())
    ///     .filter_map(|rank| win.mapped_segment(rank).transpose())
    ///     .count();
    /// println!("{mapped} segments are in memory this process shares");
    /// # Ok(())
    /// # }
    /// ```
    pub fn mapped_segment(&self, rank: i32) -> Result<Option<SharedSegment<'_, T>>> {
        match self.query_segment(rank) {
            Err(Error::Mpi { .. }) => Ok(None),
            other => other,
        }
    }

    /// `MPI_Win_shared_query` for `rank`: `None` when MPI gives no address.
    fn query_segment(&self, rank: i32) -> Result<Option<SharedSegment<'_, T>>> {
        let Some(len) = self.len_of(rank) else {
            return Err(Error::NoSuchRank {
                rank,
                size: self.size(),
            });
        };
        if len == 0 {
            // MPI may give any address, null included, for no memory.
            return Ok(Some(SharedSegment {
                ptr: std::ptr::NonNull::dangling().as_ptr(),
                len,
                _window: PhantomData,
            }));
        }
        let mut size: MPI_Aint = 0;
        let mut disp_unit: c_int = 0;
        let mut ptr: *mut T = std::ptr::null_mut();
        // SAFETY: the window is live; the outputs are plain locals.
        check(
            unsafe {
                ffi::MPI_Win_shared_query(
                    self.raw,
                    rank,
                    &mut size,
                    &mut disp_unit,
                    &mut ptr as *mut *mut T as *mut c_void,
                )
            },
            "MPI_Win_shared_query",
        )?;
        if ptr.is_null() {
            return Ok(None);
        }
        let needed = len.checked_mul(std::mem::size_of::<T>());
        let big_enough = matches!(
            (usize::try_from(size), needed),
            (Ok(given), Some(needed)) if given >= needed
        );
        if (ptr as usize) % std::mem::align_of::<T>() != 0 || !big_enough {
            return Err(Error::Usage(format!(
                "MPI returned a segment of {size} bytes at {ptr:p} for rank {rank}, \
                 not {len} elements aligned for {}",
                T::NAME
            )));
        }
        Ok(Some(SharedSegment {
            ptr,
            len,
            _window: PhantomData,
        }))
    }
}
