//! The one-sided operations: the [`Rma`] trait of every passive-target
//! epoch, the reduction [`Op`]s, and the raw calls that start an operation
//! (the epochs complete them).

use super::batch::Batch;
use super::Window;
use crate::element::Element;
use crate::error::{check, Error, Result};
use crate::sys;
use mpi::ffi::{self, MPI_Aint};
use std::os::raw::{c_int, c_void};

/// Largest element count passed to one MPI call (MPI counts are C `int`s).
const MAX_CALL_ELEMENTS: usize = 1 << 28;

/// A reduction operation for accumulate and fetch-and-op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `MPI_SUM`.
    Sum,
    /// `MPI_PROD`.
    Prod,
    /// `MPI_MIN`.
    Min,
    /// `MPI_MAX`.
    Max,
    /// `MPI_BAND` (integers only).
    BitAnd,
    /// `MPI_BOR` (integers only).
    BitOr,
    /// `MPI_BXOR` (integers only).
    BitXor,
    /// `MPI_REPLACE`: an atomic write (an atomic swap in fetch-and-op).
    Replace,
    /// `MPI_NO_OP`: an atomic read in fetch-and-op and get-accumulate.
    NoOp,
}

impl Op {
    /// The MPI name, for errors.
    fn name(self) -> &'static str {
        match self {
            Op::Sum => "MPI_SUM",
            Op::Prod => "MPI_PROD",
            Op::Min => "MPI_MIN",
            Op::Max => "MPI_MAX",
            Op::BitAnd => "MPI_BAND",
            Op::BitOr => "MPI_BOR",
            Op::BitXor => "MPI_BXOR",
            Op::Replace => "MPI_REPLACE",
            Op::NoOp => "MPI_NO_OP",
        }
    }

    fn raw(self) -> ffi::MPI_Op {
        match self {
            Op::Sum => sys::SUM(),
            Op::Prod => sys::PROD(),
            Op::Min => sys::MIN(),
            Op::Max => sys::MAX(),
            Op::BitAnd => sys::BAND(),
            Op::BitOr => sys::BOR(),
            Op::BitXor => sys::BXOR(),
            Op::Replace => sys::REPLACE(),
            Op::NoOp => sys::NO_OP(),
        }
    }
}

impl<T: Element> Window<T> {
    pub(super) fn check_range(&self, target: i32, disp: usize, count: usize) -> Result<()> {
        // Not `ok_or`: an error built eagerly (it has drop glue) would be
        // built and dropped on every RMA call.
        let Some(len) = self.len_of(target) else {
            return Err(Error::NoSuchRank {
                rank: target,
                size: self.size(),
            });
        };
        match disp.checked_add(count) {
            Some(end) if end <= len => Ok(()),
            _ => Err(Error::OutOfRange {
                target,
                disp,
                count,
                len,
            }),
        }
    }

    /// Splits `count` elements into calls of at most `MAX_CALL_ELEMENTS`.
    pub(super) fn chunked(
        count: usize,
        mut f: impl FnMut(usize, c_int) -> Result<()>,
    ) -> Result<()> {
        let mut done = 0;
        while done < count {
            let n = (count - done).min(MAX_CALL_ELEMENTS);
            f(done, n as c_int)?;
            done += n;
        }
        Ok(())
    }

    // The raw operations below start an RMA operation and return: the caller
    // (an epoch) completes it before the borrowed buffers are released.

    pub(super) fn start_put(&self, target: i32, disp: usize, data: &[T]) -> Result<()> {
        self.check_range(target, disp, data.len())?;
        Self::chunked(data.len(), |off, n| {
            // SAFETY: `data[off..off + n]` is readable and stays borrowed until
            // the epoch completes the operation; the target range was checked.
            check(
                unsafe {
                    ffi::MPI_Put(
                        data.as_ptr().add(off) as *const c_void,
                        n,
                        T::datatype(),
                        target,
                        (disp + off) as MPI_Aint,
                        n,
                        T::datatype(),
                        self.raw,
                    )
                },
                "MPI_Put",
            )
        })
    }

    pub(super) fn start_get(&self, target: i32, disp: usize, out: &mut [T]) -> Result<()> {
        self.check_range(target, disp, out.len())?;
        let ptr = out.as_mut_ptr();
        Self::chunked(out.len(), |off, n| {
            // SAFETY: `out[off..off + n]` is writable and stays borrowed until
            // the epoch completes the operation; the target range was checked.
            check(
                unsafe {
                    ffi::MPI_Get(
                        ptr.add(off) as *mut c_void,
                        n,
                        T::datatype(),
                        target,
                        (disp + off) as MPI_Aint,
                        n,
                        T::datatype(),
                        self.raw,
                    )
                },
                "MPI_Get",
            )
        })
    }

