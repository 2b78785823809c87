//! Epochs: which access epoch a window has open, the passive-target epochs
//! as one guard type ([`Epoch`], closed when dropped), and active-target
//! fences as a scope ([`Window::fence_scope`]).

use super::rma::{sealed, Rma};
use super::Window;
use crate::element::Element;
use crate::error::{check, Error, Result};
use crate::sys;
use mpi::ffi::{self, MPI_Win};
use std::marker::PhantomData;
use std::os::raw::c_int;

/// The kind of a passive-target lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// `MPI_LOCK_EXCLUSIVE`.
    Exclusive,
    /// `MPI_LOCK_SHARED`.
    Shared,
}

/// Which epoch this process has open on a window, so that conflicting epochs
/// are refused with a clear error rather than an MPI error class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    None,
    Locks(u32),
    All,
    Fence,
}

impl<T: Element> Window<T> {
    /// Records that an epoch of kind `want` opens, or refuses a conflict.
    fn begin(&self, want: Access) -> Result<()> {
        let next = match (self.access.get(), want) {
            (Access::None, w) => w,
            (Access::Locks(n), Access::Locks(_)) => Access::Locks(n + 1),
            (open, _) => {
                return Err(Error::Epoch(format!(
                    "cannot open a {want:?} epoch while a {open:?} epoch is open on this window"
                )))
            }
        };
        self.access.set(next);
        Ok(())
    }

    /// Records that an epoch closed.
    pub(super) fn end(&self) {
        let next = match self.access.get() {
            Access::Locks(n) if n > 1 => Access::Locks(n - 1),
            _ => Access::None,
        };
        self.access.set(next);
    }

    /// Opens an epoch of kind `want` with the MPI call `open` (named
    /// `call`), keeping the record straight if MPI refuses.
    pub(super) fn open_epoch(
        &self,
        want: Access,
        call: &'static str,
        open: impl FnOnce(MPI_Win) -> c_int,
    ) -> Result<()> {
        self.begin(want)?;
        let opened = check(open(self.raw), call);
        if opened.is_err() {
            self.end();
        }
        opened
    }

