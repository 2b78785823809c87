//! [`Batch`]: several one-sided operations in flight at once, completed
//! together by one `MPI_Win_flush_all` when their scope ends
//! ([`Rma::batch`], [`batch()`]).

use super::rma::Rma;
use super::Op;
use crate::element::Element;
use crate::error::{Error, Result};
use std::cell::Cell;
use std::marker::PhantomData;

/// Operations started inside [`Rma::batch`] (or [`batch()`]), completed
/// together when the scope ends. Every buffer lives for the scope
/// (`'scope`).
///
/// Every [`Rma`] call completes locally before it returns, which costs one
/// completion call per operation and leaves one operation in flight at a
/// time. A batch starts its operations and returns at once; the scope that
/// made it completes them all with one call. The buffers are borrowed for
/// the whole scope (lifetime `'scope`, the shape of `std::thread::scope`
/// and of [`Window::fence_scope`](super::Window::fence_scope)), so the
/// borrow checker keeps every buffer alive, and untouched by anything else,
/// until that completion:
///
/// * a buffer given to [`Batch::get`] or [`Batch::put`] must come from
///   outside the closure, so it is not dropped before the scope has ended;
/// * it is borrowed until `batch` returns, after the completion, so the
///   caller cannot read a get's buffer before the data is there, nor write
///   a put's buffer while MPI may still read it;
/// * one batch cannot hand the same buffer to two operations if one of
///   them is a get (`&mut` borrows are exclusive);
/// * the completion cannot be skipped: it runs when the closure returns,
///   with `Ok` or `Err`, and when it panics (before the panic goes on); a
///   guard would not do, since `std::mem::forget` could skip its drop.
///
/// The MPI rules relied on (MPI-4.0 §12.3 and §12.5.4): the origin buffer
/// of an `MPI_Put` or `MPI_Accumulate` must not be updated, and that of an
/// `MPI_Get` not accessed, until the operation completes at the origin;
/// `MPI_Win_flush_all` completes at the origin and at the target every
/// operation the calling process started on the window, to every target,
/// inside a passive-target epoch, which every [`Rma`] implementor is (and
/// which cannot end during the batch: ending it needs the epoch by value,
/// and the batch borrows it).
///
/// Why not `MPI_Win_flush_local_all`, which is all the buffers need: MPICH
/// 4.0 (ch4, one node) returns from it, and from `MPI_Win_flush_local` on
/// the target, before a get has landed when a put to the same target was
/// started after the get: the get then wrote into the buffer after the
/// scope had released it (`tests/window.rs` keeps that case). The remote
/// flush completes it. The cost is the puts' remote completion, which a
/// batch that also gets pays meanwhile anyway (a get's data makes the same
/// round trip), and which a caller publishing its puts needs anyway.
///
/// Operations of one batch are unordered among themselves: a put and a get
/// of the same target element in one batch conflict, and the get may see
/// either value (MPI-4.0 §12.7); that is a wrong value, never memory
/// unsafety, since every [`Element`] is plain data. Put and get the same
/// elements in two batches instead.
///
/// What the borrow checker refuses: reading a get's buffer inside the
/// scope, while the get may still be writing it,
///
/// ```compile_fail,E0502
/// # use shm_core::window::{LockedWindow, Rma};
/// # fn f(win: &LockedWindow<i64>) -> shm_core::Result<()> {
/// let mut out = [0i64; 4];
/// win.batch(|batch| {
///     batch.get(1, 0, &mut out)?;
///     let early = out[0]; // the get is not complete
///     Ok(())
/// })
/// # }
/// ```
///
/// and a buffer that does not outlive the scope:
///
/// ```compile_fail,E0597
/// # use shm_core::window::{LockedWindow, Rma};
/// # fn f(win: &LockedWindow<i64>) -> shm_core::Result<()> {
/// win.batch(|batch| {
///     let mut out = [0i64; 4]; // dropped at the end of the closure
///     batch.get(1, 0, &mut out)
/// })
/// # }
/// ```
pub struct Batch<'scope, 'env: 'scope, T: Element> {
    rma: &'env (dyn Rma<T> + 'env),
    /// Whether an operation may have started, so that a batch that started
    /// none costs no MPI call.
    started: Cell<bool>,
    // Invariant in both lifetimes, as `std::thread::Scope`.
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl<'scope, T: Element> Batch<'scope, '_, T> {
    /// Starts an `MPI_Get` of `out.len()` elements from `target`'s segment
    /// at `disp`; `out` holds the data once the scope has ended.
    pub fn get(&self, target: i32, disp: usize, out: &'scope mut [T]) -> Result<()> {
        self.rma.check_target(target)?;
        self.started.set(true);
        self.rma.window().start_get(target, disp, out)
    }

    /// Starts an `MPI_Put` of `data` to `target`'s segment at `disp`.
    pub fn put(&self, target: i32, disp: usize, data: &'scope [T]) -> Result<()> {
        self.rma.check_target(target)?;
        self.started.set(true);
        self.rma.window().start_put(target, disp, data)
    }

    /// Starts an `MPI_Accumulate` of `data` into `target`'s segment at
    /// `disp`.
    pub fn accumulate(&self, target: i32, disp: usize, data: &'scope [T], op: Op) -> Result<()> {
        self.rma.check_target(target)?;
        self.started.set(true);
        self.rma.window().start_accumulate(target, disp, data, op)
    }
}

/// [`Rma::batch`] for a trait object (`&dyn Rma<T>`, on which the method,
/// generic, cannot be called): runs `f` with a fresh batch on `rma`, then
/// completes what it started.
///
/// ```no_run
/// use shm_core::window::{batch, Rma, Window};
/// use mpi::traits::*;
/// let universe = mpi::initialize().unwrap();
/// let world = universe.world();
/// let win = Window::<i64>::allocate(&world, 2)?.into_locked(true)?;
/// let rma: &dyn Rma<i64> = &win;
/// let mut pair = [0i64; 2];
/// batch(rma, |b| b.get(0, 0, &mut pair))?;
/// # Ok::<(), shm_core::Error>(())
/// ```
pub fn batch<'env, T, R, E>(
    rma: &'env (dyn Rma<T> + 'env),
    f: impl for<'scope> FnOnce(&'scope Batch<'scope, 'env, T>) -> std::result::Result<R, E>,
) -> std::result::Result<R, E>
where
    T: Element,
    E: From<Error>,
{
    let batch = Batch {
        rma,
        started: Cell::new(false),
        _scope: PhantomData,
        _env: PhantomData,
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&batch)));
    if batch.started.get() {
        if let Err(err) = rma.flush_all() {
            // The buffers may still be read or written by MPI, and returning
            // (or unwinding) would release them to the caller: nothing may.
            eprintln!("shm_core: completing a batch of RMA operations failed ({err}); aborting");
            std::process::abort();
        }
    }
    match outcome {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
