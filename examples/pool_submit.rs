//! pympipool's futures example: submit four tasks, see that none is done
//! yet, then print their results.
//!
//! ```text
//! mpirun -np 3 target/debug/examples/pool_submit
//! [false, false, false, false]
//! [1, 4, 9, 16]
//! ```
//!
//! Started without `mpirun`, it spawns `--workers` workers (2) of itself.
//!
//! The driver hands work out whenever it calls into the pool, so the first
//! line holds: right after `submit`, no result has come back yet (each
//! task sleeps 50 ms). `wait_all` then waits for the four, and
//! `Future::result` decodes each.

use mpi_pool::{wait_all, Pool, PoolOptions, Registry};
use std::time::Duration;

/// Submits `i -> i * i` for i in [1, 2, 3, 4] to a pool of MPI workers,
/// prints whether each is done, then the results (on rank 0).
#[derive(clap::Parser)]
#[command(
    name = "pool_submit",
    override_usage = "mpirun -np <ranks, at least 2> pool_submit\n       pool_submit [--workers <n>]"
)]
struct Args {
    /// How many workers to spawn when started without mpirun (as a single
    /// process); under mpirun every rank but 0 is a worker.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(i32).range(1..))]
    workers: i32,
}

fn main() -> anyhow::Result<()> {
    // Before MPI_Init: a bad command line fails at once, launcher or not.
    let args: Args = mpi_cli::parse();
    let universe =
        mpi::initialize().ok_or_else(|| anyhow::anyhow!("MPI was already initialised"))?;
    let world = universe.world();

    let mut registry = Registry::new();
    let calc = registry.register("calc", |i: i64| {
        std::thread::sleep(Duration::from_millis(50));
        Ok::<_, String>(i * i)
    });

    let pool = Pool::new_or_spawn(&world, args.workers, registry, PoolOptions::default())?;
    pool.run(|driver| {
        let futures = [1, 2, 3, 4]
            .into_iter()
            .map(|i| driver.submit(&calc, i))
            .collect::<Result<Vec<_>, _>>()?;
        println!("{:?}", futures.iter().map(|f| f.done()).collect::<Vec<_>>());
        wait_all(&futures)?;
        let results = futures
            .into_iter()
            .map(|f| f.result())
            .collect::<Result<Vec<_>, _>>()?;
        println!("{results:?}");
        Ok(())
    })?;
    Ok(())
}