    /// Opens a passive-target epoch on `target` (`MPI_Win_lock`).
    pub fn lock(&self, kind: LockKind, target: i32) -> Result<LockEpoch<'_, T>> {
        self.check_range(target, 0, 0)?;
        let lock_type = match kind {
            LockKind::Exclusive => sys::LOCK_EXCLUSIVE(),
            LockKind::Shared => sys::LOCK_SHARED(),
        };
        // SAFETY: the window is live; the guard unlocks it exactly once.
        self.open_epoch(Access::Locks(1), "MPI_Win_lock", |raw| unsafe {
            ffi::MPI_Win_lock(lock_type, target, 0, raw)
        })?;
        Ok(Epoch::new(self, OneTarget(target)))
    }

    /// Opens a passive-target epoch on every rank (`MPI_Win_lock_all`, shared
    /// locks). This is the usual epoch for lock-free algorithms: keep it open
    /// and order operations with [`Rma::flush`].
    pub fn lock_all(&self) -> Result<LockAllEpoch<'_, T>> {
        // SAFETY: the window is live; the guard unlocks it exactly once.
        self.open_epoch(Access::All, "MPI_Win_lock_all", |raw| unsafe {
            ffi::MPI_Win_lock_all(0, raw)
        })?;
        Ok(Epoch::new(self, AllTargets))
    }

    /// Runs `f` inside an active-target fence epoch (collective: every rank
    /// of the window calls it), and closes the epoch with a fence before
    /// returning, whatever `f` returns.
    ///
    /// Operations started in the epoch complete at the closing fence, so the
    /// buffers given to [`FenceScope::put`], [`get`](FenceScope::get) and
    /// [`accumulate`](FenceScope::accumulate) must live for the whole scope
    /// (lifetime `'scope`): they are borrowed from outside `f`, and the
    /// borrow ends only when `fence_scope` has returned, after the closing
    /// fence. Unlike a guard, the scope cannot be leaked with
    /// `std::mem::forget` to free a buffer while an `MPI_Get` still writes
    /// into it (the shape of `std::thread::scope`).
    ///
    /// If `f` panics, the closing fence still runs (so that the buffers are
    /// no longer in use) before the panic goes on; if that fence fails, the
    /// process aborts rather than release memory MPI may still write.
    ///
    /// ```no_run
    /// use shm_core::Window;
    /// use mpi::traits::*;
    /// let universe = mpi::initialize().unwrap();
    /// let world = universe.world();
    /// let win = Window::<i64>::allocate(&world, 1)?;
    /// let mut from_left = [0i64];
    /// let mine = [world.rank() as i64];
    /// let left = (world.rank() + world.size() - 1) % world.size();
    /// win.fence_scope(|epoch| {
    ///     epoch.put((world.rank() + 1) % world.size(), 0, &mine)?;
    ///     Ok(())
    /// })?;
    /// win.fence_scope(|epoch| epoch.get(world.rank(), 0, &mut from_left))?;
    /// assert_eq!(from_left[0], left as i64);
    /// # Ok::<(), shm_core::Error>(())
    /// ```
    pub fn fence_scope<'env, R>(
        &'env self,
        f: impl for<'scope> FnOnce(&'scope FenceScope<'scope, 'env, T>) -> Result<R>,
    ) -> Result<R> {
        // SAFETY: the window is live; this function closes the epoch below,
        // on every path.
        self.open_epoch(Access::Fence, "MPI_Win_fence", |raw| unsafe {
            ffi::MPI_Win_fence(sys::MODE_NOPRECEDE(), raw)
        })?;
        let scope = FenceScope {
            win: self,
            _scope: PhantomData,
            _env: PhantomData,
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&scope)));
        self.end();
        // SAFETY: the fence epoch opened above; every operation of it
        // completes with this call.
        let closed = check(
            unsafe { ffi::MPI_Win_fence(sys::MODE_NOSUCCEED(), self.raw) },
            "MPI_Win_fence",
        );
        self.completions.epoch_closed();
        match outcome {
            Ok(result) => closed.and(result),
            Err(panic) => {
                if closed.is_err() {
                    // The buffers may still be targets of MPI: nothing may
                    // release them.
                    std::process::abort();
                }
                std::panic::resume_unwind(panic)
            }
        }
    }
}

/// How a passive-target epoch ends and which targets it may reach: the
/// parameter of [`Epoch`] ([`OneTarget`] or [`AllTargets`]).
pub trait EpochKind: sealed::Sealed {
    /// Checks that `target` may be reached in this epoch of `win`.
    #[doc(hidden)]
    fn allows<T: Element>(&self, win: &Window<T>, target: i32) -> Result<()>;
    /// Closes the epoch; returns the MPI code.
    #[doc(hidden)]
    fn close(&self, raw: MPI_Win) -> c_int;
    /// The MPI call that closes it, for errors.
    #[doc(hidden)]
    const CLOSE: &'static str;
}

/// A lock on one target ([`Window::lock`]).
#[derive(Debug, Clone, Copy)]
pub struct OneTarget(i32);

/// A lock on every target ([`Window::lock_all`]).
#[derive(Debug, Clone, Copy)]
pub struct AllTargets;

impl sealed::Sealed for OneTarget {}
impl EpochKind for OneTarget {
    fn allows<T: Element>(&self, win: &Window<T>, target: i32) -> Result<()> {
        if target == self.0 {
            win.check_range(target, 0, 0)
        } else {
            Err(Error::Epoch(format!(
                "this epoch locks rank {}, not rank {target}",
                self.0
            )))
        }
    }
    fn close(&self, raw: MPI_Win) -> c_int {
        // SAFETY: the epoch on this target was opened by `Window::lock`.
        unsafe { ffi::MPI_Win_unlock(self.0, raw) }
    }
    const CLOSE: &'static str = "MPI_Win_unlock";
}

