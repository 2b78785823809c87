//! `rma-bench`: an OSU-style benchmark harness for the toolkit.
//!
//! ```text
//! mpirun -np 4 rma-bench [--suite raw|shm-core|mpi-lock|dsm-kv|all] [--quick]
//!                        [--large] [--op NAME[,NAME..]] [--out FILE]
//! rma-bench report FILE [--outdir DIR]
//! ```
//!
//! Each operation gets a warm-up and many timed iterations; a row reports the
//! median and the 10th/90th percentiles of the per-iteration times. See
//! `docs/benchmarks.md` for what each operation measures.

#[path = "cli/mod.rs"]
mod cli;
#[path = "rma_bench/harness.rs"]
mod harness;
#[path = "rma_bench/kv.rs"]
mod kv;
#[path = "rma_bench/lock.rs"]
mod lock;
#[path = "rma_bench/raw.rs"]
mod raw;
#[path = "rma_bench/report.rs"]
mod report;
#[path = "rma_bench/shm.rs"]
mod shm;

use anyhow::Result;
use std::io::Write;

const USAGE: &str = "\
usage: rma-bench [--suite raw|shm-core|mpi-lock|dsm-kv|all] [--quick] [--large]
                 [--op NAME[,NAME..]] [--out FILE]
       rma-bench report FILE [--outdir DIR]

Run the first form under mpirun (2 or more ranks). It prints one line per
result, a progress line per operation on stderr, and appends CSV rows to FILE
(columns: suite,op,impl,ranks,size,median_us,p10_us,p90_us,throughput_mb_s,count).
  --suite   suites to run, comma-separated (default: all)
  --quick   tiny iteration counts (smoke test)
  --large   adds the 10^8-element sizes
  --op      runs only the named operations
The second form reads the CSV and writes results.md and PNG plots to DIR
(default: the CSV's directory), and prints the summary against the targets.";

/// What the command line asks for.
enum Command {
    Run(harness::Config),
    Report(report::Args),
}

fn parse(args: &[String]) -> Result<Command, String> {
    if args.first().map(String::as_str) == Some("report") {
        report::parse_args(&args[1..])
            .map(Command::Report)
            .map_err(|e| e.to_string())
    } else {
        harness::parse_run(args)
            .map(Command::Run)
            .map_err(|e| e.to_string())
    }
}

fn main() {
    // Before MPI_Init: a bad command line fails at once, launcher or not.
    let cfg = match cli::parse_or_exit("rma-bench", USAGE, parse) {
        Command::Run(cfg) => cfg,
        Command::Report(args) => {
            if let Err(e) = report::run(&args) {
                eprintln!("rma-bench report: {e:#}");
                std::process::exit(1);
            }
            return;
        }
    };
    let Some(universe) = mpi::initialize() else {
        eprintln!("rma-bench: MPI was already initialised");
        std::process::exit(1);
    };
    let world = universe.world();
    let mut ctx = harness::Ctx::new(&world, &cfg);
    if let Err(e) = run(&mut ctx) {
        eprintln!("rma-bench: rank {}: {e:#}", ctx.rank);
        let _ = std::io::stderr().flush();
        // SAFETY: MPI is initialised; aborting ends every rank, which would
        // otherwise wait forever in the next collective.
        unsafe { mpi::ffi::MPI_Abort(mpi::ffi::RSMPI_COMM_WORLD, 1) };
    }
}

fn run(ctx: &mut harness::Ctx) -> Result<()> {
    for suite in ctx.cfg.suites.clone() {
        match suite.as_str() {
            "raw" => raw::run(ctx)?,
            "shm-core" => shm::run(ctx)?,
            "mpi-lock" => lock::run(ctx)?,
            "dsm-kv" => kv::run(ctx)?,
            _ => unreachable!("checked by parse_run"),
        }
    }
    ctx.write_csv()
}
