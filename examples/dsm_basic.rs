//! The seed README's example on the distributed memory, master-driven, plus
//! one SPMD step where every rank writes its own element of a shared list.
//!
//! ```text
//! mpirun -np 4 target/debug/examples/dsm_basic
//! ```

use dsm_kv::Var;
use mpi::traits::*;

/// The seed README's example on the distributed memory (add, read, map,
/// reduce, filter, free), then every rank writes one element of a shared
/// list. Takes no arguments.
#[derive(clap::Parser)]
#[command(
    name = "dsm_basic",
    override_usage = "mpirun -np <ranks, at least 2> dsm_basic"
)]
struct Args;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Before MPI_Init: a bad command line fails at once, launcher or not.
    let Args = mpi_cli::parse();
    let universe = mpi::initialize().ok_or("MPI was already initialised")?;
    let world = universe.world();
    // Collective: every rank but 0 lends 10 slots.
    let mem = dsm_kv::init_memory(&world, 10)?;

    // Master-driven: only rank 0 operates.
    let mut words = [0i64; 2];
    if mem.is_master() {
        let var = mem.add(vec![1, 2, 3])?;
        println!("{}", mem.read(&var)?); // [1, 2, 3]
        mem.map(&var, |x| x + 1)?;
        println!("{}", mem.read(&var)?); // [2, 3, 4]
        println!("{}", mem.reduce(&var, |x, y| x + y, 0)?); // 9
        mem.filter(&var, |x| x % 2 == 0)?;
        println!("{}", mem.read(&var)?); // [2, 4]
        mem.free(var)?;

        let shared = mem.add(vec![0; world.size() as usize])?;
        words = shared.to_words();
    }

    // SPMD: the handle travels as two words, then every rank writes at once.
    world.process_at_rank(0).broadcast_into(&mut words[..]);
    let shared = Var::from_words(words);
    mem.modify(&shared, 100 + world.rank() as i64, world.rank() as usize)?;
    world.barrier();
    if mem.is_master() {
        println!("{}", mem.read(&shared)?); // [100, 101, 102, 103]
        mem.free(shared)?;
        println!("free slots: {} of {}", mem.free_slots()?, mem.capacity());
    }
    mem.quit()?;
    Ok(())
}