impl sealed::Sealed for AllTargets {}
impl EpochKind for AllTargets {
    fn allows<T: Element>(&self, win: &Window<T>, target: i32) -> Result<()> {
        win.check_range(target, 0, 0)
    }
    fn close(&self, raw: MPI_Win) -> c_int {
        // SAFETY: the epoch was opened by `Window::lock_all`.
        unsafe { ffi::MPI_Win_unlock_all(raw) }
    }
    const CLOSE: &'static str = "MPI_Win_unlock_all";
}

/// A passive-target epoch: open while the guard lives, closed (completing
/// every operation of it) when it is dropped or [`end`](Self::end)ed.
#[must_use = "the epoch ends as soon as the guard is dropped"]
pub struct Epoch<'w, T: Element, K: EpochKind> {
    win: &'w Window<T>,
    kind: K,
    open: bool,
}

/// An epoch on one target, from [`Window::lock`].
pub type LockEpoch<'w, T> = Epoch<'w, T, OneTarget>;
/// An epoch on every target, from [`Window::lock_all`].
pub type LockAllEpoch<'w, T> = Epoch<'w, T, AllTargets>;

impl<'w, T: Element, K: EpochKind> Epoch<'w, T, K> {
    fn new(win: &'w Window<T>, kind: K) -> Self {
        Epoch {
            win,
            kind,
            open: true,
        }
    }

    /// Ends the epoch (`MPI_Win_unlock` or `MPI_Win_unlock_all`), completing
    /// every operation of it, and reports the outcome that dropping the
    /// guard would not.
    pub fn end(mut self) -> Result<()> {
        self.close()
    }

    fn close(&mut self) -> Result<()> {
        if !std::mem::replace(&mut self.open, false) {
            return Ok(());
        }
        self.win.end();
        let closed = check(self.kind.close(self.win.raw), K::CLOSE);
        self.win.completions.epoch_closed();
        closed
    }
}

impl<T: Element> LockEpoch<'_, T> {
    /// [`end`](Epoch::end) under its MPI name.
    pub fn unlock(self) -> Result<()> {
        self.end()
    }
}

impl<T: Element> LockAllEpoch<'_, T> {
    /// [`end`](Epoch::end) under its MPI name.
    pub fn unlock_all(self) -> Result<()> {
        self.end()
    }
}

impl<T: Element, K: EpochKind> Drop for Epoch<'_, T, K> {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl<T: Element, K: EpochKind> sealed::Sealed for Epoch<'_, T, K> {}
impl<T: Element, K: EpochKind> Rma<T> for Epoch<'_, T, K> {
    fn window(&self) -> &Window<T> {
        self.win
    }
    fn check_target(&self, target: i32) -> Result<()> {
        self.kind.allows(self.win, target)
    }
}

/// The operations of a fence epoch, inside [`Window::fence_scope`]. Every
/// buffer lives for the scope (`'scope`): operations complete at the
/// closing fence.
pub struct FenceScope<'scope, 'env: 'scope, T: Element> {
    win: &'env Window<T>,
    // Invariant in both lifetimes, as `std::thread::Scope`.
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl<'scope, T: Element> FenceScope<'scope, '_, T> {
    /// `MPI_Put`, completed at the closing fence.
    pub fn put(&self, target: i32, disp: usize, data: &'scope [T]) -> Result<()> {
        self.win.start_put(target, disp, data)
    }

    /// `MPI_Get`; `out` holds the data once the scope has ended.
    pub fn get(&self, target: i32, disp: usize, out: &'scope mut [T]) -> Result<()> {
        self.win.start_get(target, disp, out)
    }

    /// `MPI_Accumulate`, completed at the closing fence.
    pub fn accumulate(
        &self,
        target: i32,
        disp: usize,
        data: &'scope [T],
        op: super::Op,
    ) -> Result<()> {
        self.win.start_accumulate(target, disp, data, op)
    }
}