    pub(super) fn start_accumulate(
        &self,
        target: i32,
        disp: usize,
        data: &[T],
        op: Op,
    ) -> Result<()> {
        self.check_op(op)?;
        self.check_range(target, disp, data.len())?;
        Self::chunked(data.len(), |off, n| {
            // SAFETY: as in `start_put`.
            check(
                unsafe {
                    ffi::MPI_Accumulate(
                        data.as_ptr().add(off) as *const c_void,
                        n,
                        T::datatype(),
                        target,
                        (disp + off) as MPI_Aint,
                        n,
                        T::datatype(),
                        op.raw(),
                        self.raw,
                    )
                },
                "MPI_Accumulate",
            )
        })
    }

    pub(super) fn check_op(&self, op: Op) -> Result<()> {
        if !T::INTEGER && matches!(op, Op::BitAnd | Op::BitOr | Op::BitXor) {
            return Err(Error::Unsupported {
                operation: op.name(),
                element: T::NAME,
            });
        }
        Ok(())
    }

    pub(super) fn flush_local_raw(&self, target: i32) -> Result<()> {
        // SAFETY: the window is live and inside a passive-target epoch.
        check(
            unsafe { ffi::MPI_Win_flush_local(target, self.raw) },
            "MPI_Win_flush_local",
        )?;
        self.completions.flushed_locally(target);
        Ok(())
    }
}

pub(super) mod sealed {
    pub trait Sealed {}
}

/// One-sided operations inside a passive-target epoch.
///
/// Each call completes locally before it returns (see the module
/// documentation); [`flush`](Rma::flush) completes it remotely.
/// [`batch`](Rma::batch) starts several operations and completes them
/// together.
pub trait Rma<T: Element>: sealed::Sealed {
    /// The window this epoch belongs to.
    fn window(&self) -> &Window<T>;

    /// Checks that `target` may be accessed in this epoch.
    #[doc(hidden)]
    fn check_target(&self, target: i32) -> Result<()>;

    /// `MPI_Put` of `data` to `target`'s segment at element `disp`.
    fn put(&self, target: i32, disp: usize, data: &[T]) -> Result<()> {
        self.check_target(target)?;
        self.window().start_put(target, disp, data)?;
        self.window().flush_local_raw(target)
    }

    /// `MPI_Get` of `out.len()` elements from `target`'s segment at `disp`.
    fn get(&self, target: i32, disp: usize, out: &mut [T]) -> Result<()> {
        self.check_target(target)?;
        self.window().start_get(target, disp, out)?;
        self.window().flush_local_raw(target)
    }

    /// `MPI_Accumulate` of `data` into `target`'s segment at `disp`
    /// (element-wise atomic with respect to other accumulates).
    fn accumulate(&self, target: i32, disp: usize, data: &[T], op: Op) -> Result<()> {
        self.check_target(target)?;
        self.window().start_accumulate(target, disp, data, op)?;
        self.window().flush_local_raw(target)
    }

    /// [`put`](Rma::put) completed remotely: one `MPI_Put` and one
    /// `MPI_Win_flush`, which also completes it locally, so this is one MPI
    /// call cheaper than `put` followed by [`flush`](Rma::flush).
    fn put_flush(&self, target: i32, disp: usize, data: &[T]) -> Result<()> {
        self.check_target(target)?;
        self.window().start_put(target, disp, data)?;
        self.flush(target)
    }

    /// [`accumulate`](Rma::accumulate) completed remotely, with one flush
    /// (see [`put_flush`](Rma::put_flush)).
    fn accumulate_flush(&self, target: i32, disp: usize, data: &[T], op: Op) -> Result<()> {
        self.check_target(target)?;
        self.window().start_accumulate(target, disp, data, op)?;
        self.flush(target)
    }

    /// `MPI_Get_accumulate`: atomically fetches the old values into `result`
    /// and combines `data` into them. `data` and `result` have the same length.
    fn get_accumulate(
        &self,
        target: i32,
        disp: usize,
        data: &[T],
        result: &mut [T],
        op: Op,
    ) -> Result<()> {
        self.check_target(target)?;
        let win = self.window();
        win.check_op(op)?;
        if data.len() != result.len() {
            return Err(Error::LengthMismatch {
                what: "get_accumulate's data and result",
                left: data.len(),
                right: result.len(),
            });
        }
        win.check_range(target, disp, data.len())?;
        let out = result.as_mut_ptr();
        Window::<T>::chunked(data.len(), |off, n| {
            // SAFETY: both buffers hold `off + n` elements and stay borrowed
            // until the flush below; the target range was checked.
            check(
                unsafe {
                    ffi::MPI_Get_accumulate(
                        data.as_ptr().add(off) as *const c_void,
                        n,
                        T::datatype(),
                        out.add(off) as *mut c_void,
                        n,
                        T::datatype(),
                        target,
                        (disp + off) as MPI_Aint,
                        n,
                        T::datatype(),
                        op.raw(),
                        win.raw,
                    )
                },
                "MPI_Get_accumulate",
            )
        })?;
        win.flush_local_raw(target)
    }

