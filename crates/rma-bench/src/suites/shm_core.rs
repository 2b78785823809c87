//! Suite `shm-core`: `MpiShared<f64>` (1-D arrays) on the run's ranks.
//!
//! Every operation is collective, so each iteration starts after a barrier
//! and lasts until the slowest rank returns ([`Reduce::Max`]).

use super::Op;
use crate::config::Plan;
use crate::harness::{Ctx, Reduce, Who};
use anyhow::Result;
use shm_core::{MpiShared, Slab};
use std::cell::RefCell;
use std::hint::black_box;

/// The suite's operations, in the order it runs them.
pub const OPS: [Op; 5] = [
    Op::Set,
    Op::SetSingleSource,
    Op::ReadView,
    Op::CreateClose,
    Op::Create10000,
];

/// Arrays alive at once in `create-10000`.
const MANY: usize = 10_000;

/// Runs the suite's selected operations (collective).
pub fn run(ctx: &mut Ctx) -> Result<()> {
    let world = ctx.world;
    let rank = ctx.rank;
    for (op, single) in [(Op::Set, false), (Op::SetSingleSource, true)] {
        if !ctx.op(op) {
            continue;
        }
        for n in ctx.cfg.sizes() {
            let mut shm = MpiShared::<f64>::new(&[n], world)?;
            let data: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let samples = ctx.measure(Who::AllBarrier, ctx.cfg.plan(Some(n)), || {
                let slab = if rank == 0 {
                    Slab::from(&data)
                } else {
                    Slab::none()
                };
                if single {
                    shm.assign(slab, &[0])?;
                } else {
                    shm.set(slab, &[0], 0)?;
                }
                Ok(())
            })?;
            anyhow::ensure!(
                shm.get(&[n - 1]) == Some((n - 1) as f64),
                "{op} of {n} elements did not land"
            );
            shm.close()?;
            ctx.record(op, "ours", Some(n), &samples, Reduce::Max, Some(n * 8));
        }
    }
    if ctx.op(Op::ReadView) {
        let n = 1_000_000;
        let mut shm = MpiShared::<f64>::new(&[n], world)?;
        let data = vec![1.0f64; n];
        shm.set(
            if rank == 0 {
                Slab::from(&data)
            } else {
                Slab::none()
            },
            &[0],
            0,
        )?;
        let samples = ctx.measure(Who::AllBarrier, ctx.cfg.plan(Some(n)), || {
            let sum: f64 = shm.view().sum();
            anyhow::ensure!(black_box(sum) == n as f64, "bad sum {sum}");
            Ok(())
        })?;
        shm.close()?;
        ctx.record(
            Op::ReadView,
            "ours",
            Some(n),
            &samples,
            Reduce::Max,
            Some(n * 8),
        );
    }
    if ctx.op(Op::CreateClose) {
        let n = 1_000;
        let samples = ctx.measure(Who::AllBarrier, ctx.cfg.plan_slow(), || {
            let shm = MpiShared::<f64>::new(&[n], world)?;
            shm.close()?;
            Ok(())
        })?;
        ctx.record(
            Op::CreateClose,
            "ours",
            Some(n),
            &samples,
            Reduce::Max,
            None,
        );
    }
    if ctx.op(Op::Create10000) {
        // One sample: 10,000 (5, 5) arrays created on one communicator and
        // kept alive (closing the previous batch is untimed).
        let count = if ctx.cfg.quick { MANY / 10 } else { MANY };
        let plan = Plan {
            warmup: 1,
            iters: if ctx.cfg.quick { 1 } else { 5 },
            calls: 1,
        };
        let alive: RefCell<Vec<MpiShared<f64>>> = RefCell::new(Vec::with_capacity(count));
        let close_all = || -> Result<()> {
            for shm in alive.borrow_mut().drain(..) {
                shm.close()?;
            }
            Ok(())
        };
        let samples = ctx.measure_with(Who::AllBarrier, plan, close_all, || {
            let mut alive = alive.borrow_mut();
            for _ in 0..count {
                alive.push(MpiShared::<f64>::new(&[5, 5], world)?);
            }
            Ok(())
        })?;
        close_all()?;
        ctx.record(
            Op::Create10000,
            "ours",
            Some(count),
            &samples,
            Reduce::Max,
            None,
        );
    }
    Ok(())
}
