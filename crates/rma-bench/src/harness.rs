//! The measuring harness: timing, the percentile summary, the rows of a run
//! and its progress lines.
//!
//! Every measured operation runs a warm-up, then `iters` timed iterations;
//! each iteration is timed on its own, so that the row can report the median
//! and the 10th/90th percentiles rather than a mean. The samples of all ranks
//! are gathered to rank 0, which reduces them by one of three rules
//! ([`Reduce`]): the samples of rank 0 (one-sided operations issued by rank 0
//! while the others idle), the per-iteration maximum over the ranks
//! (collective operations: an iteration ends when its slowest rank is done),
//! or the pooled samples of every rank (contended locks: each acquisition by
//! any rank is one sample).

use crate::config::{Config, Plan};
use crate::row::{self, decimals, Row};
use crate::suites::{Op, Suite};
use anyhow::Result;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::io::Write;
use std::time::Instant;

/// Which ranks run the timed loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Rank 0 only; the others wait in the gather that follows.
    Rank0,
    /// Every rank, with no synchronisation between iterations.
    All,
    /// Every rank, with a barrier before each iteration (collectives).
    AllBarrier,
}

/// How the samples of the ranks become one distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    /// Rank 0's samples.
    Rank0,
    /// For each iteration, the slowest rank.
    Max,
    /// Every rank's samples together.
    Pool,
}

/// Median and 10th/90th percentiles (linear interpolation between order
/// statistics). `samples` must not be empty.
pub fn percentiles(samples: &mut [f64]) -> (f64, f64, f64) {
    samples.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| {
        let pos = q * (samples.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        samples[lo] + (samples[hi] - samples[lo]) * (pos - lo as f64)
    };
    (at(0.5), at(0.1), at(0.9))
}

/// The state of one run: the communicator, the configuration, progress,
/// and the rows recorded so far (on rank 0).
pub struct Ctx<'a> {
    /// The run's communicator.
    pub world: &'a SimpleCommunicator,
    /// This rank in `world`.
    pub rank: i32,
    /// The number of ranks of `world`.
    pub size: i32,
    /// What the command line asked for.
    pub cfg: &'a Config,
    suite: Suite,
    /// The operations of the current suite that the command line selects.
    ops: Vec<Op>,
    rows: Vec<Row>,
}

