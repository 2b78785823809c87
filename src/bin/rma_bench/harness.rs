//! The measuring harness: configuration, iteration plans, timing, the
//! percentile summary and the CSV rows.
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

use anyhow::{bail, Context, Result};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// The CSV header; the column order is part of the output format.
pub const HEADER: &str = "suite,op,impl,ranks,size,median_us,p10_us,p90_us,throughput_mb_s,count";

/// The suites, in the order `--suite all` runs them.
pub const SUITES: [&str; 4] = ["raw", "shm-core", "mpi-lock", "dsm-kv"];

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct Config {
    /// The suites to run.
    pub suites: Vec<String>,
    /// Tiny iteration counts, for the smoke test.
    pub quick: bool,
    /// Adds the 10^8-element sizes.
    pub large: bool,
    /// Appends the rows to this CSV file (rank 0 only).
    pub out: Option<PathBuf>,
    /// Runs only these ops (all when empty).
    pub ops: Vec<String>,
}

/// How many iterations an operation gets.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Untimed iterations first.
    pub warmup: usize,
    /// Timed iterations.
    pub iters: usize,
}

impl Config {
    /// The plan for an operation on `size` elements (`None`: a synchronisation
    /// operation with no payload).
    pub fn plan(&self, size: Option<usize>) -> Plan {
        let n = size.unwrap_or(1);
        match (self.quick, n) {
            (true, n) if n >= 1_000_000 => Plan {
                warmup: 1,
                iters: 3,
            },
            (true, _) => Plan {
                warmup: 2,
                iters: 10,
            },
            (false, n) if n >= 100_000_000 => Plan {
                warmup: 1,
                iters: 5,
            },
            (false, n) if n >= 1_000_000 => Plan {
                warmup: 3,
                iters: 40,
            },
            (false, _) => Plan {
                warmup: 100,
                iters: 1000,
            },
        }
    }

    /// The plan for an operation that is expensive per call (creating
    /// windows, contended locks on oversubscribed cores).
    pub fn plan_slow(&self) -> Plan {
        if self.quick {
            Plan {
                warmup: 1,
                iters: 5,
            }
        } else {
            Plan {
                warmup: 10,
                iters: 200,
            }
        }
    }

    /// The element counts of the size sweeps.
    pub fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![1, 1_000, 1_000_000];
        if self.large {
            sizes.push(100_000_000);
        }
        sizes
    }
}

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

/// One CSV row.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub suite: String,
    pub op: String,
    pub imp: String,
    pub ranks: i32,
    pub size: Option<usize>,
    pub median_us: Option<f64>,
    pub p10_us: Option<f64>,
    pub p90_us: Option<f64>,
    pub throughput_mb_s: Option<f64>,
    pub count: Option<f64>,
}

fn cell(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.3}")).unwrap_or_default()
}

impl Row {
    /// The row as a CSV line (no newline).
    pub fn csv(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},{},{},{}",
            self.suite,
            self.op,
            self.imp,
            self.ranks,
            self.size.map(|s| s.to_string()).unwrap_or_default(),
            cell(self.median_us),
            cell(self.p10_us),
            cell(self.p90_us),
            cell(self.throughput_mb_s),
            cell(self.count),
        )
    }
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

/// The state of one run: the communicator, the configuration, progress.
pub struct Ctx<'a> {
    pub world: &'a SimpleCommunicator,
    pub rank: i32,
    pub size: i32,
    pub cfg: &'a Config,
    suite: &'static str,
    ops: Vec<&'static str>,
    rows: Vec<Row>,
}

