//! Dynamic work distribution with `WorkQueue` (Global Arrays' NXTVAL, the
//! dynamic counterpart of `split_indices`): tasks of uneven cost handed out
//! in chunks to whichever rank asks next.
//!
//! ```text
//! mpirun -np 4 target/debug/examples/work_queue [--tasks N] [--chunk K]
//! ```
//!
//! Task `i` costs `i % 7` units of work (a short sleep each). Every rank
//! takes chunks until none is left, and rank 0 prints how many tasks each
//! rank did and checks that together they did every task exactly once.

use mpi::collective::SystemOperation;
use mpi::traits::*;
use mpi_lock::{LockError, WorkQueue};
use std::time::Duration;

/// Sums tasks of uneven cost over a WorkQueue and prints the share of each
/// rank.
#[derive(clap::Parser)]
#[command(
    name = "work_queue",
    override_usage = "mpirun -np <ranks> work_queue [--tasks <n>] [--chunk <k>]"
)]
struct Args {
    /// How many tasks (indices 0..n).
    #[arg(long, default_value_t = 200)]
    tasks: usize,
    /// How many tasks a rank takes at a time.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    chunk: u64,
}

fn main() -> anyhow::Result<()> {
    // Before MPI_Init: a bad command line fails at once, launcher or not.
    let args: Args = mpi_cli::parse();
    let universe =
        mpi::initialize().ok_or_else(|| anyhow::anyhow!("MPI was already initialised"))?;
    let world = universe.world();

    // Collective: every rank passes the same n and chunk.
    let queue = WorkQueue::new(&world, args.tasks, args.chunk as usize)?;
    let (mut done, mut sum) = (0u64, 0u64);
    queue.for_each(|range| {
        for i in range {
            // Uneven cost: a fast rank simply takes more chunks.
            std::thread::sleep(Duration::from_micros(50 * (i % 7) as u64));
            sum += i as u64;
            done += 1;
        }
        Ok::<(), LockError>(())
    })?;
    queue.close()?;

    let mut shares = vec![0u64; world.size() as usize];
    world.all_gather_into(&done, &mut shares[..]);
    let mut total = 0u64;
    world.all_reduce_into(&sum, &mut total, SystemOperation::sum());
    if world.rank() == 0 {
        let n = args.tasks as u64;
        println!("tasks done per rank: {shares:?}");
        anyhow::ensure!(
            shares.iter().sum::<u64>() == n && total == n * n.saturating_sub(1) / 2,
            "the ranks did not do every task exactly once"
        );
        println!("every one of the {n} tasks done exactly once");
    }
    Ok(())
}
