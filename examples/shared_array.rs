//! pshmem's README example, in Rust: a (3, 5) array of f64 replicated on every
//! node, written by `set` and by the single-source `assign`, read by every
//! rank through a zero-copy view.
//!
//! ```text
//! mpirun -np 4 target/release/examples/shared_array
//! ```

use mpi::traits::*;
use ndarray::array;
use shm_core::MpiShared;

/// pshmem's README example: a (3, 5) array of f64 replicated on every
/// node, written by set and assign, printed by every rank. Takes no
/// arguments.
#[derive(clap::Parser)]
#[command(
    name = "shared_array",
    override_usage = "mpirun -np <ranks> shared_array"
)]
struct Args;

fn main() -> anyhow::Result<()> {
    // Before MPI_Init: a bad command line fails at once, launcher or not.
    let Args = mpi_cli::parse();
    let universe =
        mpi::initialize().ok_or_else(|| anyhow::anyhow!("MPI is already initialised"))?;
    shm_core::abort_on_panic();
    let comm = universe.world();
    let rank = comm.rank();

    // Collective: one copy per node, zero-initialised. Closed when dropped
    // (or explicitly with `close()`, which reports errors).
    let mut shm = MpiShared::<f64>::new(&[3, 5], &comm)?;
    if rank == 0 {
        println!("String representation:\n");
        println!("{shm}");
        println!("\n===== Initialized Data =====");
    }
    in_rank_order(&comm, |p| println!("rank {p}:\n{:.1}", shm.view()));

    // `set` is collective, but the inputs only matter on `fromrank`.
    let set_data = (rank == 0).then(|| array![[0., 1., 2.], [3., 4., 5.]]);
    let set_offset = [1, 1];
    shm.set(set_data.as_ref(), &set_offset, 0)?;

    // pshmem's `shm[offset] = data`: exactly one rank passes data; one more
    // collective step finds out which.
    shm.assign(set_data.as_ref(), &set_offset)?;

    if rank == 0 {
        println!("======= Updated Data =======");
    }
    in_rank_order(&comm, |p| println!("rank {p}:\n{:.1}", shm.view()));

    // Every process reads the node-local copy directly.
    if rank == comm.size() - 1 {
        println!("==== Read-only access ======");
        let view = shm.view();
        println!("rank {rank}: shm[2, 3] = {:?}", view[[2, 3]]);
        println!("rank {rank}: shm.data =\n{view:.1}");
    }
    shm.close()?;
    Ok(())
}

/// Runs `f` on one rank at a time, in rank order.
fn in_rank_order(comm: &impl Communicator, f: impl Fn(i32)) {
    for p in 0..comm.size() {
        if p == comm.rank() {
            f(p);
            use std::io::Write;
            std::io::stdout().flush().ok();
        }
        comm.barrier();
    }
}
