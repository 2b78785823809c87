//! The seed's demo on the distributed memory: stores `0..N`, squares every
//! element, removes the even ones and multiplies what remains.
//!
//! ```text
//! mpirun -np 5 dsm-demo --size 20 --verbose
//! ```
//!
//! Rank 0 (the master) runs the steps; the other ranks lend memory and wait.

#![warn(missing_docs)]

use clap::Parser;
use dsm_kv::{init_memory_with, Config, DistributedMemory, Var};
use mpi::traits::*;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

/// Stores the list 0..N in the distributed memory lent by ranks 1.., squares
/// every element, removes the even ones and multiplies the remaining ones.
#[derive(Parser, Debug)]
#[command(
    name = "dsm-demo",
    override_usage = "mpirun -np <ranks, at least 2> dsm-demo --size <N> [--verbose]"
)]
struct Args {
    /// Number of elements (0 or more)
    #[arg(
        short = 'n',
        long,
        value_name = "N",
        value_parser = parse_size,
        allow_negative_numbers = true
    )]
    size: usize,
    /// Print whole lists instead of a summary
    #[arg(short, long)]
    verbose: bool,
    /// Print each step's time on stderr (as at a terminal, where it is the
    /// default without --verbose)
    #[arg(long)]
    times: bool,
}

/// The list holds `0..N` as `i64`, so `N` must fit in one.
fn parse_size(value: &str) -> Result<usize, String> {
    value
        .parse::<i64>()
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("wants an integer from 0 to {}", i64::MAX))
}

/// Step reports on stderr: with --times, or for long runs at a terminal
/// without --verbose.
struct Progress {
    on: bool,
    started: Instant,
}

impl Progress {
    fn step(&mut self, what: &str) {
        if self.on {
            eprint!("  {what}... ");
            let _ = std::io::stderr().flush();
            self.started = Instant::now();
        }
    }

    fn done(&self) {
        if self.on {
            eprintln!("done in {:.2} s", self.started.elapsed().as_secs_f64());
        }
    }
}

fn show(mem: &DistributedMemory, var: &Var, verbose: bool) -> anyhow::Result<String> {
    if verbose {
        return Ok(mem.read(var)?.to_string());
    }
    // The summary needs two elements: read just those.
    let len = mem.len(var)?;
    if len == 0 {
        return Ok("an empty list".to_string());
    }
    let (first, last) = (
        mem.read_range(var, 0..1)?,
        mem.read_range(var, len - 1..len)?,
    );
    Ok(format!(
        "a list of {len} elements, from {} to {}",
        first[0], last[0]
    ))
}

fn master(mem: &DistributedMemory, args: &Args) -> anyhow::Result<()> {
    let n = args.size;
    let mut progress = Progress {
        on: args.times || (!args.verbose && std::io::stderr().is_terminal()),
        started: Instant::now(),
    };
    progress.step(&format!("storing {n} elements"));
    let var = mem.add((0..n as i64).collect::<Vec<_>>())?;
    progress.done();
    println!("Initial value: {}", show(mem, &var, args.verbose)?);

    progress.step("squaring");
    let mut overflow = false;
    mem.map(&var, |x| match x.checked_mul(x) {
        Some(square) => square,
        None => {
            overflow = true;
            x
        }
    })?;
    progress.done();
    if overflow {
        // Overflow would need elements beyond 3 * 10^9: say so and stop.
        println!("After squaring: overflow (a square does not fit in an i64)");
        mem.free(var)?;
        anyhow::bail!("the squares of 0..{n} overflow i64");
    }
    println!("After squaring: {}", show(mem, &var, args.verbose)?);

    progress.step("removing the even elements");
    mem.filter(&var, |x| x % 2 != 0)?;
    progress.done();
    println!(
        "After removing even integer: {}",
        show(mem, &var, args.verbose)?
    );

    progress.step("multiplying");
    let product = mem.reduce(
        &var,
        |acc: Option<i64>, x| acc.and_then(|a| a.checked_mul(x)),
        Some(1),
    )?;
    progress.done();
    match product {
        Some(p) => println!("Multiplication of the remaining elements: {p}"),
        None => println!("Multiplication of the remaining elements: overflow (the product does not fit in an i64)"),
    }
    mem.free(var)?;
    Ok(())
}

fn main() -> ExitCode {
    // Before MPI_Init: a bad command line fails at once, launcher or not.
    let args: Args = mpi_cli::parse();
    let Some(universe) = mpi::initialize() else {
        eprintln!("dsm-demo: MPI was already initialised");
        return ExitCode::FAILURE;
    };
    let world = universe.world();
    let rank = world.rank();
    let hosts = (world.size() as usize).saturating_sub(1).max(1);
    let config = Config {
        // Enough for the list, plus one slot per host of slack.
        max_per_slave: args.size.div_ceil(hosts) + 1,
        vars_per_slave: Some(16),
    };
    let mem = match init_memory_with(&world, config) {
        Ok(mem) => mem,
        Err(e) => {
            if rank == 0 {
                eprintln!("dsm-demo: {e}");
            }
            return ExitCode::FAILURE;
        }
    };
    let outcome = if mem.is_master() {
        master(&mem, &args)
    } else {
        Ok(())
    };
    // Tell everybody how the master did, so that all ranks exit alike.
    let mut failed = i32::from(outcome.is_err());
    world.process_at_rank(0).broadcast_into(&mut failed);
    if let Err(e) = &outcome {
        eprintln!("dsm-demo: {e:#}");
    }
    if let Err(e) = mem.quit() {
        eprintln!("dsm-demo (rank {rank}): {e}");
        return ExitCode::FAILURE;
    }
    if failed != 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
