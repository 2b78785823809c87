//! [`Locked`]: a window in one `MPI_Win_lock_all` epoch for its whole life
//! ([`LockedWindow`], [`LockedSharedWindow`]).

use super::epoch::Access;
use super::rma::{sealed, Rma};
use super::{SharedWindow, Window};
use crate::element::Element;
use crate::error::Result;
use crate::sys;
use mpi::ffi;

/// A window kind that can stay locked for its life: [`Window`] and
/// [`SharedWindow`].
pub trait Lockable: sealed::Sealed {
    /// The element type.
    type Elem: Element;
    /// The window itself.
    #[doc(hidden)]
    fn as_window(&self) -> &Window<Self::Elem>;
}

impl<T: Element> sealed::Sealed for Window<T> {}
impl<T: Element> Lockable for Window<T> {
    type Elem = T;
    fn as_window(&self) -> &Window<T> {
        self
    }
}

impl<T: Element> sealed::Sealed for SharedWindow<T> {}
impl<T: Element> Lockable for SharedWindow<T> {
    type Elem = T;
    fn as_window(&self) -> &Window<T> {
        self
    }
}

/// A window that stays in a `MPI_Win_lock_all` epoch for its whole life:
/// the usual shape for lock-free algorithms and for objects (locks, stores,
/// node pools) that keep a window and issue RMA, or `MPI_Win_sync` around
/// direct loads and stores, at any time.
///
/// It dereferences to the window it holds; the epoch is closed
/// (`MPI_Win_unlock_all`) before the window is freed.
pub struct Locked<W: Lockable> {
    inner: W,
}

/// A [`Window`] locked for its life, from [`Window::into_locked`].
pub type LockedWindow<T> = Locked<Window<T>>;
/// A [`SharedWindow`] locked for its life, from [`SharedWindow::into_locked`].
pub type LockedSharedWindow<T> = Locked<SharedWindow<T>>;

impl<W: Lockable + std::fmt::Debug> std::fmt::Debug for Locked<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Locked").field(&self.inner).finish()
    }
}

impl<W: Lockable> Locked<W> {
    /// Opens the lifelong epoch. `assert_nocheck` passes `MPI_MODE_NOCHECK`,
    /// promising that no process will ever take an exclusive `MPI_Win_lock`
    /// on this window (which lets implementations skip lock traffic).
    fn new(inner: W, assert_nocheck: bool) -> Result<Self> {
        let mode = if assert_nocheck {
            sys::MODE_NOCHECK()
        } else {
            0
        };
        // SAFETY: the window is live; `Drop` unlocks it once.
        inner
            .as_window()
            .open_epoch(Access::All, "MPI_Win_lock_all", |raw| unsafe {
                ffi::MPI_Win_lock_all(mode, raw)
            })?;
        Ok(Locked { inner })
    }
}

impl<T: Element> Window<T> {
    /// Opens a `MPI_Win_lock_all` epoch that lasts as long as the returned
    /// window (see [`Locked`] for `assert_nocheck`).
    pub fn into_locked(self, assert_nocheck: bool) -> Result<LockedWindow<T>> {
        Locked::new(self, assert_nocheck)
    }
}

impl<T: Element> SharedWindow<T> {
    /// Opens a `MPI_Win_lock_all` epoch that lasts as long as the returned
    /// window (see [`Locked`] for `assert_nocheck`): direct loads and stores
    /// through [`segment`](SharedWindow::segment), with [`Rma::sync`]
    /// (`MPI_Win_sync`) always allowed, as the unified memory model needs it
    /// between a store on one process and a load on another.
    pub fn into_locked(self, assert_nocheck: bool) -> Result<LockedSharedWindow<T>> {
        Locked::new(self, assert_nocheck)
    }
}

impl<W: Lockable> std::ops::Deref for Locked<W> {
    type Target = W;
    fn deref(&self) -> &W {
        &self.inner
    }
}

impl<W: Lockable> Drop for Locked<W> {
    fn drop(&mut self) {
        // A rank unwinding from a panic must not run MPI calls that may
        // wait for others (the window's own drop skips its free too).
        if std::thread::panicking() {
            return;
        }
        let win = self.inner.as_window();
        win.end();
        // SAFETY: the epoch opened by `Locked::new`; the window is freed
        // right after, by its own drop.
        unsafe { ffi::MPI_Win_unlock_all(win.raw) };
    }
}

impl<W: Lockable> sealed::Sealed for Locked<W> {}
impl<W: Lockable> Rma<W::Elem> for Locked<W> {
    fn window(&self) -> &Window<W::Elem> {
        self.inner.as_window()
    }
    fn check_target(&self, target: i32) -> Result<()> {
        self.inner.as_window().check_range(target, 0, 0)
    }
}
