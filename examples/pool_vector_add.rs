//! pydsm's vector-add example: C = A + B, each worker adding its own block
//! of indices, with the arrays shared by name.
//!
//! ```text
//! mpirun -np 4 target/debug/examples/pool_vector_add
//! Check out vector C in processes:  [1, 3, 5, 7, 9, 11, 13, 15, 17, 19]
//! ```
//!
//! pydsm's main process creates the shared arrays "A", "B" and "C", fills
//! A and B, and runs `add` on 4 workers; each takes its indices with
//! `splitIndices(n, id)` and writes `C[myidxs] = A[myidxs] + B[myidxs]`;
//! after a barrier, worker 1 prints C. Here every rank is a worker: the
//! code around `run` is pydsm's main process, run by every rank (writes to
//! a shared array are collective, from one source rank), and the workers'
//! writes to C are collective too (`set_each`: one write per worker, in
//! turn, each worker the source of its own block).

use mpi::traits::*;
use mpi_pool::{Cluster, PoolError};
use ndarray::{aview1, Array1};

/// pydsm's vector add: C = A + B over the ranks, with named shared arrays.
/// Takes no arguments.
#[derive(clap::Parser)]
#[command(
    name = "pool_vector_add",
    override_usage = "mpirun -np <ranks> pool_vector_add"
)]
struct Args;

/// The vectors' length, as in pydsm's example.
const N: usize = 10;

fn main() -> anyhow::Result<()> {
    // Before MPI_Init: a bad command line fails at once, launcher or not.
    let Args = mpi_cli::parse();
    let universe =
        mpi::initialize().ok_or_else(|| anyhow::anyhow!("MPI is already initialised"))?;
    shm_core::abort_on_panic();
    let world = universe.world();

    // pydsm: A = cluster.createShared(name = "A", shape = 10, dataType = int)
    let mut cluster = Cluster::new(&world)?;
    for name in ["A", "B", "C"] {
        cluster.create_shared::<i64>(name, &[N])?;
    }
    // A[:] = np.arange(10); B[:] = np.arange(10) + 1; from rank 0.
    let a = Array1::from_iter(0..N as i64);
    let b = &a + 1;
    let root = world.rank() == 0;
    cluster
        .shared_mut::<i64>("A")?
        .set(root.then_some(&a), &[0], 0)?;
    cluster
        .shared_mut::<i64>("B")?
        .set(root.then_some(&b), &[0], 0)?;

    // cluster.runProcesses(add, paras=(10,))
    cluster.run(|res| add(res, N))?;
    cluster.close()?;
    Ok(())
}

/// pydsm's `add(resource, n)`.
fn add(res: &mut mpi_pool::Resources<'_>, n: usize) -> Result<(), PoolError> {
    let myidxs = res.split_indices(n, None);
    let c: Vec<i64> = {
        let (a, b) = (
            res.shared::<i64>("A")?.view(),
            res.shared::<i64>("B")?.view(),
        );
        myidxs.iter().map(|&i| a[i] + b[i]).collect()
    };
    // C[myidxs] = A[myidxs] + B[myidxs]: a contiguous block per worker.
    let start = myidxs.first().copied().unwrap_or(0);
    res.set_each("C", &aview1(&c), &[start])?;

    res.barrier()?;
    if res.id() == 1 % res.workers() {
        let c = res
            .shared::<i64>("C")?
            .view()
            .iter()
            .copied()
            .collect::<Vec<_>>();
        println!("Check out vector C in processes:  {c:?}");
    }
    Ok(())
}
