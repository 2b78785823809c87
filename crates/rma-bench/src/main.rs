//! `rma-bench`: an OSU-style benchmark harness for the toolkit.
//!
//! ```text
//! mpirun -np 4 rma-bench [--suite raw|shm-core|mpi-lock|dsm-kv|pool|all] [--quick]
//!                        [--large] [--op NAME[,NAME..]] [--out FILE]
//! rma-bench report FILE [--outdir DIR]
//! ```
//!
//! Each operation gets a warm-up and many timed iterations; a row reports the
//! median and the 10th/90th percentiles of the per-iteration times. See
//! `docs/benchmarks.md` for what each operation measures.

#![warn(missing_docs)]

mod cli;
mod config;
mod harness;
mod plot;
mod report;
mod row;
mod suites;

use anyhow::Result;
use clap::error::ErrorKind;
use mpi::traits::*;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Before MPI_Init: a bad command line fails at once, launcher or not.
    let cli: cli::Cli = mpi_cli::parse();
    if let Some(cli::Command::Report(args)) = &cli.command {
        return match report::run(&args.csv, &args.outdir()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("rma-bench report: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let config = cli.run.config().unwrap_or_else(|message| {
        mpi_cli::reject::<cli::Cli>(ErrorKind::ArgumentConflict, message)
    });
    let Some(universe) = mpi::initialize() else {
        eprintln!("rma-bench: MPI was already initialised");
        return ExitCode::FAILURE;
    };
    let world = universe.world();
    let mut ctx = harness::Ctx::new(&world, &config);
    if let Err(e) = run(&mut ctx) {
        eprintln!("rma-bench: rank {}: {e:#}", ctx.rank);
        let _ = std::io::stderr().flush();
        // Ends every rank, which would otherwise wait forever in the next
        // collective.
        world.abort(1);
    }
    ExitCode::SUCCESS
}

fn run(ctx: &mut harness::Ctx) -> Result<()> {
    let cfg = ctx.cfg;
    for &suite in &cfg.suites {
        suite.run(ctx)?;
    }
    ctx.write_csv()
}
