//! The races of dsm-kv's protocol held open on purpose: a rank is stopped
//! inside an operation (`dsm_kv::fault`, a hook at a point of the protocol)
//! while another rank frees the variable and reuses its descriptor or slots.
//! A protocol step done in the wrong order (an integer read that trusts the
//! state it saw before the value, a free that does not wait for pins) fails
//! these tests on every run, on both paths to the data, where the random
//! stress tests of tests/kv.rs catch it only now and then.

mod common;

use common::sleep_with_progress;
use dsm_kv::fault::{self, Point};
use dsm_kv::{Access, Config, DistributedMemory, Error, Value, Var};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long the stopped rank stays stopped; the other rank acts after
/// `ACT_AFTER`, well inside it.
const HOLD: Duration = Duration::from_millis(300);
const ACT_AFTER: Duration = Duration::from_millis(60);

/// Rank 0's handle on every rank.
fn share(world: &SimpleCommunicator, var: Option<Var>) -> Var {
    let mut words = var.map_or([0; 2], Var::to_words);
    world.process_at_rank(0).broadcast_into(&mut words[..]);
    Var::from_words(words)
}

/// A hook that holds the rank (making MPI progress) the first time it
/// reaches `at`.
fn hold_once(at: Point) -> fn(Point) {
    static HELD: AtomicBool = AtomicBool::new(false);
    HELD.store(false, Ordering::SeqCst);
    match at {
        Point::BetweenIntReads => |p| {
            if p == Point::BetweenIntReads && !HELD.swap(true, Ordering::SeqCst) {
                sleep_with_progress(&SimpleCommunicator::world(), HOLD);
            }
        },
        _ => |p| {
            if p == Point::Pinned && !HELD.swap(true, Ordering::SeqCst) {
                sleep_with_progress(&SimpleCommunicator::world(), HOLD);
            }
        },
    }
}

fn memory(world: &SimpleCommunicator, access: Access, config: Config) -> DistributedMemory {
    DistributedMemory::with_access(world, config, access).unwrap()
}

mpi_test!(fn an_int_read_held_while_its_variable_is_freed_and_reused(world, 4) {
    let rank = world.rank();
    let mut freed_reads = 0;
    for access in [Access::Rma, Access::Mixed, Access::Auto] {
        // 3 hosts of 2 descriptors: once the master fills all 6, the one
        // freed is the one the next integer gets.
        let mem = memory(world, access, Config { vars_per_slave: Some(2), ..Config::new(4) });
        let vars: Vec<Var> = (0..6)
            .map(|i| share(world, mem.is_master().then(|| mem.add(100 + i).unwrap())))
            .collect();
        let x = vars[0];
        world.barrier();
        match rank {
            1 => {
                // Stopped between the value and the state word.
                fault::set_hook(Some(hold_once(Point::BetweenIntReads)));
                let got = mem.read(&x);
                fault::set_hook(None);
                match got {
                    Err(Error::Freed(v)) if v == x => freed_reads += 1,
                    Ok(Value::Int(100)) => {} // read before the free began: fine
                    other => panic!("{access:?}: a read of {x} returned {other:?}"),
                }
            }
            2 => {
                sleep_with_progress(world, ACT_AFTER);
                mem.free(x).unwrap();
                let y = mem.add(-5).unwrap();
                assert_eq!(mem.free_descriptors().unwrap(), 0, "{y} reused {x}'s descriptor");
            }
            _ => {}
        }
        world.barrier();
        mem.quit().unwrap();
    }
    // Rank 1 read while rank 2 freed and reused, on at least one path (the
    // hold makes it every run unless the machine stalls rank 2 for 240 ms).
    let mut total = 0;
    world.all_reduce_into(&freed_reads, &mut total, mpi::collective::SystemOperation::sum());
    assert!(total >= 1, "the free never landed inside the held read");
});

mpi_test!(fn a_modify_held_pinned_while_its_variable_is_freed_and_reused(world, 4) {
    let rank = world.rank();
    for access in [Access::Rma, Access::Mixed, Access::Auto] {
        let mem = memory(world, access, Config::new(12));
        let list = share(world, mem.is_master().then(|| mem.add(vec![0; 30]).unwrap()));
        world.barrier();
        match rank {
            1 => {
                // Pinned, then stopped before its write.
                fault::set_hook(Some(hold_once(Point::Pinned)));
                let done = mem.modify(&list, 1, 7).unwrap();
                fault::set_hook(None);
                assert!(done, "{access:?}: the variable was pinned before the free began");
                world.barrier();
            }
            0 => {
                sleep_with_progress(world, ACT_AFTER);
                // Must wait for rank 1's pin, so its write lands before the
                // slots are reused.
                mem.free(list).unwrap();
                let next = mem.add(vec![-7; 30]).unwrap();
                world.barrier();
                assert_eq!(
                    mem.read(&next).unwrap(),
                    Value::List(vec![-7; 30]),
                    "{access:?}: a pinned modify wrote into the next variable"
                );
                mem.free(next).unwrap();
            }
            _ => world.barrier(),
        }
        world.barrier();
        mem.quit().unwrap();
    }
});