impl<'a> Ctx<'a> {
    /// A run on `world` (before the first suite).
    pub fn new(world: &'a SimpleCommunicator, cfg: &'a Config) -> Self {
        Ctx {
            world,
            rank: world.rank(),
            size: world.size(),
            cfg,
            // Set by `suite()`; no op runs before it (`ops` is empty).
            suite: Suite::Raw,
            ops: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// Starts `suite` (for the progress lines and the rows).
    pub fn suite(&mut self, suite: Suite) {
        self.suite = suite;
        self.ops = suite
            .ops()
            .iter()
            .copied()
            .filter(|&op| self.cfg.selects(op))
            .collect();
    }

    /// `true` if `op` is to run; prints the progress line on rank 0.
    pub fn op(&self, op: Op) -> bool {
        let Some(i) = self.ops.iter().position(|&o| o == op) else {
            return false;
        };
        if self.rank == 0 {
            // One write, so that the line is not split when mpirun merges
            // the ranks' stdout and stderr.
            let line = format!(
                "[{} {}/{}] {} ranks={}\n",
                self.suite,
                i + 1,
                self.ops.len(),
                op,
                self.size
            );
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        true
    }

    /// Runs `f` for the plan's warm-up and timed iterations on the ranks
    /// `who` names and returns this rank's samples in µs (zeros on ranks that
    /// do not take part, so that every rank contributes `iters` samples).
    /// With [`Who::Rank0`] each sample is the mean of the plan's
    /// [`calls`](Plan::calls) consecutive calls; the other ranks' samples are
    /// one call each (an acquisition of a contended lock, a collective).
    pub fn measure(&self, who: Who, plan: Plan, f: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
        let calls = if who == Who::Rank0 { plan.calls } else { 1 };
        self.sample(who, plan, calls, || Ok(()), f)
    }

    /// As [`measure`](Self::measure), running the untimed `setup` before
    /// each iteration (for operations that consume their input).
    pub fn measure_with(
        &self,
        who: Who,
        plan: Plan,
        setup: impl FnMut() -> Result<()>,
        f: impl FnMut() -> Result<()>,
    ) -> Result<Vec<f64>> {
        self.sample(who, plan, 1, setup, f)
    }

    /// The loop of [`measure`](Self::measure) and
    /// [`measure_with`](Self::measure_with): `calls` calls of `f` per sample,
    /// after one of `setup`.
    fn sample(
        &self,
        who: Who,
        plan: Plan,
        calls: usize,
        setup: impl FnMut() -> Result<()>,
        f: impl FnMut() -> Result<()>,
    ) -> Result<Vec<f64>> {
        let mut op = Timed { setup, run: f };
        self.iterate(who, plan, || op.time(self, who, calls))
    }

    /// Times `ours` and `baseline` in alternation, each iteration running
    /// `ours`'s setup, `ours`, `baseline`'s setup and `baseline`, on the
    /// ranks `who` names; returns this rank's samples of each, in µs (zeros
    /// on ranks that do not take part). Both then see the machine in the
    /// same state: the same noise, and caches that the setups leave alike,
    /// which two separate measurements seconds apart do not.
    pub fn measure_paired(
        &self,
        who: Who,
        plan: Plan,
        mut ours: Timed<impl FnMut() -> Result<()>, impl FnMut() -> Result<()>>,
        mut baseline: Timed<impl FnMut() -> Result<()>, impl FnMut() -> Result<()>>,
    ) -> Result<(Vec<f64>, Vec<f64>)> {
        let pairs = self.iterate(who, plan, || {
            Ok((ours.time(self, who, 1)?, baseline.time(self, who, 1)?))
        })?;
        Ok(pairs.into_iter().unzip())
    }

    /// Runs `step` for the plan's warm-up and timed iterations on the ranks
    /// `who` names, after a barrier, and returns the timed iterations'
    /// results (defaults on ranks that do not take part, so that every rank
    /// contributes `iters` samples).
    fn iterate<T: Default + Clone>(
        &self,
        who: Who,
        plan: Plan,
        mut step: impl FnMut() -> Result<T>,
    ) -> Result<Vec<T>> {
        self.world.barrier();
        if who == Who::Rank0 && self.rank != 0 {
            return Ok(vec![T::default(); plan.iters]);
        }
        for _ in 0..plan.warmup {
            step()?;
        }
        (0..plan.iters).map(|_| step()).collect()
    }

    /// Gathers the samples to rank 0 and records a row there (collective).
    /// `bytes` (per iteration) gives the throughput column.
    pub fn record(
        &mut self,
        op: Op,
        implementation: &str,
        size: Option<usize>,
        samples: &[f64],
        reduce: Reduce,
        bytes: Option<usize>,
    ) {
        let root = self.world.process_at_rank(0);
        if self.rank != 0 {
            root.gather_into(samples);
            return;
        }
        let n = samples.len();
        let mut all = vec![0.0f64; n * self.size as usize];
        root.gather_into_root(samples, &mut all[..]);
        let mut dist: Vec<f64> = match reduce {
            Reduce::Rank0 => all[..n].to_vec(),
            Reduce::Max => (0..n)
                .map(|i| {
                    (0..self.size as usize)
                        .map(|r| all[r * n + i])
                        .fold(0.0, f64::max)
                })
                .collect(),
            Reduce::Pool => all,
        };
        let (median, p10, p90) = percentiles(&mut dist);
        self.push(Row {
            suite: self.suite.to_string(),
            op: op.to_string(),
            implementation: implementation.to_string(),
            ranks: self.size,
            size,
            median_us: Some(median),
            p10_us: Some(p10),
            p90_us: Some(p90),
            // bytes per µs = MB/s (10^6 bytes per second).
            throughput_mb_s: bytes.map(|b| b as f64 / median),
            count: None,
        });
    }

    /// Records a row with only a count (rank 0 only does anything).
    pub fn record_count(&mut self, op: Op, implementation: &str, count: f64) {
        if self.rank == 0 {
            self.push(Row {
                suite: self.suite.to_string(),
                op: op.to_string(),
                implementation: implementation.to_string(),
                ranks: self.size,
                count: Some(count),
                ..Row::default()
            });
        }
    }

    /// Prints `row` (the run's stdout) and keeps it for the CSV.
    fn push(&mut self, row: Row) {
        println!(
            "{:<9} {:<28} {:<8} ranks={:<2} size={:<9} median={:>10} p10={:>10} p90={:>10} MB/s={:>10} count={}",
            row.suite,
            row.op,
            row.implementation,
            row.ranks,
            row.size.map(|s| s.to_string()).unwrap_or_default(),
            decimals(row.median_us),
            decimals(row.p10_us),
            decimals(row.p90_us),
            decimals(row.throughput_mb_s),
            decimals(row.count),
        );
        self.rows.push(row);
    }

    /// Appends the rows to the CSV file of `--out` (rank 0).
    pub fn write_csv(&self) -> Result<()> {
        match (&self.cfg.out, self.rank) {
            (Some(path), 0) => row::append(path, &self.rows),
            _ => Ok(()),
        }
    }
}

/// One side of [`Ctx::measure_paired`]: `setup` runs untimed before each
/// timed `run`.
pub struct Timed<S, R> {
    /// Prepares an iteration (untimed).
    pub setup: S,
    /// The timed operation.
    pub run: R,
}

impl<S: FnMut() -> Result<()>, R: FnMut() -> Result<()>> Timed<S, R> {
    /// Runs one iteration, `setup` then `calls` calls of `run`, and returns
    /// the mean time of a call, in µs.
    fn time(&mut self, ctx: &Ctx<'_>, who: Who, calls: usize) -> Result<f64> {
        (self.setup)()?;
        if who == Who::AllBarrier {
            ctx.world.barrier();
        }
        let t = Instant::now();
        for _ in 0..calls {
            (self.run)()?;
        }
        Ok(t.elapsed().as_secs_f64() * 1e6 / calls as f64)
    }
}
