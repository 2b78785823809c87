//! pympipool's first README example: a pool maps a function over
//! `[1, 2, 3, 4]` and the driver prints the squares.
//!
//! ```text
//! mpirun -np 3 target/debug/examples/pool_map
//! [1, 4, 9, 16]
//! target/debug/examples/pool_map          # spawns 2 workers (Open MPI)
//! [1, 4, 9, 16]
//! ```
//!
//! Rank 0 is the driver; the other ranks are workers that take the items
//! one at a time as they become free. With `--cores-per-task 2` (and an odd
//! number of ranks, so that the workers pair up) each task runs on two
//! ranks and also reports the size of its communicator and its rank there,
//! as in pympipool's `ranks.py`.

use mpi::traits::*;
use mpi_pool::{Pool, PoolOptions, Registry};

/// Maps `i -> i * i` over [1, 2, 3, 4] on a pool of MPI workers and prints
/// the results on the driver (rank 0).
#[derive(clap::Parser)]
#[command(
    name = "pool_map",
    override_usage = "mpirun -np <ranks, at least 2> pool_map [--cores-per-task <k>]\n       pool_map [--workers <n>] [--cores-per-task <k>]"
)]
struct Args {
    /// How many workers to spawn when started without mpirun (as a single
    /// process); under mpirun every rank but 0 is a worker.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(i32).range(1..))]
    workers: i32,
    /// How many worker ranks run each task together (must divide the
    /// number of ranks minus one).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    cores_per_task: u32,
}

fn main() -> anyhow::Result<()> {
    // Before MPI_Init: a bad command line fails at once, launcher or not.
    let args: Args = mpi_cli::parse();
    let universe =
        mpi::initialize().ok_or_else(|| anyhow::anyhow!("MPI was already initialised"))?;
    let world = universe.world();

    // The same registry on every rank: tasks travel by name.
    let mut registry = Registry::new();
    let square = registry.register("square", |i: i64| Ok::<_, String>(i * i));
    let with_ranks = registry.register_with_comm("with_ranks", |i: i64, comm: &_| {
        let comm: &mpi::topology::SimpleCommunicator = comm;
        Ok::<_, String>((i, comm.size(), comm.rank()))
    });

    let options = PoolOptions::default().cores_per_task(args.cores_per_task as usize);
    let pool = Pool::new_or_spawn(&world, args.workers, registry, options)?;
    let k = args.cores_per_task;
    // Collective: the driver runs the closure, the workers serve tasks.
    pool.run(|driver| {
        if k == 1 {
            println!("{:?}", driver.map(&square, [1, 2, 3, 4])?);
        } else {
            println!("{:?}", driver.map(&with_ranks, [1, 2, 3, 4])?);
        }
        Ok(())
    })?;
    Ok(())
}
