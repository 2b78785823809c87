//! Serialising a section across ranks with `MpiLock`, as in pshmem's README
//! (`with MPILock(comm) as lock: lock.lock(); ...; lock.unlock()`).
//!
//! ```text
//! mpirun -np 4 target/debug/examples/lock_serialize
//! ```
//!
//! Every rank takes the lock twice and, while holding it, does some
//! "exclusive" work (here: print a line and sleep a little, standing for a
//! write to a file that does not support parallel writers). The turn printed
//! is the lock's ticket: the order in which the requests reached the waiting
//! list, which is the order in which the lock is granted.

use mpi::collective::SystemOperation;
use mpi::traits::*;
use mpi_lock::MpiLock;
use std::io::Write;
use std::time::Duration;

/// Every rank takes an MpiLock twice and prints its turn while holding it.
/// Takes no arguments.
#[derive(clap::Parser)]
#[command(
    name = "lock_serialize",
    override_usage = "mpirun -np <ranks> lock_serialize"
)]
struct Args;

fn main() -> anyhow::Result<()> {
    // Before MPI_Init: a bad command line fails at once, launcher or not.
    let Args = mpi_cli::parse();
    let universe =
        mpi::initialize().ok_or_else(|| anyhow::anyhow!("MPI was already initialised"))?;
    let world = universe.world();
    let rank = world.rank();

    // Collective: every rank creates the lock (the waiting list is on rank 0).
    let lock = MpiLock::new(&world)?;

    for _ in 0..2 {
        let guard = lock.lock()?;
        // Only one rank at a time runs this section.
        println!("rank {rank} holds the lock (turn {})", guard.ticket());
        std::io::stdout().flush()?;
        std::thread::sleep(Duration::from_millis(20));
        guard.unlock()?;
    }

    // The cost of the lock does not depend on the number of ranks.
    let stats = lock.stats();
    let mut total_ops = 0u64;
    let mut total_acquisitions = 0u64;
    world.all_reduce_into(&stats.remote_ops, &mut total_ops, SystemOperation::sum());
    world.all_reduce_into(
        &stats.acquisitions,
        &mut total_acquisitions,
        SystemOperation::sum(),
    );
    if rank == 0 {
        println!(
            "{} ranks, {total_acquisitions} acquisitions, {:.2} remote RMA operations per lock+unlock",
            world.size(),
            total_ops as f64 / total_acquisitions.max(1) as f64
        );
    }

    // Collective: frees the lock's window and communicator.
    lock.close()?;
    Ok(())
}