impl<'a> Ctx<'a> {
    pub fn new(world: &'a SimpleCommunicator, cfg: &'a Config) -> Self {
        Ctx {
            world,
            rank: world.rank(),
            size: world.size(),
            cfg,
            suite: "",
            ops: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// Starts a suite made of `ops` (for the progress line).
    pub fn suite(&mut self, suite: &'static str, ops: &[&'static str]) {
        self.suite = suite;
        self.ops = ops
            .iter()
            .copied()
            .filter(|op| self.cfg.ops.is_empty() || self.cfg.ops.iter().any(|o| o == op))
            .collect();
    }

    /// `true` if `op` is to run; prints the progress line on rank 0.
    pub fn op(&self, op: &str) -> bool {
        let Some(i) = self.ops.iter().position(|o| *o == op) else {
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
    pub fn measure(&self, who: Who, plan: Plan, f: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
        self.measure_with(who, plan, || Ok(()), f)
    }

    /// As [`measure`](Self::measure), running the untimed `setup` before
    /// each iteration (for operations that consume their input).
    pub fn measure_with(
        &self,
        who: Who,
        plan: Plan,
        mut setup: impl FnMut() -> Result<()>,
        mut f: impl FnMut() -> Result<()>,
    ) -> Result<Vec<f64>> {
        let mut samples = vec![0.0; plan.iters];
        self.world.barrier();
        if who == Who::Rank0 && self.rank != 0 {
            return Ok(samples);
        }
        for _ in 0..plan.warmup {
            setup()?;
            if who == Who::AllBarrier {
                self.world.barrier();
            }
            f()?;
        }
        for s in samples.iter_mut() {
            setup()?;
            if who == Who::AllBarrier {
                self.world.barrier();
            }
            let t = Instant::now();
            f()?;
            *s = t.elapsed().as_secs_f64() * 1e6;
        }
        Ok(samples)
    }

    /// Gathers the samples to rank 0 and records a row there (collective).
    /// `bytes` (per iteration) gives the throughput column.
    pub fn record(
        &mut self,
        op: &str,
        imp: &str,
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
            imp: imp.to_string(),
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
    pub fn record_count(&mut self, op: &str, imp: &str, count: f64) {
        if self.rank == 0 {
            self.push(Row {
                suite: self.suite.to_string(),
                op: op.to_string(),
                imp: imp.to_string(),
                ranks: self.size,
                count: Some(count),
                ..Row::default()
            });
        }
    }

    fn push(&mut self, row: Row) {
        println!(
            "{:<9} {:<28} {:<8} ranks={:<2} size={:<9} median={:>10} p10={:>10} p90={:>10} MB/s={:>10} count={}",
            row.suite,
            row.op,
            row.imp,
            row.ranks,
            row.size.map(|s| s.to_string()).unwrap_or_default(),
            cell(row.median_us),
            cell(row.p10_us),
            cell(row.p90_us),
            cell(row.throughput_mb_s),
            cell(row.count),
        );
        self.rows.push(row);
    }

    /// Appends the rows to the CSV file (rank 0), writing the header first if
    /// the file is new or empty.
    pub fn write_csv(&self) -> Result<()> {
        let (Some(path), 0) = (&self.cfg.out, self.rank) else {
            return Ok(());
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let fresh = std::fs::metadata(path)
            .map(|m| m.len() == 0)
            .unwrap_or(true);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        let mut text = String::new();
        if fresh {
            text.push_str(HEADER);
            text.push('\n');
        }
        for row in &self.rows {
            text.push_str(&row.csv());
            text.push('\n');
        }
        file.write_all(text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

/// Parses the run arguments (everything but `report`).
pub fn parse_run(args: &[String]) -> Result<Config> {
    let mut cfg = Config {
        suites: Vec::new(),
        quick: false,
        large: false,
        out: None,
        ops: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .with_context(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--quick" => cfg.quick = true,
            "--large" => cfg.large = true,
            "--suite" => {
                let v = value("--suite")?;
                for s in v.split(',') {
                    if s == "all" {
                        cfg.suites.extend(SUITES.iter().map(|s| s.to_string()));
                    } else if SUITES.contains(&s) {
                        cfg.suites.push(s.to_string());
                    } else {
                        bail!("unknown suite {s:?}");
                    }
                }
            }
            "--out" => cfg.out = Some(PathBuf::from(value("--out")?)),
            "--op" => cfg
                .ops
                .extend(value("--op")?.split(',').map(str::to_string)),
            other => bail!("unknown argument {other:?}"),
        }
    }
    if cfg.suites.is_empty() {
        cfg.suites.extend(SUITES.iter().map(|s| s.to_string()));
    }
    cfg.suites.dedup();
    // An --op that names nothing would silently measure nothing.
    for op in &cfg.ops {
        let in_suite = |s: &str| suite_ops(s).contains(&op.as_str());
        if cfg.suites.iter().any(|s| in_suite(s)) {
            continue;
        }
        match SUITES.iter().find(|s| in_suite(s)) {
            Some(suite) => {
                bail!("operation {op:?} belongs to suite {suite}, which is not selected")
            }
            None => bail!("unknown operation {op:?}"),
        }
    }
    Ok(cfg)
}

/// The operations of a suite, in the order it runs them.
fn suite_ops(suite: &str) -> &'static [&'static str] {
    match suite {
        "raw" => &crate::raw::OPS,
        "shm-core" => &crate::shm::OPS,
        "mpi-lock" => &crate::lock::OPS,
        "dsm-kv" => &crate::kv::OPS,
        _ => &[],
    }
}
