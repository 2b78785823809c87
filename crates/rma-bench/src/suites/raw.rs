//! Suite `raw`: the baselines. Plain MPI calls through `mpi::ffi` (no checks,
//! no local completion of our own) on one 8-byte `i64` per rank, and a plain
//! `memcpy` of the bytes the shm-core suite moves.

use super::Op;
use crate::harness::{Ctx, Reduce, Who};
use anyhow::{ensure, Result};
use mpi::ffi;
use mpi::traits::*;
use shm_core::{sys, Window};
use std::hint::black_box;
use std::os::raw::c_void;

/// The suite's operations, in the order it runs them.
pub const OPS: [Op; 10] = [
    Op::PutFlush,
    Op::GetFlush,
    Op::AccFlush,
    Op::FopFlush,
    Op::CasFlush,
    Op::WinLockUnlockUncontended,
    Op::WinLockUnlockContended,
    Op::WinLockSharedContended,
    Op::Bcast,
    Op::Memcpy,
];

fn ok(code: i32, what: impl std::fmt::Display) -> Result<()> {
    ensure!(
        code == sys::SUCCESS(),
        "{what} failed with MPI error {code}"
    );
    Ok(())
}

/// Runs the suite's selected operations (collective).
pub fn run(ctx: &mut Ctx) -> Result<()> {
    let win = Window::<i64>::allocate(ctx.world, 1)?;
    let raw = win.as_raw();
    let target = ctx.size - 1;
    let plan = ctx.cfg.plan(None);

    // One-sided 8-byte operations from rank 0 to the last rank, each followed
    // by MPI_Win_flush, inside one MPI_Win_lock_all epoch opened by rank 0.
    type RmaOp = fn(ffi::MPI_Win, i32, &mut i64) -> i32;
    let rma: [(Op, RmaOp); 4] = [
        (Op::PutFlush, |win, target, v| {
            // SAFETY: `v` lives until the flush that follows the call; the
            // target segment holds one i64 at displacement 0.
            unsafe {
                ffi::MPI_Put(
                    v as *mut i64 as *const c_void,
                    1,
                    sys::INT64_T(),
                    target,
                    0,
                    1,
                    sys::INT64_T(),
                    win,
                )
            }
        }),
        (Op::GetFlush, |win, target, v| {
            // SAFETY: as for put: `v` receives one i64 and outlives the flush.
            unsafe {
                ffi::MPI_Get(
                    v as *mut i64 as *mut c_void,
                    1,
                    sys::INT64_T(),
                    target,
                    0,
                    1,
                    sys::INT64_T(),
                    win,
                )
            }
        }),
        (Op::AccFlush, |win, target, v| {
            // SAFETY: as for put.
            unsafe {
                ffi::MPI_Accumulate(
                    v as *mut i64 as *const c_void,
                    1,
                    sys::INT64_T(),
                    target,
                    0,
                    1,
                    sys::INT64_T(),
                    sys::SUM(),
                    win,
                )
            }
        }),
        (Op::FopFlush, |win, target, v| {
            let one = 1i64;
            // SAFETY: `one` and `v` outlive the flush that follows.
            unsafe {
                ffi::MPI_Fetch_and_op(
                    &one as *const i64 as *const c_void,
                    v as *mut i64 as *mut c_void,
                    sys::INT64_T(),
                    target,
                    0,
                    sys::SUM(),
                    win,
                )
            }
        }),
    ];
    for (name, call) in rma {
        if !ctx.op(name) {
            continue;
        }
        if ctx.rank == 0 {
            // SAFETY: the window is live; the epoch is closed below.
            let rc = unsafe { ffi::MPI_Win_lock_all(0, raw) };
            ok(rc, "MPI_Win_lock_all")?;
        }
        let mut v = 0i64;
        let samples = ctx.measure(Who::Rank0, plan, || {
            ok(call(raw, target, &mut v), name)?;
            // SAFETY: inside rank 0's lock_all epoch on a live window.
            let rc = unsafe { ffi::MPI_Win_flush(target, raw) };
            ok(rc, "MPI_Win_flush")
        });
        if ctx.rank == 0 {
            // SAFETY: closes the epoch opened above.
            let rc = unsafe { ffi::MPI_Win_unlock_all(raw) };
            ok(rc, "MPI_Win_unlock_all")?;
        }
        ctx.record(name, "raw-mpi", Some(1), &samples?, Reduce::Rank0, Some(8));
    }

    // Compare-and-swap on a 4-byte int, not an 8-byte one: Open MPI 4.1's
    // osc/rdma over btl/vader crashes the target on 64-bit
    // MPI_Compare_and_swap (open-mpi/ompi#7967, #11349), which is also why
    // MpiLock keeps 32-bit words.
    if ctx.op(Op::CasFlush) {
        let win32 = Window::<i32>::allocate(ctx.world, 1)?;
        let raw32 = win32.as_raw();
        if ctx.rank == 0 {
            // SAFETY: the window is live; the epoch is closed below.
            let rc = unsafe { ffi::MPI_Win_lock_all(0, raw32) };
            ok(rc, "MPI_Win_lock_all")?;
        }
        let (compare, value, mut old) = (0i32, 0i32, 0i32);
        let samples = ctx.measure(Who::Rank0, plan, || {
            // SAFETY: the three buffers outlive the flush that follows; the
            // target segment holds one i32 at displacement 0.
            let rc = unsafe {
                ffi::MPI_Compare_and_swap(
                    &value as *const i32 as *const c_void,
                    &compare as *const i32 as *const c_void,
                    &mut old as *mut i32 as *mut c_void,
                    <i32 as shm_core::Element>::datatype(),
                    target,
                    0,
                    raw32,
                )
            };
            ok(rc, "MPI_Compare_and_swap")?;
            // SAFETY: inside rank 0's lock_all epoch on a live window.
            let rc = unsafe { ffi::MPI_Win_flush(target, raw32) };
            ok(rc, "MPI_Win_flush")
        });
        if ctx.rank == 0 {
            // SAFETY: closes the epoch opened above.
            let rc = unsafe { ffi::MPI_Win_unlock_all(raw32) };
            ok(rc, "MPI_Win_unlock_all")?;
        }
        ctx.record(
            Op::CasFlush,
            "raw-mpi",
            Some(1),
            &samples?,
            Reduce::Rank0,
            Some(4),
        );
    }

    // A lock and unlock of `target`'s window with no operation inside.
    let lock_unlock_as = |lock_type: i32, target: i32| -> Result<()> {
        // SAFETY: the window is live and no other epoch is open on it here.
        let rc = unsafe { ffi::MPI_Win_lock(lock_type, target, 0, raw) };
        ok(rc, "MPI_Win_lock")?;
        // SAFETY: closes the epoch just opened.
        let rc = unsafe { ffi::MPI_Win_unlock(target, raw) };
        ok(rc, "MPI_Win_unlock")
    };
    let lock_unlock = |target: i32| lock_unlock_as(sys::LOCK_EXCLUSIVE(), target);
    if ctx.op(Op::WinLockUnlockUncontended) {
        let samples = ctx.measure(Who::Rank0, plan, || lock_unlock(target))?;
        ctx.record(
            Op::WinLockUnlockUncontended,
            "raw-mpi",
            None,
            &samples,
            Reduce::Rank0,
            None,
        );
    }
    if ctx.op(Op::WinLockUnlockContended) {
        let samples = ctx.measure(Who::All, ctx.cfg.plan_slow(), || lock_unlock(0))?;
        ctx.record(
            Op::WinLockUnlockContended,
            "raw-mpi",
            None,
            &samples,
            Reduce::Pool,
            None,
        );
    }
    if ctx.op(Op::WinLockSharedContended) {
        let samples = ctx.measure(Who::All, ctx.cfg.plan_slow(), || {
            lock_unlock_as(sys::LOCK_SHARED(), 0)
        })?;
        ctx.record(
            Op::WinLockSharedContended,
            "raw-mpi",
            None,
            &samples,
            Reduce::Pool,
            None,
        );
    }
    drop(win);

    if ctx.op(Op::Bcast) {
        for n in ctx.cfg.sizes() {
            let mut buf = vec![1.0f64; n];
            let root = ctx.world.process_at_rank(0);
            let samples = ctx.measure(Who::AllBarrier, ctx.cfg.plan(Some(n)), || {
                root.broadcast_into(&mut buf[..]);
                Ok(())
            })?;
            ctx.record(
                Op::Bcast,
                "raw-mpi",
                Some(n),
                &samples,
                Reduce::Max,
                Some(n * 8),
            );
        }
    }
    if ctx.op(Op::Memcpy) {
        for n in ctx.cfg.sizes() {
            let src = vec![1.5f64; n];
            let mut dst = vec![0.0f64; n];
            let samples = ctx.measure(Who::Rank0, ctx.cfg.plan(Some(n)), || {
                dst.copy_from_slice(black_box(&src));
                black_box(&mut dst);
                Ok(())
            })?;
            ctx.record(
                Op::Memcpy,
                "memcpy",
                Some(n),
                &samples,
                Reduce::Rank0,
                Some(n * 8),
            );
        }
    }
    Ok(())
}
