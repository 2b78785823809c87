//! Suite `dsm-kv`: the distributed memory, master-driven as in its seed
//! project: rank 0 operates while the hosts (every other rank) idle, so every
//! row is rank 0's samples. Point operations compare with `get-flush` and
//! `put-flush` of suite `raw`; list operations (10^6 elements) with `memcpy`
//! of the same bytes, and `filter` also with `memcpy-fresh`, timed with it.

use super::Op;
use crate::harness::{Ctx, Reduce, Timed, Who};
use anyhow::{ensure, Result};
use dsm_kv::{init_memory_with, Config, Var};
use std::cell::{Cell, RefCell};
use std::hint::black_box;

/// The suite's operations, in the order it runs them.
pub const OPS: [Op; 7] = [
    Op::Add,
    Op::ReadInt,
    Op::Modify,
    Op::ReadList,
    Op::Map,
    Op::Reduce,
    Op::Filter,
];

/// The list length of the bulk operations.
const LIST: usize = 1_000_000;

/// Runs the suite's selected operations (collective).
pub fn run(ctx: &mut Ctx) -> Result<()> {
    ensure!(
        ctx.size >= 2,
        "dsm-kv needs at least 2 ranks (a master and a host)"
    );
    // Room on every host for two 10^6 lists (filter re-adds its input before
    // each iteration) and a few small variables.
    let mem = init_memory_with(
        ctx.world,
        Config {
            max_per_slave: 2 * LIST + 4096,
            vars_per_slave: Some(4096),
        },
    )?;
    let list: Vec<i64> = (0..LIST as i64).collect();
    let point = ctx.cfg.plan(None);
    let bulk = ctx.cfg.plan(Some(LIST));

    if ctx.op(Op::Add) {
        // Adds an integer; the previous one is freed, untimed, before each
        // iteration so that the memory does not fill up.
        let last: Cell<Option<Var>> = Cell::new(None);
        let samples = ctx.measure_with(
            Who::Rank0,
            point,
            || {
                if let Some(v) = last.take() {
                    mem.free(v)?;
                }
                Ok(())
            },
            || {
                last.set(Some(mem.add(7i64)?));
                Ok(())
            },
        )?;
        if let Some(v) = last.take() {
            mem.free(v)?;
        }
        ctx.record(Op::Add, "ours", Some(1), &samples, Reduce::Rank0, Some(8));
    }
    if ctx.op(Op::ReadInt) {
        let var = if ctx.rank == 0 {
            Some(mem.add(42i64)?)
        } else {
            None
        };
        let samples = ctx.measure(Who::Rank0, point, || {
            let v = var.expect("rank 0 added it");
            ensure!(
                mem.read(&v)?.as_int() == Some(42),
                "read-int read a wrong value"
            );
            Ok(())
        })?;
        if let Some(v) = var {
            mem.free(v)?;
        }
        ctx.record(
            Op::ReadInt,
            "ours",
            Some(1),
            &samples,
            Reduce::Rank0,
            Some(8),
        );
    }
    if ctx.op(Op::Modify) {
        let var = if ctx.rank == 0 {
            Some(mem.add(vec![0i64; 16])?)
        } else {
            None
        };
        let mut i = 0i64;
        let samples = ctx.measure(Who::Rank0, point, || {
            i += 1;
            ensure!(
                mem.modify(&var.expect("rank 0 added it"), i, 0)?,
                "modify found the list freed"
            );
            Ok(())
        })?;
        if let Some(v) = var {
            mem.free(v)?;
        }
        ctx.record(
            Op::Modify,
            "ours",
            Some(1),
            &samples,
            Reduce::Rank0,
            Some(8),
        );
    }

    // The bulk operations share one 10^6-element list (filter has its own).
    let var = if ctx.rank == 0 {
        Some(mem.add(list.clone())?)
    } else {
        None
    };
    let the = || var.expect("rank 0 added it");
    if ctx.op(Op::ReadList) {
        let samples = ctx.measure(Who::Rank0, bulk, || {
            let value = mem.read(&the())?;
            ensure!(
                black_box(value).len() == LIST,
                "read-list read a wrong length"
            );
            Ok(())
        })?;
        ctx.record(
            Op::ReadList,
            "ours",
            Some(LIST),
            &samples,
            Reduce::Rank0,
            Some(LIST * 8),
        );
    }
    if ctx.op(Op::Map) {
        let samples = ctx.measure(Who::Rank0, bulk, || {
            mem.map(&the(), |x| x.wrapping_add(1))?;
            Ok(())
        })?;
        ctx.record(
            Op::Map,
            "ours",
            Some(LIST),
            &samples,
            Reduce::Rank0,
            Some(LIST * 8),
        );
    }
    if ctx.op(Op::Reduce) {
        let samples = ctx.measure(Who::Rank0, bulk, || {
            let sum = mem.reduce(&the(), |a: i64, x| a.wrapping_add(x), 0)?;
            black_box(sum);
            Ok(())
        })?;
        ctx.record(
            Op::Reduce,
            "ours",
            Some(LIST),
            &samples,
            Reduce::Rank0,
            Some(LIST * 8),
        );
    }
    if let Some(v) = var {
        mem.free(v)?;
    }
    if ctx.op(Op::Filter) {
        // Keeps the even elements (half the list); filter shrinks its input,
        // so a fresh list is added, untimed, before each iteration. Its
        // input is therefore never as warm as the buffers of `raw`'s
        // `memcpy`, which copies the same two arrays over and over: the
        // baseline that takes that into account is timed with it, iteration
        // by iteration, as a memcpy of a list just written as `add` writes
        // one (`memcpy-fresh`; docs/benchmarks.md).
        let cur: Cell<Option<Var>> = Cell::new(None);
        let (fresh, mut copy) = (RefCell::new(vec![0i64; LIST]), vec![0i64; LIST]);
        let (samples, baseline) = ctx.measure_paired(
            Who::Rank0,
            bulk,
            Timed {
                setup: || {
                    if let Some(v) = cur.take() {
                        mem.free(v)?;
                    }
                    cur.set(Some(mem.add(list.as_slice())?));
                    Ok(())
                },
                run: || {
                    let kept = mem.filter(&cur.get().expect("set up"), |x| x % 2 == 0)?;
                    ensure!(kept == LIST / 2, "filter kept {kept}");
                    Ok(())
                },
            },
            Timed {
                setup: || {
                    fresh.borrow_mut().copy_from_slice(&list);
                    Ok(())
                },
                run: || {
                    copy.copy_from_slice(black_box(&fresh.borrow()));
                    black_box(&mut copy);
                    Ok(())
                },
            },
        )?;
        if let Some(v) = cur.take() {
            mem.free(v)?;
        }
        for (implementation, samples) in [("ours", &samples), ("memcpy-fresh", &baseline)] {
            ctx.record(
                Op::Filter,
                implementation,
                Some(LIST),
                samples,
                Reduce::Rank0,
                Some(LIST * 8),
            );
        }
    }
    mem.quit()?;
    Ok(())
}