    /// `MPI_Fetch_and_op` on one element: returns the old value. With
    /// [`Op::NoOp`] it is an atomic read, with [`Op::Replace`] an atomic swap.
    fn fetch_and_op(&self, target: i32, disp: usize, value: T, op: Op) -> Result<T> {
        self.check_target(target)?;
        let win = self.window();
        win.check_op(op)?;
        win.check_range(target, disp, 1)?;
        let mut old = T::zeroed();
        // SAFETY: `value` and `old` are live locals until the flush below.
        check(
            unsafe {
                ffi::MPI_Fetch_and_op(
                    &value as *const T as *const c_void,
                    &mut old as *mut T as *mut c_void,
                    T::datatype(),
                    target,
                    disp as MPI_Aint,
                    op.raw(),
                    win.raw,
                )
            },
            "MPI_Fetch_and_op",
        )?;
        win.flush_local_raw(target)?;
        Ok(old)
    }

    /// `MPI_Compare_and_swap` on one element: writes `value` if the element
    /// equals `compare`, and returns the old value either way. Integer types
    /// only.
    ///
    /// Open MPI 4.1's default one-node component (`osc/rdma`) crashes the
    /// target of an 8-byte compare-and-swap; run with `OMPI_MCA_osc=sm,pt2pt`
    /// (see `docs/architecture.md`).
    fn compare_and_swap(&self, target: i32, disp: usize, compare: T, value: T) -> Result<T> {
        self.check_target(target)?;
        let win = self.window();
        if !T::INTEGER {
            return Err(Error::Unsupported {
                operation: "MPI_Compare_and_swap",
                element: T::NAME,
            });
        }
        win.check_range(target, disp, 1)?;
        let mut old = T::zeroed();
        // SAFETY: the three locals live until the flush below.
        check(
            unsafe {
                ffi::MPI_Compare_and_swap(
                    &value as *const T as *const c_void,
                    &compare as *const T as *const c_void,
                    &mut old as *mut T as *mut c_void,
                    T::datatype(),
                    target,
                    disp as MPI_Aint,
                    win.raw,
                )
            },
            "MPI_Compare_and_swap",
        )?;
        win.flush_local_raw(target)?;
        Ok(old)
    }

    /// Runs `f` with a [`Batch`]: the gets, puts and accumulates it starts
    /// are all in flight at once, and complete together, with one
    /// `MPI_Win_flush_all`, when `f` returns (with `Ok` or `Err`) or panics,
    /// before `batch` returns or the panic goes on. Their buffers are
    /// borrowed until then, so none can be read, written or freed early
    /// (the [`Batch`] documentation says which MPI rules this relies on,
    /// and why the flush is a remote one). A batch that started nothing
    /// makes no MPI call.
    ///
    /// Operations in one batch are unordered: do not put and get the same
    /// target elements in one batch (the get may see either value). On a
    /// trait object (`&dyn Rma<T>`), call
    /// [`window::batch`](crate::window::batch()) instead.
    ///
    /// ```no_run
    /// use shm_core::window::{Rma, Window};
    /// use mpi::traits::*;
    /// let universe = mpi::initialize().unwrap();
    /// let world = universe.world();
    /// let win = Window::<i64>::allocate(&world, 4)?.into_locked(true)?;
    /// // One element from every rank's segment, all gets in flight at once.
    /// let mut firsts = vec![0i64; world.size() as usize];
    /// win.batch(|batch| {
    ///     for (rank, out) in firsts.chunks_mut(1).enumerate() {
    ///         batch.get(rank as i32, 0, out)?;
    ///     }
    ///     Ok::<(), shm_core::Error>(())
    /// })?;
    /// # Ok::<(), shm_core::Error>(())
    /// ```
    fn batch<'env, R, E>(
        &'env self,
        f: impl for<'scope> FnOnce(&'scope Batch<'scope, 'env, T>) -> std::result::Result<R, E>,
    ) -> std::result::Result<R, E>
    where
        Self: Sized,
        E: From<Error>,
    {
        super::batch::batch(self, f)
    }

    /// `MPI_Win_flush`: completes every operation to `target` remotely.
    fn flush(&self, target: i32) -> Result<()> {
        self.check_target(target)?;
        let win = self.window();
        // SAFETY: the window is live and inside a passive-target epoch.
        check(
            unsafe { ffi::MPI_Win_flush(target, win.raw) },
            "MPI_Win_flush",
        )?;
        win.completions.flushed(target);
        Ok(())
    }

    /// `MPI_Win_flush_all`.
    fn flush_all(&self) -> Result<()> {
        let win = self.window();
        // SAFETY: as in `flush`.
        check(
            unsafe { ffi::MPI_Win_flush_all(win.raw) },
            "MPI_Win_flush_all",
        )?;
        win.completions.flushed_all();
        Ok(())
    }

    /// `MPI_Win_sync`: synchronises the public and private copies of this
    /// rank's segment (a memory barrier for direct loads and stores).
    fn sync(&self) -> Result<()> {
        // SAFETY: as in `flush`.
        check(
            unsafe { ffi::MPI_Win_sync(self.window().raw) },
            "MPI_Win_sync",
        )
    }
}
